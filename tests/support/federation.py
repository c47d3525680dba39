"""Upstream OIDC sign-in against the partner OP (tests/support/partners/oidc_op.py), as the federation tests do it."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from django.test import Client

from idp.federation.models import UpstreamIdP
from idp.federation.services import domain_set_verified, upstream_idp_create
from tenants.actors import SYSTEM
from tests.support.partners import CLIENT_ID, CLIENT_SECRET, PartnerOP
from tests.support.worlds import World


def make_idp(world: World, partner: PartnerOP, *, verified: bool = True, **fields: Any) -> UpstreamIdP:
    """The partner OP as the upstream ``partner`` of ``world``: JIT by department, partner.example (verified)."""
    options: dict[str, Any] = {
        "discovery_url": f"{partner.url}/.well-known/openid-configuration",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "jit_organizations": [world.partner],
        "jit_claim": "department",
        "jit_claim_map": {"labs": world.root.identifier},
        "domains": ["partner.example"],
        **fields,
    }
    idp = upstream_idp_create(actor=SYSTEM, tenant=world.tenant, slug="partner", name="Partner Inc", **options)
    if verified:
        for domain in idp.domains.all():
            domain_set_verified(actor=SYSTEM, domain=domain, verified=True)
    return idp


def upstream_login(
    client: Client, world: World, identifier: str = "dana@partner.example", user: str = "dana", iss: str = ""
) -> Any:
    """Identifier-first → start → partner login form (POST with requests) → callback; the last response."""
    slug = world.tenant.slug
    routed = client.post(f"/t/{slug}/login/", {"identifier": identifier, "next": f"/t/{slug}/"})
    assert routed.status_code == 303
    assert routed["Location"].startswith(f"/t/{slug}/federation/partner/start"), routed["Location"]
    to_partner = client.get(routed["Location"])
    assert to_partner.status_code == 302
    authorize = urlsplit(to_partner["Location"])
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert params["code_challenge_method"] == "S256" and params["nonce"] and params["state"]
    assert params["login_hint"] == identifier
    back = requests.post(
        f"{authorize.scheme}://{authorize.netloc}/authorize",
        data={**params, "username": user},
        allow_redirects=False,
        timeout=10,
    )
    assert back.status_code == 302
    callback = urlsplit(back.headers["Location"])
    assert callback.path == f"/t/{slug}/federation/partner/callback"
    query = callback.query
    if iss:  # a mix-up: the response claims another issuer
        query = "&".join(p for p in query.split("&") if not p.startswith("iss=")) + "&" + urlencode({"iss": iss})
    return client.get(f"{callback.path}?{query}"), f"{callback.path}?{query}"


def partner_authorize(partner_browser: requests.Session, location: str) -> requests.Response:
    """The partner's authorize step: its form when there is no partner session, else straight back."""
    first = partner_browser.get(location, allow_redirects=False, timeout=10)
    if first.status_code == 302:
        return first
    assert 'id="partner-username"' in first.text
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    base = urlsplit(location)
    return partner_browser.post(
        f"{base.scheme}://{base.netloc}/authorize",
        data={**params, "username": "dana"},
        allow_redirects=False,
        timeout=10,
    )


def federated_login(client: Client, partner_browser: requests.Session, world: World, next_url: str = "") -> Any:
    slug = world.tenant.slug
    routed = client.post(f"/t/{slug}/login/", {"identifier": "dana@partner.example", "next": next_url or f"/t/{slug}/"})
    to_partner = client.get(routed["Location"])
    back = partner_authorize(partner_browser, to_partner["Location"])
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["Location"])
    return client.get(f"{callback.path}?{callback.query}")


def signed_in(client: Client) -> bool:
    return "canopy.auth" in client.session


def partner_signout(partner: PartnerOP, **order: Any) -> dict[str, Any]:
    answer = requests.post(f"{partner.url}/signout", json={"username": "dana", **order}, timeout=15)
    answer.raise_for_status()
    return answer.json()


def dana_signs_in(world: World) -> Client:
    """A federated sign-in in a fresh browser (its own partner session, so its own upstream sid)."""
    client = Client()
    assert federated_login(client, requests.Session(), world).status_code == 302
    assert signed_in(client)
    return client
