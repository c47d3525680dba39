"""Self-service in a real Chromium: a passkey-only organization beside a password + code one for the same
user (CDP virtual authenticator), password recovery by the emailed code, and the account page's
email change. Mail is read from the real SMTP server of the ``smtp`` fixture."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from idp.flow.views import MSG_NO_PASSWORD
from orgs.tree.models import Membership
from tenants.models import Tenant, User
from tests.support.login import authenticators
from tests.support.lookups import org
from tests.support.mail import Inbox, code_in
from tests.support.oidc import DEMO_WEB, basic, demo_web_authorize, jwt_claims
from tests.support.paths import ARTIFACTS
from tests.support.webauthn import add_first_passkey, password_sign_in, sign_out, with_authenticator

pytestmark = pytest.mark.browser


def authorize_for(tenant: Tenant, organization: str, state: str) -> tuple[str, str]:
    return demo_web_authorize(
        tenant, scope="openid organization", state=state, nonce=f"n-{state}", organization=organization
    )


def id_token(base: str, callback_url: str, verifier: str) -> dict[str, Any]:
    code = parse_qs(urlsplit(callback_url).query)["code"][0]
    token = requests.post(
        f"{base}/t/mightybank/oauth/token/",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": DEMO_WEB[2], "code_verifier": verifier},
        headers={"Authorization": basic(*DEMO_WEB[:2])},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    return jwt_claims(token.json()["id_token"])


@pytest.mark.django_db(transaction=True)
def test_password_and_code_at_acme_bank_a_passkey_only_at_mexbanco(live_canopy: str, browser: Any, smtp: Inbox) -> None:
    tenant = Tenant.objects.get(slug="mightybank")
    authenticators(tenant, "acme-bank", ["password", "email_otp"])
    authenticators(tenant, "mexbanco", ["passkey"])
    alice = User.objects.get(tenant=tenant, username="alice")
    Membership.objects.create(tenant=tenant, user=alice, organization=org(tenant, "mexbanco"))
    page, _, _ = with_authenticator(browser)
    # Alice adds a passkey on her account page (a password sign-in at the tenant root).
    add_first_passkey(page, live_canopy, "alice")

    # Acme Bank: password, then the emailed code.
    path, verifier = authorize_for(tenant, "acme-bank", "st-acme")
    page.goto(live_canopy + path)
    password_sign_in(page, "alice")
    page.wait_for_url("**/t/mightybank/login/email-code/**")
    page.get_by_label("Code").fill(code_in(smtp.messages[-1]))
    with page.expect_request("http://127.0.0.1:8765/**") as callback:
        page.get_by_role("button", name="Continue").click()
    claims = id_token(live_canopy, callback.value.url, verifier)
    assert claims["amr"] == ["pwd", "otp"] and claims["org_id"] == str(org(tenant, "acme-bank").pk)
    sign_out(page, live_canopy)

    # MexBanco: no password field at all, only the passkey.
    path, verifier = authorize_for(tenant, "mexbanco", "st-mex")
    page.goto(live_canopy + path)
    page.get_by_label("Username or email").fill("alice")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/t/mightybank/passkeys/verify/**")
    assert page.locator("input[type=password]").count() == 0
    page.screenshot(path=str(ARTIFACTS / "passkey-only-organization.png"), full_page=True)
    with page.expect_request("http://127.0.0.1:8765/**") as callback:
        page.get_by_role("button", name="Use my passkey").click()
    claims = id_token(live_canopy, callback.value.url, verifier)
    assert claims["amr"] == ["hwk", "user"] and claims["org_id"] == str(org(tenant, "mexbanco").pk)
    # A password typed for MexBanco anyway (a direct POST from this browser, with its CSRF token) is refused.
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    refused = page.request.post(
        f"{live_canopy}/t/mightybank/login/password/",
        form={"password": "alice-demo-pass", "next": path, "csrfmiddlewaretoken": csrf},
        fail_on_status_code=False,
    )
    assert refused.status == 403 and MSG_NO_PASSWORD in refused.text()
    page.context.close()


def recovery_code(message: Any) -> str:
    body = message.get_payload(decode=True).decode()
    found = re.search(r"Or type this code on the page: (\d+)", body)
    assert found, body
    return found.group(1)


@pytest.mark.django_db(transaction=True)
def test_password_recovery_by_the_emailed_code(live_canopy: str, browser: Any, smtp: Inbox) -> None:
    page = browser.new_page()
    page.goto(f"{live_canopy}/t/mightybank/login/")
    page.get_by_label("Username or email").fill("bob")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Username or email").fill("bob")
    page.get_by_role("button", name="Send me a link").click()
    page.wait_for_url("**/t/mightybank/recover/?sent=1")
    assert [m["To"] for m in smtp.messages] == ["bob@mexbanco.example"]
    page.get_by_label("Code from the email").fill(recovery_code(smtp.messages[0]))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/t/mightybank/recover/reset/")
    page.get_by_label("New password", exact=True).fill("Bob-new-pass-2026!")
    page.get_by_label("New password again").fill("Bob-new-pass-2026!")
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/t/mightybank/recover/reset/?done=1")
    assert "Your password has been changed" in page.inner_text("main")
    page.screenshot(path=str(ARTIFACTS / "recovery-by-code-done.png"), full_page=True)

    page.goto(f"{live_canopy}/t/mightybank/login/")
    page.get_by_label("Username or email").fill("bob")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill("bob-demo-pass")  # the old one
    page.get_by_role("button", name="Sign in").click()
    assert "do not match" in page.get_by_role("alert").inner_text()
    page.get_by_label("Password").fill("Bob-new-pass-2026!")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_canopy}/t/mightybank/")
    assert "Signed in to MightyBank as bob" in page.inner_text("main")
    page.close()


@pytest.mark.django_db(transaction=True)
def test_an_email_change_on_the_account_page_with_the_mailed_code(live_canopy: str, browser: Any, smtp: Inbox) -> None:
    page = browser.new_page()
    page.goto(f"{live_canopy}/t/mightybank/account/")
    password_sign_in(page, "alice")
    page.wait_for_url(f"{live_canopy}/t/mightybank/account/")
    page.get_by_label("Email address").fill("alice.new@acme.example")
    page.get_by_role("button", name="Change email").click()
    page.wait_for_selector("#confirm-change")
    assert [m["To"] for m in smtp.messages] == ["alice.new@acme.example"]
    alice = User.objects.get(tenant__slug="mightybank", username="alice")
    assert alice.email == "alice@acme.example"  # unchanged until the code
    page.locator("#confirm-change").get_by_label("Code").fill(code_in(smtp.messages[0]))
    page.get_by_role("button", name="Confirm the change").click()
    page.wait_for_selector("text=Your email address was changed.")
    page.screenshot(path=str(ARTIFACTS / "account-email-changed.png"), full_page=True)
    alice.refresh_from_db()
    assert alice.email == "alice.new@acme.example"
    assert page.get_by_label("Email address").input_value() == "alice.new@acme.example"
    assert smtp.messages[-1]["To"] == "alice@acme.example"  # the old address is told
    page.close()
