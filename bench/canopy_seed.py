"""Seed Canopy for the benchmark, and mint authorization codes for it.

Run with the bench environment (DJANGO_SETTINGS_MODULE, SECRET_KEY, DATABASE_URL, ...):

    .venv/bin/python bench/canopy_seed.py seed
    .venv/bin/python bench/canopy_seed.py mint-codes --n 20000 --out /tmp/codes.txt

``seed`` is idempotent: tenant ``bench``, user ``alice`` and the clients ``bench-cc`` and
``bench-web`` are created when missing (a client whose secret no longer matches gets the
bench secret again). On a database whose name contains "bench" it also deletes the tokens and
codes that earlier bench runs left in tenant ``bench``, so every run starts from the same
table sizes.

``mint-codes`` writes N rows of the swapped DOT grant model (as N sign-ins would) with
``bulk_create`` and writes one "code verifier" pair a line to --out. It first deletes the
bench client's earlier (unused) codes.
"""

# ruff: noqa: S105, S106  (bench-only fixed credentials; small internal helpers)

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.hashers import check_password  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from tenants.actors import SYSTEM  # noqa: E402
from tenants.models import Tenant, User  # noqa: E402
from tenants.services import tenant_create, user_create  # noqa: E402

TENANT_SLUG = "bench"
USERNAME = "alice"
PASSWORD = "alice-bench-pass"
REDIRECT_URI = "http://127.0.0.1:8765/callback"
CLIENTS = {
    "bench-cc": dict(
        client_type="confidential",
        grant_type="client_credentials",
        client_secret="bench-cc-secret",
        access_token_format="jwt",
        algorithm="RS256",
    ),
    "bench-web": dict(
        client_type="confidential",
        grant_type="authorization_code",
        redirect_uris=[REDIRECT_URI],
        client_secret="bench-web-secret",
        first_party=True,
        algorithm="RS256",
    ),
}


def _oidc_models():  # imported late: the lead's app may be mid-change; fail with a clear error
    from idp.oidc import models as m

    return m


def _is_bench_db() -> bool:
    return "bench" in str(connection.settings_dict.get("NAME", ""))


def prune(tenant: Tenant) -> dict[str, int]:
    """Delete the tokens and codes earlier bench runs left in the bench tenant."""
    m = _oidc_models()
    counts: dict[str, int] = {}
    # Django's PostgreSQL foreign keys are DEFERRABLE INITIALLY DEFERRED, so the cycle
    # access token <-> refresh token is fine inside one transaction.
    with transaction.atomic(), connection.cursor() as cur:
        for model in (m.RefreshToken, m.AccessToken, m.IDToken, m.Grant):
            cur.execute(f'DELETE FROM "{model._meta.db_table}" WHERE tenant_id = %s', [tenant.pk])  # noqa: S608
            counts[model.__name__] = cur.rowcount
    return counts


def seed() -> dict[str, object]:
    from idp.oidc.services import application_create

    m = _oidc_models()
    tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
    if tenant is None:
        tenant = tenant_create(actor=SYSTEM, slug=TENANT_SLUG)
    user = User.objects.filter(tenant=tenant, username=USERNAME).first()
    if user is None:
        user = user_create(
            actor=SYSTEM, tenant=tenant, username=USERNAME, password=PASSWORD, validate_password_strength=False
        )
    clients = {}
    for client_id, kwargs in CLIENTS.items():
        app = m.Application.objects.filter(client_id=client_id).first()
        if app is not None and app.tenant_id != tenant.pk:
            raise SystemExit(f"client {client_id} exists in another tenant (id {app.tenant_id}); use a fresh bench DB")
        if app is None:
            app, _ = application_create(actor=SYSTEM, tenant=tenant, client_id=client_id, **kwargs)
            clients[client_id] = "created"
        elif not check_password(kwargs["client_secret"], app.client_secret):
            app.client_secret = kwargs["client_secret"]  # DOT's field hashes it on save
            app.hash_client_secret = True
            app.save()
            clients[client_id] = "secret reset"
        else:
            clients[client_id] = "exists"
    pruned = prune(tenant) if _is_bench_db() else {}
    return {"tenant": tenant.pk, "user": user.pk, "clients": clients, "pruned": pruned}


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def mint_codes(n: int, out: Path) -> dict[str, object]:
    m = _oidc_models()
    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    user = User.objects.get(tenant=tenant, username=USERNAME)
    app = m.Application.objects.get(client_id="bench-web")
    deleted, _ = m.Grant.objects.filter(application=app).delete()
    now = timezone.now()
    expires = now + timedelta(minutes=10)
    pairs: list[tuple[str, str]] = []
    rows = []
    for _ in range(n):
        code = secrets.token_urlsafe(30)
        verifier = secrets.token_urlsafe(32)
        pairs.append((code, verifier))
        rows.append(
            m.Grant(
                tenant=tenant,
                user=user,
                application=app,
                code=code,
                expires=expires,
                redirect_uri=REDIRECT_URI,
                scope="openid profile",
                code_challenge=s256(verifier),
                code_challenge_method="S256",
                nonce="",
                claims="{}",
                auth_time=now,
                amr="pwd",
                organization=None,
            )
        )
    with transaction.atomic():
        m.Grant.objects.bulk_create(rows, batch_size=2000)
    out.write_text("".join(f"{c} {v}\n" for c, v in pairs))
    return {"minted": n, "deleted_old": deleted, "out": str(out)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("seed")
    mint = sub.add_parser("mint-codes")
    mint.add_argument("--n", type=int, required=True)
    mint.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.cmd == "seed":
        result = seed()
    else:
        if not 1 <= args.n <= 500_000:
            raise SystemExit("--n must be 1..500000")
        result = mint_codes(args.n, args.out)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
