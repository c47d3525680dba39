"""An independent SAML SP (OneLogin python3-saml) against a live Canopy, with Chromium doing the sign-in.

SP-initiated SSO (HTTP-Redirect, signed AuthnRequest): alice signs in, picks Acme Bank, the
SP validates the signed response and reads the five organization attributes. IdP-initiated
SSO when the SP enables it. SLO round trip: the SP's signed LogoutRequest ends the IdP session.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
import requests
from django.core.management import call_command
from onelogin.saml2.auth import OneLogin_Saml2_Auth

from idp.saml.models import ServiceProvider
from orgs.tree.models import Organization
from tests.support.saml import ORG_ATTRIBUTES, SP_ENTITY, SpBrowser, acs_receive, sp_metadata, sp_request, sp_settings

pytestmark = pytest.mark.browser


@pytest.fixture
def canopy(live_server: Any, settings: Any, tmp_path: Path) -> dict[str, Any]:
    """A live Canopy with the demo tenant; the SP fetched the IdP metadata over HTTP and registered itself."""
    settings.CANOPY_BASE_URL = live_server.url
    call_command("quickstart", stdout=io.StringIO())
    metadata = requests.get(f"{live_server.url}/t/mightybank/saml/metadata", timeout=10).text
    sp = sp_settings(metadata)
    path = tmp_path / "sp.xml"
    path.write_bytes(sp_metadata(sp))
    call_command("add_saml_sp", "--tenant", "mightybank", "--metadata-file", str(path), stdout=io.StringIO())
    return {"base": live_server.url, "sp": sp}


@pytest.mark.django_db(transaction=True)
def test_alice_picks_acme_bank_sp_initiated(canopy: dict, browser: Any) -> None:
    sp = OneLogin_Saml2_Auth(sp_request(path="/login"), canopy["sp"])
    url = sp.login(return_to="/after-login?x=1")
    assert url.startswith(f"{canopy['base']}/t/mightybank/saml/sso/redirect?") and "Signature=" in url
    agent = SpBrowser(browser)
    try:
        post = agent.sign_in(url, "alice", pick="Acme Bank")
    finally:
        agent.close()
    assert post["RelayState"] == "/after-login?x=1"
    auth = acs_receive(canopy["sp"], post, sp.get_last_request_id())
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.is_authenticated() and auth.get_nameid() == "alice@acme.example"
    attrs = auth.get_attributes()
    assert set(ORG_ATTRIBUTES) <= set(attrs)
    acme = Organization.objects.get(identifier="acme-bank")
    americas = Organization.objects.get(identifier="mightybank-americas")
    assert attrs["org_id"] == [str(acme.pk)] and attrs["org_name"] == ["acme-bank"]
    assert sorted(attrs["org_ids"]) == sorted([str(acme.pk), str(americas.pk)])
    assert sorted(attrs["org_names"]) == ["acme-bank", "mightybank-americas"]
    assert attrs["org_acting_for"] == []


@pytest.mark.django_db(transaction=True)
def test_idp_initiated_when_enabled(canopy: dict, browser: Any) -> None:
    from idp.saml.services import service_provider_update
    from tenants.actors import SYSTEM

    service_provider_update(actor=SYSTEM, sp=ServiceProvider.objects.get(entity_id=SP_ENTITY), idp_initiated=True)
    url = f"{canopy['base']}/t/mightybank/saml/sso/init?sp={quote_plus(SP_ENTITY)}&organization=mexbanco"
    agent = SpBrowser(browser)
    try:
        post = agent.sign_in(url, "bob", pick=None)
    finally:
        agent.close()
    auth = acs_receive(canopy["sp"], post, None)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    mexbanco = Organization.objects.get(identifier="mexbanco")
    assert auth.get_attributes()["org_id"] == [str(mexbanco.pk)]


@pytest.mark.django_db(transaction=True)
def test_slo_round_trip(canopy: dict, browser: Any) -> None:
    sp = OneLogin_Saml2_Auth(sp_request(path="/login"), canopy["sp"])
    agent = SpBrowser(browser)
    try:
        post = agent.sign_in(sp.login(), "bob", pick=None)
        auth = acs_receive(canopy["sp"], post, sp.get_last_request_id())
        assert auth.get_errors() == [], auth.get_last_error_reason()
        leaving = OneLogin_Saml2_Auth(sp_request(path="/logout"), canopy["sp"])
        logout_url = leaving.logout(return_to="bye", name_id=auth.get_nameid(), session_index=auth.get_session_index())
        # The browser's own cookies, without following the redirect to the (absent) SP.
        answer = agent.context.request.get(logout_url, max_redirects=0)
        assert answer.status == 302, answer.status
        back_url = answer.headers["location"]
        assert back_url.startswith("http://127.0.0.1:8766/sls?")
        get = {k: v[0] for k, v in parse_qs(urlsplit(back_url).query).items()}
        back = OneLogin_Saml2_Auth(sp_request(get=get, path="/sls"), canopy["sp"])
        back.process_slo(request_id=leaving.get_last_request_id(), keep_local_session=True)
        assert back.get_errors() == [], back.get_last_error_reason()
        assert get["RelayState"] == "bye"
        # signed out at the IdP: a new SP-initiated sign-in asks for the identifier again
        agent.page.goto(OneLogin_Saml2_Auth(sp_request(path="/login"), canopy["sp"]).login())
        agent.page.wait_for_selector("input[name=identifier]")
    finally:
        agent.close()
