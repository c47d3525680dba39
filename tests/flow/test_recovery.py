"""Password recovery by email link through a real local SMTP server: no account enumeration,
rate limits, single-use expiring links, and every session and token revoked on reset."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow.recovery import MSG_BAD_LINK, MSG_SENT
from idp.oidc.models import AccessToken, RefreshToken
from tenants.models import AuditEvent, Tenant
from tests.support.login import password_step
from tests.support.lookups import user
from tests.support.mail import Inbox
from tests.support.oidc import DEMO_WEB, authorize_url, basic, pkce, query_of

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a-brand-new-passphrase-42"  # noqa: S105 - a test value


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def link_in(message: Message) -> str:
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    found = re.search(r"http://\S+/t/mightybank/recover/reset/\?\S+", body)
    assert found, body
    return found.group(0).split("127.0.0.1:8000", 1)[-1]


def oidc_tokens(client: Client, tenant: Tenant) -> dict[str, str]:
    verifier, challenge = pkce()
    r = client.get(
        authorize_url(
            tenant,
            response_type="code",
            client_id=DEMO_WEB[0],
            redirect_uri=DEMO_WEB[2],
            scope="openid",
            state="s",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    assert r.status_code == 302 and r["Location"].startswith(DEMO_WEB[2]), r.content[:200]
    token = Client().post(
        "/t/mightybank/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": query_of(r["Location"])["code"],
            "redirect_uri": DEMO_WEB[2],
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION=basic(*DEMO_WEB[:2]),
    )
    assert token.status_code == 200, token.content
    return token.json()


def ask(client: Client, identifier: str):  # noqa: ANN201 - a test response
    return client.post("/t/mightybank/recover/", {"identifier": identifier})


def test_recovery_link_resets_the_password_and_revokes_everything(demo: Tenant, smtp: Inbox) -> None:
    signed_in = Client()
    assert password_step(signed_in, "/t/mightybank/")["Location"] == "/t/mightybank/"
    tokens = oidc_tokens(signed_in, demo)
    alice = user(demo, "alice")
    assert RefreshToken.objects.filter(user=alice, revoked__isnull=True).exists()

    password_page = Client()
    password_page.post("/t/mightybank/login/", {"identifier": "alice"})
    html = password_page.get("/t/mightybank/login/password/").content.decode()
    assert 'href="/t/mightybank/recover/"' in html and "Forgot your password?" in html

    browser = Client()
    r = ask(browser, "alice@acme.example")
    assert r.status_code == 303 and r["Location"] == "/t/mightybank/recover/?sent=1"
    assert MSG_SENT in browser.get(r["Location"]).content.decode()
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "alice@acme.example"
    assert smtp.messages[0]["Subject"] == "Reset your password"
    link = link_in(smtp.messages[0])

    opened = browser.get(link)
    assert opened.status_code == 302 and opened["Location"] == "/t/mightybank/recover/reset/"  # token out of the URL
    form = browser.get(opened["Location"])
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    mismatch = browser.post(opened["Location"], {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400 and "not the same" in mismatch.content.decode()
    weak = browser.post(opened["Location"], {"password": "123", "confirm": "123"})
    assert weak.status_code == 400
    done = browser.post(opened["Location"], {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done["Location"] == "/t/mightybank/recover/reset/?done=1"
    assert "Password changed" in browser.get(done["Location"]).content.decode()

    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert not RefreshToken.objects.filter(user=alice, revoked__isnull=True).exists()
    assert not AccessToken.objects.filter(user=alice).exists()
    refreshed = Client().post(
        "/t/mightybank/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_AUTHORIZATION=basic(*DEMO_WEB[:2]),
    )
    assert refreshed.status_code == 400
    home = signed_in.get("/t/mightybank/")
    assert home.status_code == 302 and urlsplit(home["Location"]).path == "/t/mightybank/login/"  # signed out
    assert AuditEvent.objects.filter(tenant=demo, action="password.reset").exists()

    # The link again (another browser): expired or used, a clear message, nothing changes.
    again = Client()
    r = again.get(link)
    r = again.get(r["Location"])
    assert r.status_code == 302 and r["Location"] == "/t/mightybank/recover/?bad=1"
    assert MSG_BAD_LINK in again.get(r["Location"]).content.decode()
    fresh = Client()
    fresh.post("/t/mightybank/login/", {"identifier": "alice"})
    signed = fresh.post("/t/mightybank/login/password/", {"password": NEW_PASSWORD})
    assert signed.status_code == 303 and signed["Location"] == "/t/mightybank/"
    assert fresh.session["canopy.auth"]["user_id"] == alice.pk


def test_unknown_accounts_get_the_same_answer_and_no_mail(demo: Tenant, smtp: Inbox) -> None:
    known = ask(Client(), "alice")
    unknown = ask(Client(), "nobody@nowhere.example")
    assert known.status_code == unknown.status_code == 303
    assert known["Location"] == unknown["Location"]
    assert len(smtp.messages) == 1


def test_an_expired_link_is_refused(demo: Tenant, smtp: Inbox, settings) -> None:
    ask(Client(), "alice")
    link = link_in(smtp.messages[0])
    settings.CANOPY_RECOVERY_SECONDS = -1  # its lifetime has passed
    browser = Client()
    r = browser.get(browser.get(link)["Location"])
    assert r["Location"] == "/t/mightybank/recover/?bad=1"
    posted = browser.post("/t/mightybank/recover/reset/", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert posted.status_code == 303 and posted["Location"] == "/t/mightybank/recover/?bad=1"
    assert user(demo, "alice").check_password("alice-demo-pass")


def test_a_tampered_link_or_one_for_another_tenant_is_refused(demo: Tenant, smtp: Inbox, world_b) -> None:
    ask(Client(), "alice")
    link = link_in(smtp.messages[0])
    browser = Client()
    tampered = link.replace("token=", "token=0")
    assert browser.get(browser.get(tampered)["Location"])["Location"] == "/t/mightybank/recover/?bad=1"
    other_slug = world_b.tenant.slug
    moved = link.replace("/t/mightybank/", f"/t/{other_slug}/")
    r = browser.get(moved)
    assert browser.get(r["Location"])["Location"] == f"/t/{other_slug}/recover/?bad=1"


def test_requests_are_rate_limited_whether_or_not_the_account_exists(demo: Tenant, smtp: Inbox) -> None:
    for identifier in ("alice", "nobody"):
        statuses = [ask(Client(), identifier).status_code for _ in range(4)]
        assert statuses == [303, 303, 303, 429], identifier
    assert len(smtp.messages) == 3


def test_the_forms_need_csrf(demo: Tenant) -> None:
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/t/mightybank/recover/", {"identifier": "alice"}).status_code == 403
    assert strict.post("/t/mightybank/recover/reset/", {"password": "x", "confirm": "x"}).status_code == 403
