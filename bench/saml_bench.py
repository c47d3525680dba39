"""Signed SAML responses per second, xmlsec1 subprocess vs in-process python-xmlsec; prints markdown to stdout.

    .venv/bin/python bench/saml_bench.py [--seconds 10] [--max-xmlsec1 60] [--max-xmlsec 3000]

What it measures (bounded: each backend stops at ``--seconds`` or at its request cap):
 1. drops and re-creates the bench database (its name must contain ``samlbench``; default
    ``postgres://postgres@127.0.0.1:5432/canopy_samlbench``), migrates it, runs ``quickstart``;
 2. registers a service provider (defaults: response **and** assertion signed, RSA-SHA256,
    every attribute incl. the five organization attributes) and signs ``bob`` in once
    (an existing session, as an SP-initiated sign-in of a returning user finds it);
 3. pre-builds unique AuthnRequests (HTTP-Redirect binding, fresh IDs: the replay cache
    would refuse a reused one), then times whole SSO requests through Django's test client in
    this one process: URL routing, session and user load, AuthnRequest inflate + hardened
    parse + validation + replay check (Redis when ``CANOPY_CACHE_URL`` is set), organization
    selection, attribute build, two signatures, the auto-submit form. Each response is checked
    (200, a SAMLResponse with two signatures);
 4. the same for the signing step alone (one prepared Response, both signatures) per backend.

 5. over HTTP, as a deployment serves it: gunicorn (``idp.wsgi``, DEBUG off) with each
    ``--server`` configuration (default: 2 sync workers, and the Dockerfile's 2 workers x 4
    threads), loaded by ``wrk`` on 127.0.0.1 (bench/lua/saml_sso.lua) with bob's session cookie and
    pre-built single-use AuthnRequests; every answer is checked (200 + the SAMLResponse form, and
    one answer decoded: a Response and an Assertion, both signed). CPU per response is counted
    from /proc for gunicorn and the PostgreSQL backends of the bench database (bench/run.py's
    accounting); wrk, PostgreSQL and Redis share the machine's cores with the server.

Steps 3-4 use one core in this process; step 5 starts gunicorn (stopped at the end, even on
failure). Run with ``DEBUG`` unset (query logging off). ``--no-http`` skips step 5.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import re
import secrets
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/canopy_samlbench"
SP_ENTITY = "https://bench-sp.example/metadata"
SP_ACS = "https://bench-sp.example/acs"
HOST = "127.0.0.1"
HTTP_PORT = int(os.environ.get("SAML_BENCH_PORT", "18780"))
LUA_SSO = ROOT / "bench" / "lua" / "saml_sso.lua"


def reset_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "samlbench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the bench database name must contain 'samlbench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("SECRET_KEY", "saml-bench-" + secrets.token_hex(24))
    os.environ.setdefault("CANOPY_CACHE_URL", "redis://127.0.0.1:6379/5")
    os.environ.setdefault("CANOPY_CACHE_PREFIX", "canopy-samlbench")
    os.environ.setdefault("CANOPY_BASE_URL", f"http://{HOST}:{HTTP_PORT}")  # Destination = the server under test
    os.environ["CANOPY_CELERY_EAGER"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")
    reset_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host 'testserver' is allowed
    call_command("migrate", verbosity=0)
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115


def authn_request(destination: str, request_id: str) -> str:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return (
        '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
        'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
        f'ID="{request_id}" Version="2.0" IssueInstant="{now}" Destination="{destination}" '
        f'AssertionConsumerServiceURL="{SP_ACS}" '
        'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">'
        f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>"
        '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" AllowCreate="true"/>'
        "</samlp:AuthnRequest>"
    )


def redirect_url(path: str, destination: str) -> str:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    xml = authn_request(destination, "_" + secrets.token_hex(16)).encode()
    raw = compressor.compress(xml) + compressor.flush()
    return f"{path}?SAMLRequest={quote_plus(base64.b64encode(raw).decode())}&RelayState=bench"


def prepare() -> tuple[object, str, str]:
    from django.urls import reverse

    from idp.saml.models import BINDING_POST
    from idp.saml.services import service_provider_create
    from tenants.actors import SYSTEM
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug="mightybank")
    service_provider_create(
        actor=SYSTEM,
        tenant=tenant,
        entity_id=SP_ENTITY,
        name="Bench SP",
        acs=[{"url": SP_ACS, "binding": BINDING_POST, "index": 0, "default": True}],
    )
    client = make_client()[0]
    from idp.saml.views import absolute

    path = reverse("saml:sso_redirect", kwargs={"tenant_slug": tenant.slug})
    return client, path, absolute(tenant, "sso_redirect")


def make_client() -> tuple[object, str, str]:
    """A test client with bob signed in (an existing session)."""
    from django.test import Client

    from tenants.models import Tenant, User

    tenant = Tenant.objects.get(slug="mightybank")
    bob = User.objects.get(tenant=tenant, username="bob")
    client = Client()
    client.force_login(bob)
    session = client.session
    session["canopy.auth"] = {
        "tenant_id": tenant.pk,
        "user_id": bob.pk,
        "auth_time": int(time.time()),
        "amr": ["pwd"],
        "acr": "urn:canopy:acr:pwd",
    }
    session.save()
    return client, "", ""


SIGNATURE = re.compile(rb"<ds:Signature[ >]")


def run_sso(client: object, path: str, destination: str, *, limit: int, seconds: float) -> tuple[int, float, float]:
    urls = [redirect_url(path, destination) for _ in range(limit)]
    # warm-up (key load, first-use caches), not counted
    for url in [redirect_url(path, destination) for _ in range(3)]:
        client.get(url)  # type: ignore[attr-defined]
    done = 0
    cpu = time.process_time()
    start = time.perf_counter()
    deadline = start + seconds
    for url in urls:
        response = client.get(url)  # type: ignore[attr-defined]
        body = response.content
        if response.status_code != 200 or b'name="SAMLResponse"' not in body:
            raise SystemExit(f"unexpected answer {response.status_code}: {body[:300]!r}")
        xml = base64.b64decode(re.search(rb'name="SAMLResponse" value="([^"]+)"', body).group(1))  # type: ignore[union-attr]
        if len(SIGNATURE.findall(xml)) != 2:
            raise SystemExit("expected a signed response with a signed assertion")
        done += 1
        if time.perf_counter() >= deadline:
            break
    return done, time.perf_counter() - start, time.process_time() - cpu


def run_sign_only(backend_name: str, *, limit: int, seconds: float) -> tuple[int, float]:
    from idp.saml import crypto, protocol
    from idp.saml.models import ServiceProvider
    from tenants.models import Tenant, User

    tenant = Tenant.objects.get(slug="mightybank")
    sp = ServiceProvider.objects.get(entity_id=SP_ENTITY)
    key = crypto.idp_key(tenant)
    user = User.objects.get(tenant=tenant, username="bob")
    backend = crypto.backend(backend_name)
    attrs = [("org_ids", "org_ids", ["x"]), ("org_id", "org_id", ["x"])]

    def one() -> None:
        response, assertion = protocol.build_response(
            issuer="https://idp.example/metadata",
            sp=sp,
            acs_url=SP_ACS,
            in_response_to="_req",
            subject=protocol.name_id_for(sp=sp, user=user, fmt=sp.nameid_format),
            attributes=attrs,
            auth_instant=protocol.now(),
            session_index="_s",
        )
        backend.sign(response, [assertion, response], key)

    one()
    done = 0
    start = time.perf_counter()
    while done < limit and time.perf_counter() - start < seconds:
        one()
        done += 1
    return done, time.perf_counter() - start


def run_parallel(path: str, destination: str, *, procs: int, limit: int, seconds: float) -> tuple[int, float]:
    """``procs`` forked processes, each with its own test client, session and DB connection; total rate."""
    import multiprocessing

    from django import db

    db.connections.close_all()
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    start_at = time.time() + 1.0

    def worker() -> None:
        db.connections.close_all()
        client, _, _ = make_client()
        urls = [redirect_url(path, destination) for _ in range(limit)]
        client.get(redirect_url(path, destination))  # warm-up
        while time.time() < start_at:
            time.sleep(0.005)
        done = 0
        began = time.perf_counter()
        for url in urls:
            response = client.get(url)
            if response.status_code != 200 or b'name="SAMLResponse"' not in response.content:
                raise SystemExit(f"unexpected answer {response.status_code}")
            done += 1
            if time.perf_counter() - began >= seconds:
                break
        results.put((done, time.perf_counter() - began))

    workers = [ctx.Process(target=worker) for _ in range(procs)]
    for proc in workers:
        proc.start()
    outcomes = [results.get(timeout=seconds + 120) for _ in workers]
    for proc in workers:
        proc.join(timeout=30)
    total = sum(n for n, _ in outcomes)
    return total, max(t for _, t in outcomes)


@dataclass
class HttpResult:
    server: str
    conns: int
    ok: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    db_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    other_cores: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    error: str = ""

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def gunicorn_argv(spec: str) -> tuple[list[str], str]:
    """``sync:2`` (2 sync workers) or ``gthread:2x4`` (2 workers, 4 threads each): argv and a label."""
    kind, _, size = spec.partition(":")
    workers, _, threads = size.partition("x")
    argv = ["--workers", str(int(workers or 2))]
    if kind == "gthread":
        argv += ["--threads", str(int(threads or 4))]
        return argv, f"gunicorn {int(workers or 2)} workers x {int(threads or 4)} threads (gthread, the Dockerfile's)"
    return argv, f"gunicorn {int(workers or 2)} sync workers"


def write_paths(prefix: Path, threads: int, per_thread: int, path: str, destination: str) -> None:
    for tid in range(threads):
        lines = [redirect_url(path, destination) for _ in range(per_thread)]
        (prefix.parent / f"{prefix.name}.{tid}").write_text("\n".join(lines) + "\n")


def check_one_http(path: str, destination: str, cookie: str) -> None:
    """One answer over HTTP, decoded: a Response with a signed Assertion, itself signed."""
    import http.client

    conn = http.client.HTTPConnection(HOST, HTTP_PORT, timeout=10)
    try:
        conn.request("GET", redirect_url(path, destination), headers={"Cookie": cookie})
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    found = re.search(rb'name="SAMLResponse" value="([^"]+)"', body)
    if answer.status != 200 or found is None:
        raise RuntimeError(f"unexpected answer {answer.status}: {body[:300]!r}")
    if len(SIGNATURE.findall(base64.b64decode(found.group(1)))) != 2:
        raise RuntimeError("expected a signed response with a signed assertion")


def run_http(spec: str, path: str, destination: str, *, conns: int, seconds: float, workdir: Path) -> HttpResult:
    """Start gunicorn with ``spec``, load it with wrk for ``seconds``, stop it."""
    sys.path.insert(0, str(ROOT / "bench"))
    import run as harness  # bench/run.py: process control and /proc CPU accounting

    argv, label = gunicorn_argv(spec)
    result = HttpResult(server=label, conns=conns)
    env = dict(os.environ)
    env.update(DEBUG="0", ALLOWED_HOSTS=HOST, CANOPY_CELERY_EAGER="1", PYTHONUNBUFFERED="1")
    env.pop("CANOPY_SAML_SIGNING_BACKEND", None)  # auto: the in-process backend
    server = harness.Server("canopy", label, HTTP_PORT, "", "")
    server.log_path = workdir / f"gunicorn-{spec.replace(':', '-')}.log"
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    dbname = urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")
    try:
        harness.ensure_port_free(HTTP_PORT)
        server.proc = harness.start(
            [gunicorn, "idp.wsgi:application", "-b", f"{HOST}:{HTTP_PORT}", *argv, "--graceful-timeout", "5"],
            env,
            ROOT,
            server.log_path,
        )
        harness.wait_ready(server, "/healthz")
        client = make_client()[0]
        cookie = f"sessionid={client.cookies['sessionid'].value}"  # type: ignore[attr-defined]
        check_one_http(path, destination, cookie)
        wrk = harness.ensure_wrk()
        threads = min(2, conns)
        warm = workdir / "warm"
        write_paths(warm, threads, 100, path, destination)  # every worker loads its caches
        subprocess.run(  # noqa: S603 - fixed argv
            [wrk, f"-t{threads}", f"-c{conns}", "-d2s", "-s", str(LUA_SSO), server.base, "--", cookie, str(warm)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        prefix = workdir / "paths"
        write_paths(prefix, threads, int(seconds * 1500 / threads) + 100, path, destination)
        data = harness.run_wrk(wrk, server, LUA_SSO, threads, conns, int(seconds), [cookie, str(prefix)], dbname=dbname)
        if data["bad"] or data["socket_errors"] or data["timeouts"]:
            result.error = f"{data['bad']} bad answers, {data['socket_errors']} socket errors: {data['first_bad']}"
        if data["threads_out_of_paths"]:
            result.error = "wrk ran out of pre-built requests (raise the cap)"
        result.ok = data["ok"]
        result.seconds = data["duration_us"] / 1e6
        result.cpu_s, result.db_cpu_s = data["cpu_s"], data["db_cpu_s"]
        result.client_cpu_s, result.other_cores = data["client_cpu_s"], data["other_cores"]
        result.p50_ms, result.p99_ms = data["lat_p50_us"] / 1000, data["lat_p99_us"] / 1000
    except Exception as exc:  # noqa: BLE001 - reported in the table, never a made-up figure
        result.error = str(exc)[:300]
    finally:
        harness.stop(server)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="time bound per measurement (1-120)")
    parser.add_argument("--max-xmlsec1", type=int, default=60, help="request cap, subprocess backend")
    parser.add_argument("--max-xmlsec", type=int, default=3000, help="request cap, in-process backend")
    parser.add_argument(
        "--procs", type=int, default=os.cpu_count() or 1, help="processes for the all-cores row (in-process backend)"
    )
    parser.add_argument(
        "--server",
        action="append",
        help="gunicorn configuration for the HTTP rows, repeatable: sync:<workers> or gthread:<workers>x<threads> "
        "(default: sync:2 and gthread:2x4)",
    )
    parser.add_argument("--conns", type=int, default=4, help="wrk connections for the HTTP rows")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP rows (no server started)")
    args = parser.parse_args()
    seconds = min(max(args.seconds, 1.0), 120.0)
    setup_django()
    client, path, destination = prepare()
    rows = []
    for name, cap in (("xmlsec1", args.max_xmlsec1), ("xmlsec", args.max_xmlsec)):
        os.environ["CANOPY_SAML_SIGNING_BACKEND"] = name
        n, elapsed, cpu = run_sso(client, path, destination, limit=cap, seconds=seconds)
        s_n, s_elapsed = run_sign_only(name, limit=cap, seconds=seconds)
        rows.append((name, n, elapsed, cpu, s_n, s_elapsed))
    parallel = run_parallel(path, destination, procs=max(1, args.procs), limit=args.max_xmlsec, seconds=seconds)
    os.environ.pop("CANOPY_SAML_SIGNING_BACKEND", None)
    http_rows: list[HttpResult] = []
    if not args.no_http:
        with tempfile.TemporaryDirectory(prefix="saml-bench-") as workdir:
            for spec in args.server or ["sync:2", "gthread:2x4"]:
                http_rows.append(
                    run_http(spec, path, destination, conns=args.conns, seconds=seconds, workdir=Path(workdir))
                )

    def xmlsec1_version() -> str:
        try:
            done = subprocess.run(
                ["/usr/bin/xmlsec1", "--version"], check=False, capture_output=True, text=True, timeout=10
            )
            return done.stdout.strip()
        except OSError:
            return "absent"

    import xmlsec

    labels = {
        "xmlsec1": "`xmlsec1` subprocess (pysaml2 `CryptoBackendXmlSec1`)",
        "xmlsec": "in-process python-xmlsec",
    }
    print("## SAML: signed responses per second")
    print()
    print(
        "Whole SP-initiated SSO requests (HTTP-Redirect AuthnRequest → auto-submit form with a signed "
        "Response containing a signed Assertion, RSA-SHA256 2048, organization attributes) for a user "
        "with an existing session, through Django's test client in one process (one core), "
        f"PostgreSQL + Redis on 127.0.0.1; each measurement bounded at {seconds:g} s. "
        "Goal: ≥ 300 signed responses/s."
    )
    print()
    print(
        "| signing backend | SSO requests | s | SSO responses/s | ms/response | responses per CPU-s "
        "(this process) | signing alone /s | ms/sign pair |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, n, elapsed, cpu, s_n, s_elapsed in rows:
        print(
            f"| {labels[name]} | {n} | {elapsed:.2f} | **{n / elapsed:.0f}** | {1000 * elapsed / n:.2f} "
            f"| {n / cpu:.0f} | {s_n / s_elapsed:.0f} | {1000 * s_elapsed / s_n:.2f} |"
        )
    n_all, elapsed_all = parallel
    print(
        f"| in-process python-xmlsec, {args.procs} processes (all cores) | {n_all} | {elapsed_all:.2f} "
        f"| **{n_all / elapsed_all:.0f}** | {1000 * elapsed_all / n_all:.2f} (wall, aggregate) | | | |"
    )
    if http_rows:
        print()
        print(
            f"Over HTTP, as deployed: gunicorn serving `idp.wsgi` (DEBUG off), loaded by `wrk` with {args.conns} "
            f"connections on 127.0.0.1 for {seconds:g} s, each request a fresh AuthnRequest with bob's session "
            "cookie. wrk, gunicorn, PostgreSQL and Redis share the machine's cores; CPU per response is the "
            "server's own (gunicorn master + workers) and its PostgreSQL backends'."
        )
        print()
        print(
            "| server | SSO responses | s | **SSO responses/s** | p50 ms | p99 ms | server CPU ms / response "
            "| DB CPU ms / response | wrk CPU ms / response | other load (cores) | goal ≥ 300/s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for r in http_rows:
            if r.error or not r.ok:
                print(f"| {r.server} | failed: {r.error or 'no responses'} | | | | | | | | | |")
                continue
            goal = "met" if r.rps >= 300 else "**not met**"
            print(
                f"| {r.server} | {r.ok} | {r.seconds:.2f} | **{r.rps:.0f}** | {r.p50_ms:.1f} | {r.p99_ms:.1f} "
                f"| {1000 * r.cpu_s / r.ok:.2f} | {1000 * r.db_cpu_s / r.ok:.2f} | {1000 * r.client_cpu_s / r.ok:.2f} "
                f"| {r.other_cores:.2f} | {goal} |"
            )
    ratio = (rows[1][1] / rows[1][2]) / (rows[0][1] / rows[0][2])
    load = os.getloadavg()
    print()
    print(
        f"In-process is {ratio:.0f}× the subprocess path for whole requests. Canopy uses the in-process "
        "backend when python-xmlsec imports (`CANOPY_SAML_SIGNING_BACKEND=auto`), else `xmlsec1`."
    )
    print()
    print(
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{xmlsec1_version()}, python-xmlsec {xmlsec.__version__} (libxmlsec1 "
        f"{'.'.join(map(str, xmlsec.get_libxmlsec_version()))}). Load average at the end: "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (other work on the machine lowers the wall-clock rows; "
        "the CPU-second column does not count PostgreSQL's and Redis's own CPU)."
    )


if __name__ == "__main__":
    main()
