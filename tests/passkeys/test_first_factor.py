"""Organizations whose first factor is not a password (``idp.flow.firstfactor``), passkeys as a step-up
factor for ``acr_values`` (``idp.flow.stepup`` through ``idp.flow.factors``), the passkey endpoints'
rate limit, and a password reset ending the sessions the account page lists.

Real bytes from the software authenticator (tests/support/webauthn.py), real mail (``smtp``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from idp.account.models import SessionRecord
from idp.flow.recovery import password_reset
from idp.flow.session import SESSION_AUTH, SESSION_LOGIN
from idp.flow.views import MSG_NO_PASSWORD
from idp.passkeys import views as passkey_views
from idp.passkeys.models import PasskeyCredential
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from orgs.tree.models import Membership
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.login import authenticators, authorize_next, id_token_after, password_step
from tests.support.lookups import org, user
from tests.support.mail import Inbox, code_in
from tests.support.oidc import journey, mfa_authorize, tokens_for
from tests.support.push import PushService
from tests.support.webauthn import BASE, RP_ID, SoftAuthenticator, enroll, post_json, url
from tests.support.worlds import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relying_party")]


def identifier_step(client: Client, next_url: str, username: str) -> Any:
    return client.post("/t/mightybank/login/", {"identifier": username, "next": next_url})


@pytest.mark.setting("login.authenticators")
def test_a_passkey_only_organization_asks_no_password_and_refuses_one(demo: Tenant) -> None:
    authenticators(demo, "mexbanco", ["passkey"])
    bob = user(demo, "bob")
    key = enroll(demo, bob)
    authorize, verifier = authorize_next(demo, "mexbanco")
    client = Client()
    step = identifier_step(client, authorize, "bob")
    assert step.status_code == 303 and urlsplit(step["Location"]).path == "/t/mightybank/passkeys/verify/"
    page = client.get(step["Location"]).content.decode()
    assert "Sign in with your passkey" in page and "Use my passkey" in page and 'type="password"' not in page

    # The password endpoint refuses a direct POST, with the right password, and signs no one in.
    refused = client.post("/t/mightybank/login/password/", {"password": "bob-demo-pass", "next": authorize})
    assert refused.status_code == 403 and MSG_NO_PASSWORD in refused.content.decode()
    assert SESSION_AUTH not in client.session and SESSION_LOGIN not in client.session
    # Not even with a password step begun elsewhere (an organization that allows passwords).
    other = Client()
    assert identifier_step(other, "/t/mightybank/", "bob").status_code == 303
    sneaky = other.post("/t/mightybank/login/password/", {"password": "bob-demo-pass", "next": authorize})
    assert sneaky.status_code == 403 and SESSION_AUTH not in other.session

    # The passkey alone signs in, with user verification required (it is the whole sign-in).
    step = identifier_step(client, authorize, "bob")
    options = post_json(client, url(demo, "authenticate_options"), {"mode": "flow"}).json()
    assert options["userVerification"] == "required"
    assert [c["id"] for c in options["allowCredentials"]] == [key.credential_id_b64]
    done = post_json(
        client, url(demo, "authenticate"), {"mode": "flow", "credential": key.get(options), "next": authorize}
    )
    assert done.status_code == 200 and done.json()["redirect"] == authorize, done.content
    claims = id_token_after(client, authorize, verifier)
    assert claims["amr"] == ["hwk", "user"] and claims["acr"] == "urn:canopy:acr:mfa"
    assert claims["org_id"] == str(org(demo, "mexbanco").pk)


def test_a_passkey_without_user_verification_cannot_be_the_first_factor(demo: Tenant) -> None:
    authenticators(demo, "mexbanco", ["passkey"])
    key = enroll(demo, user(demo, "bob"), user_verifies=False)
    authorize, _ = authorize_next(demo, "mexbanco")
    client = Client()
    identifier_step(client, authorize, "bob")
    options = post_json(client, url(demo, "authenticate_options"), {"mode": "flow"}).json()
    refused = post_json(
        client, url(demo, "authenticate"), {"mode": "flow", "credential": key.get(options), "next": authorize}
    )
    assert refused.status_code == 400 and SESSION_AUTH not in client.session


def test_no_passkey_yet_an_emailed_code_then_a_new_passkey(demo: Tenant, smtp: Inbox) -> None:
    authenticators(demo, "mexbanco", ["passkey", "email_otp"])
    bob = user(demo, "bob")
    authorize, verifier = authorize_next(demo, "mexbanco")
    client = Client()
    step = identifier_step(client, authorize, "bob")
    page = client.get(step["Location"]).content.decode()
    assert "You have no passkey for signing in here yet" in page and "Email me a code to set up a passkey" in page
    # Nothing proved yet: no passkey can be registered on a bare identifier.
    early = post_json(client, url(demo, "register_options"), {"mode": "flow"})
    assert early.status_code == 403 and early.json()["error"] == passkey_views.MSG_PROVE_FIRST

    bootstrap = reverse("flow:first_bootstrap", kwargs={"tenant_slug": demo.slug})
    sent = client.post(bootstrap, {"next": authorize})
    assert sent.status_code == 303 and urlsplit(sent["Location"]).path == "/t/mightybank/login/email-code/"
    assert [m["To"] for m in smtp.messages] == ["bob@mexbanco.example"]
    passed = client.post(sent["Location"], {"code": code_in(smtp.messages[0]), "next": authorize})
    assert passed.status_code == 303 and urlsplit(passed["Location"]).path == "/t/mightybank/passkeys/verify/"
    assert SESSION_AUTH not in client.session  # the code alone does not sign in
    assert "Create a passkey" in client.get(passed["Location"]).content.decode()
    key = SoftAuthenticator(rp_id=RP_ID, origin=BASE)
    options = post_json(client, url(demo, "register_options"), {"mode": "flow"}).json()
    done = post_json(
        client, url(demo, "register"), {"mode": "flow", "credential": key.create(options), "next": authorize}
    )
    assert done.status_code == 200 and done.json()["redirect"] == authorize, done.content
    assert PasskeyCredential.objects.filter(tenant=demo, user=bob).count() == 1
    claims = id_token_after(client, authorize, verifier)
    assert claims["amr"] == ["otp", "hwk", "user"] and claims["acr"] == "urn:canopy:acr:mfa"


def test_an_unknown_identifier_gets_the_same_pages_and_no_code_works(demo: Tenant, smtp: Inbox) -> None:
    authenticators(demo, "mexbanco", ["passkey", "email_otp"])
    authorize, _ = authorize_next(demo, "mexbanco")
    known, unknown = Client(), Client()
    known_page = known.get(identifier_step(known, authorize, "bob")["Location"]).content.decode()
    unknown_page = unknown.get(identifier_step(unknown, authorize, "nobody")["Location"]).content.decode()
    assert (
        known_page.replace("bob", "X").split("csrfmiddlewaretoken")[0]
        == unknown_page.replace("nobody", "X").split("csrfmiddlewaretoken")[0]
    )
    bootstrap = reverse("flow:first_bootstrap", kwargs={"tenant_slug": demo.slug})
    sent = unknown.post(bootstrap, {"next": authorize})
    assert urlsplit(sent["Location"]).path == "/t/mightybank/login/email-code/"
    assert "Enter the code we emailed you" in unknown.get(sent["Location"]).content.decode()
    assert smtp.messages == []
    for _ in range(4):
        wrong = unknown.post(sent["Location"], {"code": "123456", "next": authorize})
        assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    spent = unknown.post(sent["Location"], {"code": "123456", "next": authorize})
    assert spent.status_code == 429 and SESSION_LOGIN not in unknown.session and SESSION_AUTH not in unknown.session


def test_without_email_codes_a_user_with_no_passkey_is_told_to_ask(demo: Tenant) -> None:
    authenticators(demo, "mexbanco", ["passkey"])
    authorize, _ = authorize_next(demo, "mexbanco")
    client = Client()
    page = client.get(identifier_step(client, authorize, "bob")["Location"]).content.decode()
    assert "You have no passkey for signing in here yet" in page and "Ask your administrator" in page
    assert "Email me a code" not in page
    bootstrap = reverse("flow:first_bootstrap", kwargs={"tenant_slug": demo.slug})
    assert client.post(bootstrap, {"next": authorize}).status_code == 403
    assert SESSION_AUTH not in client.session


def test_codes_alone_as_the_first_factor(demo: Tenant, smtp: Inbox) -> None:
    authenticators(demo, "mexbanco", ["email_otp"])
    authorize, verifier = authorize_next(demo, "mexbanco")
    client = Client()
    step = identifier_step(client, authorize, "bob")
    assert urlsplit(step["Location"]).path == "/t/mightybank/login/email-code/"
    client.post(step["Location"], {"code": code_in(smtp.messages[0]), "next": authorize})
    claims = id_token_after(client, authorize, verifier)
    assert claims["amr"] == ["otp"]


def test_the_same_user_gets_password_and_code_at_acme_bank_and_a_passkey_at_mexbanco(demo: Tenant, smtp: Inbox) -> None:
    authenticators(demo, "acme-bank", ["password", "email_otp"])
    authenticators(demo, "mexbanco", ["passkey"])
    alice = user(demo, "alice")
    Membership.objects.create(tenant=demo, user=alice, organization=org(demo, "mexbanco"))
    key = enroll(demo, alice)
    acme, acme_verifier = authorize_next(demo, "acme-bank")
    client = Client()
    step = password_step(client, acme, username="alice")
    assert urlsplit(step["Location"]).path == "/t/mightybank/login/email-code/"
    client.post(step["Location"], {"code": code_in(smtp.messages[0]), "next": acme})
    assert id_token_after(client, acme, acme_verifier)["amr"] == ["pwd", "otp"]

    mex, mex_verifier = authorize_next(demo, "mexbanco")
    other = Client()
    step = identifier_step(other, mex, "alice")
    assert urlsplit(step["Location"]).path == "/t/mightybank/passkeys/verify/"
    options = post_json(other, url(demo, "authenticate_options"), {"mode": "flow"}).json()
    post_json(other, url(demo, "authenticate"), {"mode": "flow", "credential": key.get(options), "next": mex})
    claims = id_token_after(other, mex, mex_verifier)
    assert claims["amr"] == ["hwk", "user"] and claims["org_id"] == str(org(demo, "mexbanco").pk)


# --- step-up with a passkey (acr_values) ----------------------------------------------------------


def test_a_password_session_steps_up_with_a_passkey_for_acr_values_mfa(demo: Tenant, smtp: Inbox) -> None:
    from tests.support.oidc import sign_in

    alice = user(demo, "alice")
    key = enroll(demo, alice)
    client = Client()
    sign_in(client, demo, alice)  # a password session
    authorize, verifier = mfa_authorize(demo)
    r = client.get(authorize)
    assert r.status_code == 302 and "prompt=login" in r["Location"]
    answer, next_url = journey(client, r["Location"])
    # The passkey comes before the emailed code the organization also enables.
    assert answer.status_code == 303 and urlsplit(answer["Location"]).path == "/t/mightybank/passkeys/verify/"
    assert smtp.messages == []
    assert "Confirm it is you with one of your passkeys" in client.get(answer["Location"]).content.decode()
    options = post_json(client, url(demo, "authenticate_options"), {"mode": "flow"}).json()
    done = post_json(
        client, url(demo, "authenticate"), {"mode": "flow", "credential": key.get(options), "next": next_url}
    )
    assert done.status_code == 200 and done.json()["redirect"] == next_url
    claims = tokens_for(client.get(next_url)["Location"], verifier)
    assert claims["acr"] == "urn:canopy:acr:mfa" and "hwk" in claims["amr"] and "pwd" in claims["amr"]


def test_without_a_passkey_step_up_still_uses_the_code(demo: Tenant, smtp: Inbox) -> None:
    client = Client()
    authorize, _ = mfa_authorize(demo)
    answer, _ = journey(client, client.get(authorize)["Location"])
    assert urlsplit(answer["Location"]).path == "/t/mightybank/login/email-code/" and len(smtp.messages) == 1


# --- loose ends ---------------------------------------------------------------------------------


def test_the_passkey_endpoints_are_rate_limited_per_address(demo: Tenant) -> None:
    client = Client()
    limit = passkey_views.RATE_LIMITS["options"]
    for _ in range(limit):
        assert post_json(client, url(demo, "authenticate_options"), {"mode": "sign-in"}).status_code == 200
    refused = post_json(client, url(demo, "authenticate_options"), {"mode": "sign-in"})
    assert refused.status_code == 429 and refused.json()["error"] == passkey_views.MSG_TOO_MANY
    answers = passkey_views.RATE_LIMITS["answer"]
    for _ in range(answers):
        assert post_json(client, url(demo, "authenticate"), {"mode": "sign-in", "credential": {}}).status_code == 400
    assert post_json(client, url(demo, "authenticate"), {"mode": "sign-in", "credential": {}}).status_code == 429
    assert post_json(Client(REMOTE_ADDR="10.0.0.9"), url(demo, "authenticate_options"), {}).status_code == 200


def test_a_password_reset_ends_the_sessions_the_account_page_lists(demo: Tenant) -> None:
    alice = user(demo, "alice")
    browsers = [Client(), Client()]
    for browser in browsers:
        password_step(browser, "/t/mightybank/", username="alice")
    keys = list(SessionRecord.objects.filter(tenant=demo, user=alice).values_list("session_key", flat=True))
    assert len(keys) == 2 and Session.objects.filter(session_key__in=keys).count() == 2
    password_reset(tenant=demo, user=alice, password="a-New-pass-2026!")
    assert not SessionRecord.objects.filter(tenant=demo, user=alice).exists()
    assert not Session.objects.filter(session_key__in=keys).exists()
    event = AuditEvent.objects.filter(tenant=demo, action="password.reset").latest("pk")
    assert event.data["credentials_revoked"] >= 2
    assert browsers[0].get("/t/mightybank/account/").status_code == 302  # signed out


@pytest.mark.django_db(transaction=True)
def test_push_serves_a_step_up_where_it_is_enabled(push_tenant: Tenant, push_service: PushService) -> None:
    """Push is on at the root but not required: a client's acr_values=mfa is met by approving on the device."""
    job_run(
        settings_override_set(
            actor=SYSTEM,
            tenant=push_tenant,
            organization=None,
            section="login",
            values={"authenticators": ["password"]},
        ).pk
    )
    cache.clear()
    client = Client()
    authorize, verifier = mfa_authorize(push_tenant)
    answer, next_url = journey(client, client.get(authorize)["Location"])
    assert urlsplit(answer["Location"]).path == "/t/mightybank/login/push/"
    assert client.get(answer["Location"]).status_code == 200 and push_service.received[-1]["user"] == "alice"
    assert push_service.answer("approve").status_code == 204
    assert client.get(answer["Location"])["Location"] == next_url
    claims = tokens_for(client.get(next_url)["Location"], verifier)
    assert claims["acr"] == "urn:canopy:acr:mfa" and claims["amr"] == ["pwd", "swk"]


def test_the_bootstrap_needs_this_tenants_passkey_step(world_a: World, world_b: World, smtp: Inbox) -> None:
    """A journey begun in one tenant does not start the emailed-code bootstrap in another."""
    for world in (world_a, world_b):
        job_run(
            settings_override_set(
                actor=SYSTEM,
                tenant=world.tenant,
                organization=None,
                section="login",
                values={"authenticators": ["passkey", "email_otp"]},
            ).pk
        )
    cache.clear()
    client = Client()
    step = client.post(f"/t/{world_a.tenant.slug}/login/", {"identifier": world_a.member.username})
    assert urlsplit(step["Location"]).path == f"/t/{world_a.tenant.slug}/passkeys/verify/"
    other = client.post(reverse("flow:first_bootstrap", kwargs={"tenant_slug": world_b.tenant.slug}))
    assert other.status_code == 303 and other["Location"].startswith(f"/t/{world_b.tenant.slug}/login/")
    assert smtp.messages == []
    assert Client().post("/t/no-such-tenant/login/first-passkey/").status_code == 404
