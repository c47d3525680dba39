"""The organization decision's step-up in a real Chromium (``flow:stepup``), from OIDC and from SAML.

The flows of ``tests/flow/test_organization_decision.py``, clicked through in a browser: a password
sign-in, the organization picker or a SAML SP naming the organization, the step-up page, then the
missing factor (the code from a real mail, or a passkey from the CDP virtual authenticator) and
back to the protocol endpoint, which issues. The relying parties' addresses have nothing
listening: Playwright answers them and keeps what the browser brought (the code, the SAMLResponse).

The live server answers on http://localhost:<port> and ``CANOPY_BASE_URL`` is set to it, so the
WebAuthn relying-party id is ``localhost`` and SAML destinations are the live server's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command
from lxml import etree

from idp.flow.decision import AUDIT_ACTION
from idp.saml.protocol import AC_MFA
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from orgs.tree.services import membership_add
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.login import require_email_otp
from tests.support.lookups import org, user
from tests.support.mail import Inbox, code_in
from tests.support.oidc import DEMO_WEB, RP_ORIGIN, basic, demo_web_authorize, jwt_claims
from tests.support.saml import SP_ACS, acs_receive, login_url, response_xml, sp_metadata, sp_settings
from tests.support.webauthn import add_first_passkey, password_sign_in, with_authenticator

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
MFA = "urn:canopy:acr:mfa"
SP_ORIGIN = "http://127.0.0.1:8766"
WAIT_MS = 15_000


@pytest.fixture
def canopy(live_server: Any, settings: Any) -> Iterator[str]:
    settings.CANOPY_BASE_URL = live_server.url
    assert urlsplit(live_server.url).hostname == "localhost"
    cache.clear()
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    ARTIFACTS.mkdir(exist_ok=True)
    yield str(live_server.url)
    cache.clear()


@pytest.fixture
def tenant(canopy: str) -> Tenant:
    return Tenant.objects.get(slug="mightybank")


def passkeys_only_at_mexbanco(tenant: Tenant) -> None:
    """MexBanco signs in with passkeys only; alice (already in its parent) becomes a member too."""
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=org(tenant, "mexbanco"),
        section="login",
        values={"authenticators": ["passkey"]},
    )
    job_run(job.pk)
    membership_add(actor=SYSTEM, organization=org(tenant, "mexbanco"), user=user(tenant, "alice"))
    cache.clear()


def last_decision(tenant: Tenant) -> dict[str, Any]:
    event = AuditEvent.objects.filter(tenant=tenant, action=AUDIT_ACTION).order_by("-pk").first()
    assert event is not None
    return dict(event.data)


# --- the steps a person takes ------------------------------------------------------------------
def continue_on_the_step_up_page(page: Any, organization_name: str) -> None:
    page.wait_for_url("**/t/mightybank/login/more/?**", timeout=WAIT_MS)
    assert page.locator("#stepup-heading").inner_text() == "One more step"
    assert organization_name in page.inner_text("main")
    page.locator("#stepup-continue").click()


def type_the_emailed_code(page: Any, smtp: Inbox) -> Callable[[], None]:
    """Fill in the code from the mail; the click that sends it (the caller waits for its end)."""
    page.wait_for_url("**/t/mightybank/login/email-code/**", timeout=WAIT_MS)
    assert len(smtp.messages) == 1, [m["Subject"] for m in smtp.messages]
    assert smtp.messages[0]["To"] == "alice@acme.example"
    page.get_by_label("Code").fill(code_in(smtp.messages[0]))
    return page.get_by_role("button", name="Continue").click


def use_the_passkey(page: Any) -> Callable[[], None]:
    """On the passkey page of the step-up: the click that has the virtual authenticator answer."""
    page.wait_for_url("**/t/mightybank/passkeys/verify/**", timeout=WAIT_MS)
    assert "Sign in with your passkey" in page.inner_text("h1")
    return page.get_by_role("button", name="Use my passkey").click


def pick(page: Any, organization_name: str) -> None:
    page.wait_for_url("**/t/mightybank/select-organization/**", timeout=WAIT_MS)
    page.get_by_role("button", name=organization_name).click()


# --- OIDC ----------------------------------------------------------------------------------------
def code_at_the_rp(page: Any, action: Callable[[], None], state: str) -> str:
    """Run ``action``; the code in the redirect it ends in. Nothing listens at the RP's address, and
    the request is what counts: with a CDP virtual authenticator added, ``page.route`` misses the
    redirect that follows a script's ``fetch`` then ``location.assign`` (the passkey page), so wait for it."""
    with page.expect_request(f"{RP_ORIGIN}/**", timeout=WAIT_MS) as callback:
        action()
    query = parse_qs(urlsplit(callback.value.url).query)
    assert query["state"] == [state] and "error" not in query, query
    return query["code"][0]


def redeem(canopy: str, code: str, verifier: str) -> dict[str, Any]:
    token = requests.post(
        f"{canopy}/t/mightybank/oauth/token/",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_WEB[2], "code_verifier": verifier},
        headers={"Authorization": basic(*DEMO_WEB[:2])},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return jwt_claims(token.json()["id_token"])


