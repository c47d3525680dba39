"""Upstream logout and the upstream named in tokens, against the partner OP process (tests/support/partners/oidc_op.py).

The browser is Django's test client for Canopy and a ``requests.Session`` for the partner (its own
cookie jar), so the partner's session is real: a second sign-in there needs no form until it ends.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from lxml import etree

from idp.federation.logout import logout_return_url
from idp.federation.models import UpstreamIdP
from idp.flow.logout import (
    LogoutParticipant,
    logout_chain_start,
    register_logout_participant,
    registered_logout_participants,
    unregister_logout_participant,
)
from idp.oidc.models import Application
from idp.oidc.services import application_create
from tenants.actors import SYSTEM
from tests.support.federation import federated_login
from tests.support.oidc import basic, jwt_claims, pkce
from tests.support.partners import PartnerOP
from tests.support.worlds import World

SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
RP_REDIRECT = "http://127.0.0.1:8765/callback"
RP_AFTER_LOGOUT = "http://127.0.0.1:8765/"


def follow_logout(client: Client, partner_browser: requests.Session, response: Any) -> tuple[str, list[str]]:
    """Follow redirects between Canopy (test client) and the partner (requests) to the end of the chain."""
    hops: list[str] = []
    location = response["Location"]
    for _ in range(10):
        hops.append(location)
        parts = urlsplit(location)
        if location.startswith("http://127.0.0.1:8765"):  # the RP: the end
            return location, hops
        if parts.netloc and not location.startswith("http://127.0.0.1:8000"):  # the partner
            at_partner = partner_browser.get(location, allow_redirects=False, timeout=10)
            assert at_partner.status_code == 302, at_partner.text
            location = at_partner.headers["Location"]
            continue
        here = client.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)
        if here.status_code not in (301, 302, 303):
            return location, hops
        location = here["Location"]
    raise AssertionError(hops)


def partner_state(partner: PartnerOP) -> dict[str, Any]:
    return requests.get(f"{partner.url}/state", timeout=5).json()


@pytest.mark.django_db
def test_logout_page_ends_the_partner_session_too(world_a: World, upstream: UpstreamIdP, partner: PartnerOP) -> None:
    slug = world_a.tenant.slug
    client, partner_browser = Client(), requests.Session()
    assert federated_login(client, partner_browser, world_a).status_code == 302
    # The partner remembers Dana: a second authorization there needs no form.
    again = Client()
    routed = again.post(f"/t/{slug}/login/", {"identifier": "dana@partner.example"})
    assert partner_browser.get(again.get(routed["Location"])["Location"], allow_redirects=False).status_code == 302

    logged_out = partner_state(partner)["logouts"]
    response = client.post(f"/t/{slug}/logout/", {"next": f"/t/{slug}/login/"})
    assert response.status_code == 303
    to_partner = urlsplit(response["Location"])
    assert to_partner.path == "/logout"
    query = {k: v[0] for k, v in parse_qs(to_partner.query).items()}
    assert jwt_claims(query["id_token_hint"])["sub"] == "dana-0001"  # the upstream's own ID token
    assert query["post_logout_redirect_uri"] == logout_return_url(upstream)
    assert "canopy.auth" not in client.session  # signed out here before going to the partner

    final, hops = follow_logout(client, partner_browser, response)
    assert final == f"/t/{slug}/login/", hops  # the validated next, at the end of the chain
    assert any(urlsplit(h).path == f"/t/{slug}/federation/partner/logout/return" for h in hops)
    assert any(urlsplit(h).path == f"/t/{slug}/logout/continue/" for h in hops)
    assert len(partner_state(partner)["logouts"]) == len(logged_out) + 1
    # A new sign-in at the partner asks for credentials again.
    fresh = Client()
    routed = fresh.post(f"/t/{slug}/login/", {"identifier": "dana@partner.example"})
    form = partner_browser.get(fresh.get(routed["Location"])["Location"], allow_redirects=False)
    assert form.status_code == 200 and 'id="partner-username"' in form.text


@pytest.mark.django_db
def test_id_token_names_the_upstream_and_rp_initiated_logout_signs_out_there(
    world_a: World, upstream: UpstreamIdP, partner: PartnerOP
) -> None:
    slug = world_a.tenant.slug
    application_create(
        actor=SYSTEM,
        tenant=world_a.tenant,
        client_id="partner-rp",
        client_secret="partner-rp-secret",  # noqa: S106 - a test fixture
        client_type=Application.CLIENT_CONFIDENTIAL,
        redirect_uris=[RP_REDIRECT],
        post_logout_redirect_uris=[RP_AFTER_LOGOUT],
        first_party=True,
    )
    client, partner_browser = Client(), requests.Session()
    verifier, challenge = pkce()
    authorize = (
        f"/t/{slug}/oauth/authorize/?client_id=partner-rp&response_type=code&scope=openid"
        f"&redirect_uri={RP_REDIRECT}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256"
    )
    assert federated_login(client, partner_browser, world_a, next_url=authorize).status_code == 302
    answered = client.get(authorize)
    assert answered.status_code == 302 and answered["Location"].startswith(RP_REDIRECT), answered
    code = parse_qs(urlsplit(answered["Location"]).query)["code"][0]
    tokens = Client().post(
        f"/t/{slug}/oauth/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": RP_REDIRECT, "code_verifier": verifier},
        HTTP_AUTHORIZATION=basic("partner-rp", "partner-rp-secret"),
    )
    assert tokens.status_code == 200, tokens.content
    claims = jwt_claims(tokens.json()["id_token"])
    assert claims["amr"] == ["fed"]
    assert claims["idp"] == partner.url  # the upstream's issuer
    refreshed_issuer = UpstreamIdP.objects.get(pk=upstream.pk).issuer
    assert refreshed_issuer == partner.url

    response = client.get(
        f"/t/{slug}/oauth/logout/",
        {"id_token_hint": tokens.json()["id_token"], "post_logout_redirect_uri": RP_AFTER_LOGOUT, "state": "bye"},
    )
    assert response.status_code == 302 and urlsplit(response["Location"]).path == "/logout"
    final, hops = follow_logout(client, partner_browser, response)
    assert final == f"{RP_AFTER_LOGOUT}?state=bye", hops
    fresh = Client()
    routed = fresh.post(f"/t/{slug}/login/", {"identifier": "dana@partner.example"})
    form = partner_browser.get(fresh.get(routed["Location"])["Location"], allow_redirects=False)
    assert form.status_code == 200 and 'id="partner-username"' in form.text


@pytest.mark.django_db
def test_a_password_sign_in_logs_out_without_any_upstream_hop(world_a: World, upstream: UpstreamIdP) -> None:
    client = Client()
    client.force_login(world_a.member)
    response = client.post(f"/t/{world_a.tenant.slug}/logout/")
    assert response.status_code == 303 and response["Location"] == f"/t/{world_a.tenant.slug}/logout/?done=1"


@pytest.mark.django_db
def test_a_stale_or_foreign_chain_id_ends_on_the_signed_out_page(world_a: World, world_b: World) -> None:
    slug = world_a.tenant.slug
    response = Client().get(f"/t/{slug}/logout/continue/", {"chain": "made-up"})
    assert response.status_code == 302 and response["Location"] == f"/t/{slug}/logout/?done=1"
    # The upstream's return endpoint of another tenant's IdP is not found here.
    other = world_b.tenant.slug
    assert Client().get(f"/t/{slug}/federation/{other}-partner/logout/return").status_code == 404


@pytest.mark.django_db
def test_registry_runs_participants_in_order_and_skips_a_broken_one(world_a: World, world_b: World, rf: Any) -> None:
    calls: list[str] = []

    @register_logout_participant("test-broken")
    class Broken(LogoutParticipant):
        priority = 1

        @classmethod
        def redirect(cls, *, request: Any, tenant: Any, state: dict[str, Any], continue_url: str) -> str | None:
            calls.append("broken")
            raise RuntimeError("partner down")

    @register_logout_participant("test-hop")
    class Hop(LogoutParticipant):
        priority = 2

        @classmethod
        def redirect(cls, *, request: Any, tenant: Any, state: dict[str, Any], continue_url: str) -> str | None:
            calls.append(f"hop:{state['n']}")
            return f"https://sp.example/slo?return={continue_url}"

    try:
        assert {"test-broken", "test-hop"} <= set(registered_logout_participants())
        with pytest.raises(ValueError, match="already registered"):
            register_logout_participant("test-hop")(type("Other", (LogoutParticipant,), {}))
        client = Client()
        session = client.session
        request = rf.get("/")
        request.session = session
        url = logout_chain_start(
            request,
            tenant=world_a.tenant,
            pending=[("test-broken", {}), ("test-hop", {"n": 1})],
            final_url=f"/t/{world_a.tenant.slug}/",
        )
        assert calls == ["broken", "hop:1"] and url.startswith("https://sp.example/slo?return=")
        session.save()
        continue_path = url.split("return=", 1)[1]
        client.cookies[django_settings.SESSION_COOKIE_NAME] = str(session.session_key)
        done = client.get(continue_path)
        assert done.status_code == 302 and done["Location"] == f"/t/{world_a.tenant.slug}/"
        assert client.get(continue_path)["Location"] == f"/t/{world_a.tenant.slug}/logout/?done=1"  # used once
        # A chain is bound to its tenant: another tenant's continue URL does not run it.
        request.session = client.session
        url = logout_chain_start(
            request, tenant=world_a.tenant, pending=[("test-hop", {"n": 2})], final_url=f"/t/{world_a.tenant.slug}/"
        )
        request.session.save()
        chain = url.split("chain%3D", 1)[1] if "chain%3D" in url else url.split("chain=", 1)[1]
        foreign = client.get(f"/t/{world_b.tenant.slug}/logout/continue/", {"chain": chain})
        assert foreign["Location"] == f"/t/{world_b.tenant.slug}/logout/?done=1"
    finally:
        unregister_logout_participant("test-broken")
        unregister_logout_participant("test-hop")


# --- the upstream named in SAML assertions Canopy issues ------------------------------------------


@pytest.mark.django_db
def test_saml_assertion_names_the_upstream_as_authenticating_authority(idp: dict[str, Any]) -> None:
    from django.contrib.auth import get_user_model

    from tests.support.saml import acs_receive, form_fields, response_xml
    from tests.support.saml import login_url as saml_login_url

    tenant = idp["tenant"]
    alice = get_user_model().objects.get(tenant=tenant, username="alice")
    client = Client()
    client.force_login(alice)
    session = client.session
    session["canopy.auth"] = {  # what a federated sign-in records (idp.flow.session.sign_in)
        "tenant_id": tenant.pk,
        "user_id": alice.pk,
        "auth_time": int(time.time()),
        "amr": ["fed"],
        "acr": "urn:canopy:acr:fed",
        "upstream": "https://idp.partner.example",
        "idp": "partner",
    }
    session.save()
    url, request_id = saml_login_url(idp["sp"])
    first = client.get(url + "&organization=acme-bank")
    posted = form_fields(first.content.decode())[1]
    context = etree.fromstring(response_xml(posted).encode()).find(f".//{{{SAML_NS}}}AuthnContext")
    assert context is not None
    assert [el.text for el in context.iter(f"{{{SAML_NS}}}AuthenticatingAuthority")] == ["https://idp.partner.example"]
    assert "idp" not in acs_receive(idp["sp"], posted, request_id).get_attributes()  # opt-in only

    sp = idp["model"]
    sp.attribute_release = [*sp.attribute_release, "idp"]
    sp.save()
    url, request_id = saml_login_url(idp["sp"])
    again = client.get(url + "&organization=acme-bank")
    auth = acs_receive(idp["sp"], form_fields(again.content.decode())[1], request_id)
    assert auth.get_attributes()["idp"] == ["https://idp.partner.example"]
