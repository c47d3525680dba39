"""Email OTP after the password, per organization: a real local SMTP server (aiosmtpd), the OIDC
authorize request's ``organization`` choosing the effective settings, tokens and SAML reporting MFA."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow.session import SESSION_AUTH, SESSION_LOGIN
from idp.oidc.validators import acr_for
from idp.saml.protocol import AC_MFA, AC_PASSWORD_PROTECTED, authn_context_for
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.login import id_token_after, password_step, require_email_otp, start_authorize
from tests.support.lookups import org
from tests.support.mail import Inbox, code_in

pytestmark = pytest.mark.django_db
NEXT_HOME = "/t/mightybank/"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.mark.setting("login.authenticators")
def test_acme_bank_asks_for_the_emailed_code_and_tokens_say_mfa(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, "acme-bank")
    client = Client()
    url, verifier = start_authorize(client, demo, "acme-bank")
    r = password_step(client, url)
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/email-code/"
    assert SESSION_AUTH not in client.session and "_auth_user_id" not in client.session  # not signed in yet
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "alice@acme.example" and message["Subject"] == "Your sign-in code"
    code = code_in(message)
    assert len(code) == 6
    stored = str(client.session[SESSION_LOGIN])
    assert code not in stored  # only its keyed hash is kept

    page = client.get(r["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and 'name="code"' in html and "csrfmiddlewaretoken" in html
    assert "a…@acme.example" in html and "alice@acme.example" not in html

    done = client.post(r["Location"], {"code": code, "next": url})
    assert done.status_code == 303 and done["Location"] == url
    auth = client.session[SESSION_AUTH]
    assert auth["amr"] == ["pwd", "otp"] and auth["acr"] == "urn:canopy:acr:mfa"
    claims = id_token_after(client, url, verifier)
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == "urn:canopy:acr:mfa"
    actions = set(AuditEvent.objects.filter(tenant=demo).values_list("action", flat=True))
    assert {"login.otp.sent", "login.otp.verified"} <= actions
    assert not any(code in str(e.data) for e in AuditEvent.objects.filter(tenant=demo))


def test_mightybank_americas_is_not_asked(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, "acme-bank")
    client = Client()
    url, verifier = start_authorize(client, demo, "mightybank-americas")
    r = password_step(client, url)
    assert r.status_code == 303 and r["Location"] == url
    assert smtp.messages == []
    assert client.session[SESSION_AUTH]["amr"] == ["pwd"]
    claims = id_token_after(client, url, verifier)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:canopy:acr:pwd"


@pytest.mark.setting("connections.email_otp")
def test_a_root_requirement_applies_without_organization_and_uses_the_configured_length(
    demo: Tenant, smtp: Inbox
) -> None:
    require_email_otp(demo, None, length=8)
    client = Client()
    r = password_step(client, NEXT_HOME)
    assert urlsplit(r["Location"]).path == "/t/mightybank/login/email-code/"
    code = code_in(smtp.messages[0])
    assert len(code) == 8
    assert client.post(r["Location"], {"code": code, "next": NEXT_HOME})["Location"] == NEXT_HOME


def test_wrong_expired_and_reused_codes_are_refused_with_no_session(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, None)
    client = Client()
    r = password_step(client, NEXT_HOME)
    page = r["Location"]
    first = code_in(smtp.messages[0])
    wrong = "000000" if first != "000000" else "111111"
    answer = client.post(page, {"code": wrong, "next": NEXT_HOME})
    assert answer.status_code == 400 and "That code is not right" in answer.content.decode()
    assert SESSION_AUTH not in client.session

    session = client.session  # the code's lifetime passes
    state = session[SESSION_LOGIN]
    state["otp"]["expires"] = 0
    session[SESSION_LOGIN] = state
    session.save()
    answer = client.post(page, {"code": first, "next": NEXT_HOME})
    assert answer.status_code == 400 and "That code has expired" in answer.content.decode()
    assert SESSION_AUTH not in client.session

    resent = client.post(page, {"action": "resend", "next": NEXT_HOME})
    assert resent.status_code == 303 and len(smtp.messages) == 2
    second = code_in(smtp.messages[1])
    too_soon = client.post(page, {"action": "resend", "next": NEXT_HOME})  # the cool-down
    assert too_soon.status_code == 429 and "before asking for another code" in too_soon.content.decode()
    assert len(smtp.messages) == 2
    if second != first:
        assert client.post(page, {"code": first, "next": NEXT_HOME}).status_code == 400  # replaced
    assert client.post(page, {"code": second, "next": NEXT_HOME})["Location"] == NEXT_HOME
    assert client.session[SESSION_AUTH]["amr"] == ["pwd", "otp"]

    # The same code again, from another browser that knows the password: refused, no session.
    other = Client()
    r = password_step(other, NEXT_HOME)
    reused = other.post(r["Location"], {"code": second, "next": NEXT_HOME})
    fresh = code_in(smtp.messages[2])
    if fresh != second:
        assert reused.status_code == 400 and "That code is not right" in reused.content.decode()
        assert SESSION_AUTH not in other.session
    # And once used, the page has nothing to check: back to the start.
    again = client.post(page, {"code": second, "next": NEXT_HOME})
    assert again.status_code == 303 and urlsplit(again["Location"]).path == "/t/mightybank/login/"


def test_brute_forcing_codes_locks_out_and_never_signs_in(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, None)
    client = Client()
    r = password_step(client, NEXT_HOME)
    page = r["Location"]
    code = code_in(smtp.messages[0])
    wrongs = [f"{n:06d}" for n in range(20) if f"{n:06d}" != code]
    statuses = [client.post(page, {"code": w, "next": NEXT_HOME}).status_code for w in wrongs[:5]]
    assert statuses == [400, 400, 400, 400, 429]
    last = client.post(page, {"code": code, "next": NEXT_HOME})
    assert last.status_code == 303 and urlsplit(last["Location"]).path == "/t/mightybank/login/"
    assert SESSION_AUTH not in client.session and "_auth_user_id" not in client.session
    # The identifier is locked: the password alone does not start a new challenge.
    again = password_step(Client(), NEXT_HOME)
    assert again.status_code == 429 and "Too many unsuccessful attempts" in again.content.decode()
    assert len(smtp.messages) == 1


def test_the_otp_page_needs_a_password_first_and_csrf(demo: Tenant) -> None:
    r = Client().get("/t/mightybank/login/email-code/")
    assert r.status_code == 302 and urlsplit(r["Location"]).path == "/t/mightybank/login/"
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/t/mightybank/login/email-code/", {"code": "123456"}).status_code == 403


def test_acr_and_saml_authn_context_agree() -> None:
    assert acr_for(["pwd"]) == "urn:canopy:acr:pwd" and authn_context_for(["pwd"]) == AC_PASSWORD_PROTECTED
    assert acr_for(["pwd", "otp"]) == "urn:canopy:acr:mfa" and authn_context_for(["pwd", "otp"]) == AC_MFA


def test_an_organization_override_of_the_otp_template_shows_in_the_mail(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, "acme-bank")
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=org(demo, "acme-bank"),
        section="templates",
        values={"email_otp": {"en": {"subject": "Acme Bank sign-in", "body": "Acme code: {code} ({minutes} min)"}}},
    )
    job_run(job.pk)
    cache.clear()
    client = Client()
    url, _ = start_authorize(client, demo, "acme-bank")
    password_step(client, url)
    message = smtp.messages[0]
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    text, signature = body.replace("\r\n", "\n").split("\n-- \n")  # the template's text, then the branding
    assert message["Subject"] == "Acme Bank sign-in" and re.fullmatch(r"Acme code: \d{6} \(5 min\)\s*", text)
    assert signature.strip() == demo.display_name  # Acme Bank sets no branding: the tenant's name