def test_stepping_up_with_the_emailed_code_after_picking_acme_bank(
    canopy: str, tenant: Tenant, browser: Any, smtp: Inbox
) -> None:
    require_email_otp(tenant, "acme-bank", enabled=True)
    context = browser.new_context()
    page = context.new_page()
    path, verifier = demo_web_authorize(tenant, scope="openid organization", state="st-otp", nonce="n-otp")
    page.goto(canopy + path)
    page.wait_for_url("**/t/mightybank/login/**", timeout=WAIT_MS)
    password_sign_in(page, "alice")
    assert smtp.messages == []  # no organization yet: the journey asks for the password only
    pick(page, "Acme Bank")
    page.wait_for_url("**/t/mightybank/login/more/?**", timeout=WAIT_MS)
    assert smtp.messages == []  # the step-up page explains; only its button sends the code
    page.screenshot(path=str(ARTIFACTS / "decision-step-up.png"), full_page=True)
    continue_on_the_step_up_page(page, "Acme Bank")
    claims = redeem(canopy, code_at_the_rp(page, type_the_emailed_code(page, smtp), "st-otp"), verifier)
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == MFA
    assert claims["org_id"] == str(org(tenant, "acme-bank").pk)
    decided = last_decision(tenant)
    assert decided["source"] == "picker" and decided["stepped_up"] == ["email_otp"]
    context.close()


def test_stepping_up_with_a_passkey_after_picking_mexbanco(canopy: str, tenant: Tenant, browser: Any) -> None:
    passkeys_only_at_mexbanco(tenant)
    page, cdp, authenticator = with_authenticator(browser)
    add_first_passkey(page, canopy, "alice")
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1
    path, verifier = demo_web_authorize(tenant, scope="openid organization", state="st-pk", nonce="n-pk")
    page.goto(canopy + path)
    page.wait_for_url("**/t/mightybank/login/**", timeout=WAIT_MS)
    password_sign_in(page, "alice")
    pick(page, "MexBanco")
    continue_on_the_step_up_page(page, "MexBanco")
    claims = redeem(canopy, code_at_the_rp(page, use_the_passkey(page), "st-pk"), verifier)
    assert "hwk" in claims["amr"] and "pwd" not in claims["amr"] and claims["acr"] == MFA
    assert claims["org_id"] == str(org(tenant, "mexbanco").pk)
    decided = last_decision(tenant)
    assert decided["source"] == "picker" and decided["stepped_up"] == ["passkey"]
    page.context.close()


# --- SAML ----------------------------------------------------------------------------------------
@pytest.fixture
def sp(canopy: str, tmp_path: Path) -> dict[str, Any]:
    """The independent SP (python3-saml), registered from its metadata, trusting the live server's."""
    metadata = requests.get(f"{canopy}/t/mightybank/saml/metadata", timeout=10)
    assert metadata.status_code == 200
    found = sp_settings(metadata.text)
    assert found["idp"]["singleSignOnService"]["url"] == f"{canopy}/t/mightybank/saml/sso/redirect"
    path = tmp_path / "sp.xml"
    path.write_bytes(sp_metadata(found))
    call_command("add_saml_sp", "--tenant", "mightybank", "--metadata-file", str(path), stdout=open(os.devnull, "w"))  # noqa: SIM115
    return found


def acs_answers(page: Any) -> list[dict[str, str]]:
    """The form posts the browser makes to the SP's ACS, decoded."""
    posted: list[dict[str, str]] = []

    def at_the_acs(route: Any) -> None:
        assert route.request.method == "POST" and route.request.url == SP_ACS
        posted.append({k: v[0] for k, v in parse_qs(route.request.post_data or "").items()})
        route.fulfill(status=200, content_type="text/plain", body="signed in at the SP")

    page.route(f"{SP_ORIGIN}/**", at_the_acs)
    return posted


def assert_mfa_assertion(sp: dict[str, Any], page: Any, posted: list[dict[str, str]], request_id: str) -> None:
    page.wait_for_url(SP_ACS, timeout=WAIT_MS)
    assert len(posted) == 1 and posted[0]["RelayState"] == "relay-123"
    auth = acs_receive(sp, posted[0], request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.is_authenticated()
    root = etree.fromstring(response_xml(posted[0]).encode())
    refs = root.findall(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnContextClassRef")
    assert [r.text for r in refs] == [AC_MFA]


def signed_in_with_the_password(page: Any, canopy: str, username: str) -> None:
    page.goto(f"{canopy}/t/mightybank/login/")
    password_sign_in(page, username)
    page.wait_for_url(f"{canopy}/t/mightybank/", timeout=WAIT_MS)


def test_stepping_up_with_the_emailed_code_for_a_saml_sp(
    canopy: str, tenant: Tenant, sp: dict[str, Any], browser: Any, smtp: Inbox
) -> None:
    require_email_otp(tenant, "acme-bank", enabled=True)
    context = browser.new_context()
    page = context.new_page()
    posted = acs_answers(page)
    signed_in_with_the_password(page, canopy, "alice")
    target, request_id = login_url(sp)
    page.goto(canopy + target + "&organization=acme-bank")
    continue_on_the_step_up_page(page, "Acme Bank")
    type_the_emailed_code(page, smtp)()
    assert_mfa_assertion(sp, page, posted, request_id)
    decided = last_decision(tenant)
    assert decided["source"] == "parameter" and decided["stepped_up"] == ["email_otp"]
    assert decided["organization_identifier"] == "acme-bank"
    context.close()


def test_stepping_up_with_a_passkey_for_a_saml_sp(
    canopy: str, tenant: Tenant, sp: dict[str, Any], browser: Any
) -> None:
    passkeys_only_at_mexbanco(tenant)
    page, _, _ = with_authenticator(browser)
    add_first_passkey(page, canopy, "alice")
    posted = acs_answers(page)
    signed_in_with_the_password(page, canopy, "alice")
    target, request_id = login_url(sp)
    page.goto(canopy + target + "&organization=mexbanco")
    continue_on_the_step_up_page(page, "MexBanco")
    use_the_passkey(page)()
    assert_mfa_assertion(sp, page, posted, request_id)
    decided = last_decision(tenant)
    assert decided["source"] == "parameter" and decided["stepped_up"] == ["passkey"]
    assert decided["organization_identifier"] == "mexbanco"
    page.context.close()
