"""Passkeys in a real Chromium with a virtual authenticator (Chrome DevTools Protocol ``WebAuthn``).

The live server answers on http://localhost:<port> (a secure context for WebAuthn), and
``CANOPY_BASE_URL`` is set to it, so the relying-party id is ``localhost``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.cache import cache

from idp.passkeys import services
from idp.passkeys.models import PasskeyCredential
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.lookups import org
from tests.support.oidc import DEMO_WEB, basic, demo_web_authorize, jwt_claims
from tests.support.paths import ARTIFACTS
from tests.support.webauthn import add_first_passkey, password_sign_in, sign_out, with_authenticator

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_add_a_passkey_then_sign_in_without_a_username_to_an_oidc_client(live_canopy: str, browser: Any) -> None:
    page, cdp, authenticator = with_authenticator(browser)
    page.goto(f"{live_canopy}/t/mightybank/account/")
    page.wait_for_url("**/t/mightybank/login/**")
    password_sign_in(page, "alice")
    page.wait_for_url(f"{live_canopy}/t/mightybank/account/")
    page.get_by_label("Name for a new passkey (optional)").fill("Test laptop")
    page.get_by_role("button", name="Add a passkey").click()
    page.wait_for_selector("text=Test laptop")
    stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]
    assert len(stored) == 1 and stored[0]["isResidentCredential"] and stored[0]["rpId"] == "localhost"
    row = PasskeyCredential.objects.get(user__username="alice")
    assert row.name == "Test laptop" and row.credential_id == stored[0]["credentialId"].rstrip("=").replace(
        "+", "-"
    ).replace("/", "_")
    page.screenshot(path=str(ARTIFACTS / "account-passkeys.png"), full_page=True)
    sign_out(page, live_canopy)

    tenant = Tenant.objects.get(slug="mightybank")
    path, verifier = demo_web_authorize(tenant, scope="openid", state="st-pk", nonce="n-pk")
    page.goto(live_canopy + path)
    page.wait_for_url("**/t/mightybank/login/**")
    page.get_by_role("link", name="Sign in with a passkey").click()
    page.wait_for_url("**/t/mightybank/passkeys/sign-in/**")
    page.screenshot(path=str(ARTIFACTS / "passkey-sign-in.png"), full_page=True)
    # The demo client's redirect URI has no server here: the request itself is what we want.
    with page.expect_request("http://127.0.0.1:8765/**") as callback:
        page.get_by_role("button", name="Sign in with a passkey").click()
    query = parse_qs(urlsplit(callback.value.url).query)
    assert query["state"] == ["st-pk"]
    token = requests.post(
        f"{live_canopy}/t/mightybank/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "redirect_uri": DEMO_WEB[2],
            "code_verifier": verifier,
        },
        headers={"Authorization": basic(*DEMO_WEB[:2])},
        timeout=10,
    )
    assert token.status_code == 200, token.text
    claims = jwt_claims(token.json()["id_token"])
    assert "hwk" in claims["amr"] and "user" in claims["amr"] and claims["acr"] == "urn:canopy:acr:mfa"
    page.context.close()


@pytest.mark.django_db(transaction=True)
def test_an_answer_for_another_relying_party_is_refused_on_the_page(
    live_canopy: str, browser: Any, settings: Any
) -> None:
    """The authenticator signs for ``localhost``; the server then expects another RP id and must refuse."""
    page, _, _ = with_authenticator(browser)
    add_first_passkey(page, live_canopy, "alice")

    def expect_another_rp(route: Any) -> None:
        settings.CANOPY_BASE_URL = live_canopy.replace("localhost", "login.example")
        route.continue_()

    page.route("**/t/mightybank/passkeys/authenticate/", expect_another_rp)
    page.goto(f"{live_canopy}/t/mightybank/passkeys/sign-in/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    alert = page.locator("#passkey-error")
    alert.wait_for(state="visible")
    assert alert.inner_text() == services.MSG_NOT_VERIFIED
    settings.CANOPY_BASE_URL = live_canopy
    page.goto(f"{live_canopy}/t/mightybank/account/")
    page.wait_for_url("**/t/mightybank/login/**")  # not signed in
    page.context.close()


@pytest.mark.django_db(transaction=True)
def test_mexbanco_asks_for_a_passkey_after_the_password(live_canopy: str, browser: Any) -> None:
    tenant = Tenant.objects.get(slug="mightybank")
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=org(tenant, "mexbanco"),
        section="login",
        values={"authenticators": ["password", "passkey"]},
    )
    job_run(job.pk)
    cache.clear()
    page, cdp, authenticator = with_authenticator(browser)
    start = f"{live_canopy}/t/mightybank/login/?next=/t/mightybank/%3Forganization%3Dmexbanco"
    page.goto(start)
    password_sign_in(page, "bob")
    page.wait_for_url("**/t/mightybank/passkeys/verify/**")
    page.get_by_role("button", name="Create a passkey").click()
    page.wait_for_url("**/t/mightybank/?organization=mexbanco")
    assert "Signed in to MightyBank as bob" in page.inner_text("main")
    assert len(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})["credentials"]) == 1
    sign_out(page, live_canopy)

    page.goto(start)
    password_sign_in(page, "bob")
    page.wait_for_url("**/t/mightybank/passkeys/verify/**")
    page.screenshot(path=str(ARTIFACTS / "passkey-second-factor.png"), full_page=True)
    page.get_by_role("button", name="Use my passkey").click()
    page.wait_for_url("**/t/mightybank/?organization=mexbanco")
    assert "Signed in to MightyBank as bob" in page.inner_text("main")
    assert PasskeyCredential.objects.get(user__username="bob").sign_count >= 1
    page.context.close()
