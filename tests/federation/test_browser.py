"""The federation journey in Chromium: an RP (Authlib) → Canopy → the partner's own OP → back → picker → RP.

The partner OP is tests/support/partners/oidc_op.py, an independent process on 127.0.0.1.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
from django.core.management import call_command
from joserfc import jwt

from idp.federation.models import UpstreamIdentity
from idp.federation.services import domain_set_verified, upstream_idp_create
from orgs.tree.models import Membership
from orgs.tree.services import organization_create
from tenants.actors import SYSTEM
from tenants.models import Tenant, User
from tests.support.oidc import catch_rp_callbacks, demo_web_rp
from tests.support.partners import CLIENT_ID, CLIENT_SECRET, PartnerOP

pytestmark = pytest.mark.browser


@pytest.fixture
def canopy(live_server, settings, partner: PartnerOP) -> str:
    """The demo tenant with Partner Inc. as an upstream IdP claiming partner.example (verified)."""
    settings.CANOPY_BASE_URL = live_server.url
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="mightybank")
    inc = organization_create(actor=SYSTEM, tenant=tenant, identifier="partner-inc", display_name="Partner Inc")
    labs = organization_create(actor=SYSTEM, tenant=tenant, identifier="partner-labs", display_name="Partner Labs")
    idp = upstream_idp_create(
        actor=SYSTEM,
        tenant=tenant,
        slug="partner",
        name="Partner Inc",
        discovery_url=f"{partner.url}/.well-known/openid-configuration",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        jit_organizations=[inc],
        jit_claim="department",
        jit_claim_map={"labs": labs.identifier},
        domains=["partner.example"],
    )
    domain_set_verified(actor=SYSTEM, domain=idp.domains.get(), verified=True)
    return f"{live_server.url}/t/mightybank"


def federated_sign_in(browser: Any, authorization_url: str, identifier: str, partner_user: str, pick: str) -> str:
    context = browser.new_context()
    page = context.new_page()
    landed = catch_rp_callbacks(page)
    try:
        page.goto(authorization_url)
        page.fill("input[name=identifier]", identifier)
        page.click("button[type=submit]")
        page.wait_for_selector("#partner-username")  # the partner's own login page
        assert page.input_value("#partner-username") == partner_user  # login_hint came along
        page.click("#partner-submit")
        page.wait_for_selector("#org-list")
        page.click(f"#org-list button:has-text('{pick}')")
        page.wait_for_url("http://127.0.0.1:8765/**")
    finally:
        context.close()
    assert landed, "the browser never came back to the relying party"
    return landed[-1]


@pytest.mark.django_db(transaction=True)
def test_dana_signs_in_at_her_partner_idp_and_picks_an_organization(canopy: str, browser: Any) -> None:
    rp = demo_web_rp(canopy)
    callback = federated_sign_in(browser, rp.authorization_url(), "dana@partner.example", "dana", pick="Partner Labs")
    claims = jwt.decode(rp.fetch_token(callback)["id_token"], rp.keys).claims
    assert claims["iss"] == canopy and claims["aud"] in ("demo-web", ["demo-web"]) and claims["nonce"] == rp.nonce

    tenant = Tenant.objects.get(slug="mightybank")
    dana = User.objects.get(tenant=tenant, email="dana@partner.example")
    inc = dana.memberships.get(organization__identifier="partner-inc")
    labs = dana.memberships.get(organization__identifier="partner-labs")
    assert {inc.origin, labs.origin} == {Membership.Origin.JIT}
    assert UpstreamIdentity.objects.get(idp__tenant=tenant, subject="dana-0001").user == dana
    assert claims["org_id"] == str(labs.organization_id)
    assert set(claims["org_ids"]) == {str(inc.organization_id), str(labs.organization_id)}
    assert claims["amr"] == ["fed"]
    assert claims["email"] == "dana@partner.example"


@pytest.mark.django_db(transaction=True)
def test_saml_sp_gets_org_claims_after_dana_signs_in_at_her_partner_saml_idp(
    live_server: Any, settings: Any, browser: Any, tmp_path: Any
) -> None:
    """An independent SAML SP → Canopy's SAML IdP → the partner's SAML IdP (pysaml2) → picker → the SP."""
    import io
    import re
    import subprocess
    import sys

    from onelogin.saml2.auth import OneLogin_Saml2_Auth

    from tests.support.partners import HERE, free_port
    from tests.support.saml import ORG_ATTRIBUTES, SpBrowser, acs_receive, sp_metadata, sp_request, sp_settings

    settings.CANOPY_BASE_URL = live_server.url
    call_command("quickstart", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug="mightybank")
    sp = sp_settings(requests.get(f"{live_server.url}/t/mightybank/saml/metadata", timeout=10).text)
    path = tmp_path / "sp.xml"
    path.write_bytes(sp_metadata(sp))
    call_command("add_saml_sp", "--tenant", "mightybank", "--metadata-file", str(path), stdout=io.StringIO())

    base = f"{live_server.url}/t/mightybank/federation/partner-saml/saml"
    port = free_port()
    partner = subprocess.Popen(  # noqa: S603 - our own script
        [sys.executable, str(HERE / "saml_idp.py"), str(port), f"{base}/metadata", f"{base}/acs"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert partner.stdout is not None and partner.stdout.readline().strip() == "ready"
        inc = organization_create(actor=SYSTEM, tenant=tenant, identifier="partner-inc", display_name="Partner Inc")
        labs = organization_create(actor=SYSTEM, tenant=tenant, identifier="partner-labs", display_name="Partner Labs")
        idp = upstream_idp_create(
            actor=SYSTEM,
            tenant=tenant,
            slug="partner-saml",
            name="Partner SAML",
            kind="saml",
            saml_metadata=requests.get(f"http://127.0.0.1:{port}/metadata", timeout=10).text,
            jit_organizations=[inc],
            jit_claim="department",
            jit_claim_map={"labs": labs.identifier},
            domains=["partner.example"],
        )
        domain_set_verified(actor=SYSTEM, domain=idp.domains.get(), verified=True)

        auth = OneLogin_Saml2_Auth(sp_request(path="/login"), sp)
        url = auth.login(return_to="/after-login")
        agent = SpBrowser(browser)
        try:
            page = agent.page
            page.goto(url)
            page.fill("input[name=identifier]", "dana@partner.example")
            page.click("button[type=submit]")
            page.wait_for_selector("#partner-username")  # the partner's pysaml2 login page
            page.fill("#partner-username", "dana")
            page.click("#partner-submit")
            page.wait_for_selector("#org-list")
            page.click("#org-list button:has-text('Partner Inc')")
            page.wait_for_url("http://127.0.0.1:8766/**")
            post = agent.posts[-1]
        finally:
            agent.close()
    finally:
        partner.terminate()
        partner.wait(timeout=10)
    result = acs_receive(sp, post, auth.get_last_request_id())
    assert result.get_errors() == [], result.get_last_error_reason()
    attrs = result.get_attributes()
    assert set(ORG_ATTRIBUTES) <= set(attrs)
    assert attrs["org_id"] == [str(inc.pk)] and attrs["org_name"] == ["partner-inc"]
    assert set(attrs["org_ids"]) == {str(inc.pk), str(labs.pk)}
    assert attrs["email"] == ["dana@partner.example"]
    dana = User.objects.get(tenant=tenant, email="dana@partner.example")
    assert UpstreamIdentity.objects.get(idp=idp).user == dana
    assert re.fullmatch(r"dana-0001", UpstreamIdentity.objects.get(idp=idp).subject)


@pytest.mark.django_db(transaction=True)
def test_rp_logout_in_chromium_also_ends_the_partner_session(canopy: str, browser: Any, partner: PartnerOP) -> None:
    partner.control(post_logout_redirect_uris=[f"{canopy}/federation/partner/logout/return"])
    rp = demo_web_rp(canopy, scope="openid organization", nonce="n-1")
    config, url = rp.config, rp.authorization_url()
    context = browser.new_context()
    page = context.new_page()
    landed: list[str] = []

    def catch_rp(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="at the RP")

    page.route(lambda u: u.startswith("http://127.0.0.1:8765/"), catch_rp)  # any path and query
    try:
        page.goto(url)
        page.fill("input[name=identifier]", "dana@partner.example")
        page.click("button[type=submit]")
        page.click("#partner-submit")
        page.wait_for_selector("#org-list")
        page.click("#org-list button:has-text('Partner Inc')")
        page.wait_for_url("http://127.0.0.1:8765/**")
        token = rp.fetch_token(landed[-1])
        assert jwt.decode(token["id_token"], rp.keys).claims["idp"] == partner.url
        logout_url = (
            f"{config['end_session_endpoint']}?id_token_hint={token['id_token']}"
            "&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2F&state=bye"
        )
        page.goto(f"{canopy}/")  # the RP's "Sign out" link, followed like a user would
        page.evaluate(
            "url => { const a = document.createElement('a'); a.id = 'rp-out'; a.href = url; "
            "a.textContent = 'Sign out'; document.body.appendChild(a); }",
            logout_url,
        )
        page.click("#rp-out")
        page.wait_for_url(lambda u: u.startswith("http://127.0.0.1:8765/?"))
        assert landed[-1] == "http://127.0.0.1:8765/?state=bye"
        logouts = requests.get(f"{partner.url}/state", timeout=5).json()["logouts"]
        assert logouts and logouts[-1]["sub"] == "dana-0001" and logouts[-1]["ended"] >= 1
        # Signing in again asks at Canopy and at the partner.
        page.goto(url)
        page.fill("input[name=identifier]", "dana@partner.example")
        page.click("button[type=submit]")
        page.wait_for_selector("#partner-username")
    finally:
        context.close()
