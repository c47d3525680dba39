"""An independent relying party (Authlib) against a live Canopy, with a real Chromium for the browser part.

Discovery → authorization code + PKCE → token → ID token validated against JWKS → userinfo → refresh.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from django.core.management import call_command
from joserfc import jwt
from joserfc.jwt import JWTClaimsRegistry

from orgs.tree.models import ActsForLink, Organization
from orgs.tree.services import acts_for_remove
from tenants.actors import SYSTEM
from tests.support.oidc import catch_rp_callbacks, demo_web_rp

pytestmark = pytest.mark.browser


@pytest.fixture
def canopy(live_server, settings) -> str:
    """A live Canopy with the demo tenant, its issuer on the live server's address."""
    settings.CANOPY_BASE_URL = live_server.url
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    return f"{live_server.url}/t/mightybank"


def sign_in_in_browser(browser: Any, authorization_url: str, username: str, password: str, pick: str | None) -> str:
    """Drive the login journey in Chromium; return the URL the browser was sent back to."""
    context = browser.new_context()
    page = context.new_page()
    landed = catch_rp_callbacks(page)
    try:
        page.goto(authorization_url)
        page.fill("input[name=identifier]", username)
        page.click("button[type=submit]")
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        if pick is not None:
            page.wait_for_selector("#org-list")
            page.click(f"#org-list button:has-text('{pick}')")
        page.wait_for_url("http://127.0.0.1:8765/**")
    finally:
        context.close()
    assert landed, "the browser never came back to the relying party"
    return landed[-1]


def rp_login(canopy: str, browser: Any, username: str, pick: str | None) -> dict[str, Any]:
    """The whole relying-party journey, as Authlib does it."""
    rp = demo_web_rp(canopy, scope="openid profile email organization offline_access")
    config, jwks, session, nonce = rp.config, rp.keys, rp.session, rp.nonce
    assert config["issuer"] == canopy
    callback = sign_in_in_browser(browser, rp.authorization_url(), username, f"{username}-demo-pass", pick)
    assert f"iss={requests.utils.quote(canopy, safe='')}" in callback  # RFC 9207

    token = rp.fetch_token(callback)
    claims = jwt.decode(token["id_token"], jwks, algorithms=["RS256", "ES256"]).claims
    JWTClaimsRegistry(
        leeway=5,
        iss={"essential": True, "value": canopy},
        aud={"essential": True, "value": "demo-web"},
        nonce={"essential": True, "value": nonce},
    ).validate(claims)
    access = jwt.decode(token["access_token"], jwks, algorithms=["RS256", "ES256"]).claims
    JWTClaimsRegistry(leeway=5).validate(access)
    info = session.get(config["userinfo_endpoint"]).json()
    refreshed = session.refresh_token(config["token_endpoint"], refresh_token=token["refresh_token"])
    refreshed_claims = jwt.decode(refreshed["id_token"], jwks, algorithms=["RS256", "ES256"]).claims
    return {
        "id": dict(claims),
        "access": dict(access),
        "userinfo": info,
        "refreshed": dict(refreshed_claims),
        "token": token,
        "refreshed_token": refreshed,
        "session": session,
        "token_endpoint": config["token_endpoint"],
    }


@pytest.mark.django_db(transaction=True)
def test_alice_picks_acme_bank(canopy: str, browser: Any) -> None:
    result = rp_login(canopy, browser, "alice", pick="Acme Bank")
    acme = Organization.objects.get(identifier="acme-bank")
    americas = Organization.objects.get(identifier="mightybank-americas")
    for source in ("id", "access", "userinfo", "refreshed"):
        assert result[source]["org_id"] == str(acme.pk), source
        assert result[source]["org_name"] == "acme-bank", source
        assert set(result[source]["org_ids"]) == {str(acme.pk), str(americas.pk)}, source
    assert result["userinfo"]["email"] == "alice@acme.example"
    assert result["refreshed_token"]["refresh_token"] != result["token"]["refresh_token"]


@pytest.mark.django_db(transaction=True)
def test_carol_acts_for_my_corporation_via_contractor(canopy: str, browser: Any) -> None:
    result = rp_login(canopy, browser, "carol", pick="My Corporation")
    corp = Organization.objects.get(identifier="my-corporation")
    contractor = Organization.objects.get(identifier="contractor")
    for source in ("id", "access", "userinfo", "refreshed"):
        assert result[source]["org_id"] == str(corp.pk), source
        assert result[source]["org_acting_for"] == str(contractor.pk), source
        assert result[source]["org_ids"] == [str(contractor.pk)], source


@pytest.mark.django_db(transaction=True)
def test_authlib_hears_invalid_grant_once_the_acts_for_link_is_gone(canopy: str, browser: Any) -> None:
    result = rp_login(canopy, browser, "carol", pick="My Corporation")
    acts_for_remove(actor=SYSTEM, link=ActsForLink.objects.get(organization__identifier="contractor"))
    with pytest.raises(OAuthError) as refused:
        result["session"].refresh_token(
            result["token_endpoint"], refresh_token=result["refreshed_token"]["refresh_token"]
        )
    assert refused.value.error == "invalid_grant"
    assert "may no longer act for" in str(refused.value.description)


@pytest.mark.django_db(transaction=True)
def test_bob_gets_mexbanco_without_a_picker(canopy: str, browser: Any) -> None:
    result = rp_login(canopy, browser, "bob", pick=None)
    mexbanco = Organization.objects.get(identifier="mexbanco")
    assert result["id"]["org_id"] == str(mexbanco.pk) and result["id"]["org_name"] == "mexbanco"
    assert result["id"]["amr"] == ["pwd"] and "auth_time" in result["id"]
