"""Push approval as a second factor, against a real local push service (an HTTP server started here):
it checks the webhook's HMAC itself and posts signed callbacks to a live Canopy. Approve, deny,
bad signature, replay, another tenant, timeout with the email-code fallback, root-only settings,
and the waiting page in Chromium (JavaScript polling)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client

from idp.flow import push
from idp.flow.session import SESSION_AUTH, SESSION_LOGIN
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.lookups import org
from tests.support.mail import Inbox, code_in
from tests.support.push import PushService, sign
from tests.support.worlds import build_world

NEXT = "/t/mightybank/?organization=mexbanco"


def to_push_page(client: Client) -> str:
    r = client.post("/t/mightybank/login/", {"identifier": "bob", "next": NEXT})
    r = client.post(r["Location"], {"password": "bob-demo-pass", "next": NEXT})
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/push/", r.get("Location")
    return r["Location"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.setting("connections.push")
def test_the_challenge_lasts_the_configured_timeout(push_tenant: Tenant, push_service: PushService) -> None:
    client = Client()
    client.get(to_push_page(client))
    record = cache.get(push._key(push_service.received[-1]["id"]))
    assert 25 <= record["expires"] - time.time() <= 30  # connections.push.timeout_seconds is 30, not the default 60


@pytest.mark.django_db(transaction=True)
def test_approve_signs_in_with_mfa(push_tenant: Tenant, push_service: PushService) -> None:
    client = Client()
    page_url = to_push_page(client)
    page = client.get(page_url)
    assert page.status_code == 200 and "Approve on your device" in page.content.decode()
    assert 'http-equiv="refresh"' in page.content.decode() and "Email me a code instead" in page.content.decode()
    assert len(push_service.received) == 1 and push_service.bad_signatures == 0
    sent = push_service.received[0]
    assert sent["user"] == "bob" and sent["tenant"] == "mightybank" and sent["callback"].endswith("/push/callback/")
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "pending"}
    assert SESSION_AUTH not in client.session
    assert push_service.answer("approve").status_code == 204
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "approved"}
    done = client.get(page_url)
    assert done.status_code == 303 and done["Location"] == NEXT
    auth = client.session[SESSION_AUTH]
    assert auth["amr"] == ["pwd", "swk"] and auth["acr"] == "urn:canopy:acr:mfa"
    actions = set(AuditEvent.objects.filter(tenant=push_tenant).values_list("action", flat=True))
    assert {"login.push.sent", "login.push.approved"} <= actions


@pytest.mark.django_db(transaction=True)
def test_deny_refuses_the_sign_in(push_tenant: Tenant, push_service: PushService) -> None:
    client = Client()
    page_url = to_push_page(client)
    client.get(page_url)
    assert push_service.answer("deny").status_code == 204
    refused = client.get(page_url)
    assert refused.status_code == 403 and "denied on your device" in refused.content.decode()
    assert SESSION_AUTH not in client.session and SESSION_LOGIN not in client.session
    assert push_service.answer("approve").status_code == 409  # decided once


@pytest.mark.django_db(transaction=True)
def test_bad_signature_replay_and_another_tenant_are_refused(push_tenant: Tenant, push_service: PushService) -> None:
    client = Client()
    page_url = to_push_page(client)
    client.get(page_url)
    assert push_service.answer("approve", secret="not-the-secret").status_code == 401
    body, headers = push_service.callback("approve")
    stale = {**headers, "X-Canopy-Timestamp": str(int(time.time()) - 3600)}
    stale["X-Canopy-Signature"] = sign(stale["X-Canopy-Timestamp"], body)
    assert requests.post(push_service.received[-1]["callback"], data=body, headers=stale, timeout=10).status_code == 401
    other = build_world("tenant-b")
    elsewhere = push_service.received[-1]["callback"].replace("/t/mightybank/", f"/t/{other.tenant.slug}/")
    assert requests.post(elsewhere, data=body, headers=headers, timeout=10).status_code == 404
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "pending"}
    assert client.get(f"/t/{other.tenant.slug}/login/push/status/").json() == {"status": "expired"}
    assert client.get(f"/t/{other.tenant.slug}/login/push/")["Location"].startswith(f"/t/{other.tenant.slug}/login/")
    body, headers = push_service.callback("deny")
    first = requests.post(push_service.received[-1]["callback"], data=body, headers=headers, timeout=10)
    replay = requests.post(push_service.received[-1]["callback"], data=body, headers=headers, timeout=10)
    assert first.status_code == 204 and replay.status_code == 409
    assert "error" in replay.json()


@pytest.mark.django_db(transaction=True)
def test_timeout_offers_the_email_code_fallback(push_tenant: Tenant, push_service: PushService, smtp: Inbox) -> None:
    client = Client()
    page_url = to_push_page(client)
    client.get(page_url)
    key = push._key(push_service.received[-1]["id"])
    record = cache.get(key)
    record["expires"] = int(time.time()) - 1  # the device never answered
    cache.set(key, record)
    waited = client.get(page_url)
    html = waited.content.decode()
    assert "No answer came from your device in time" in html and "Email me a code instead" in html
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "expired"}
    assert push_service.answer("approve").status_code == 409  # too late
    fallback = client.post(page_url, {"action": "fallback", "next": NEXT})
    assert fallback.status_code == 303 and urlsplit(fallback["Location"]).path == "/t/mightybank/login/email-code/"
    done = client.post(fallback["Location"], {"code": code_in(smtp.messages[0]), "next": NEXT})
    assert done["Location"] == NEXT and client.session[SESSION_AUTH]["amr"] == ["pwd", "otp"]


@pytest.mark.django_db(transaction=True)
def test_push_settings_are_root_only_and_never_fall_back_to_the_password_alone(
    push_tenant: Tenant, push_service: PushService, settings: Any
) -> None:
    with pytest.raises(ValidationError, match="inherited from the root"):
        settings_override_set(
            actor=SYSTEM,
            tenant=push_tenant,
            organization=org(push_tenant, "mexbanco"),
            section="connections",
            values={"push": {"enabled": False, "timeout_seconds": 30}},
        )
    assert push.required(tenant=push_tenant, organization=org(push_tenant, "mexbanco").pk)  # inherited
    settings.CANOPY_PUSH_WEBHOOK_SECRET = ""  # no push service: never the password alone
    client = Client()
    page = client.get(to_push_page(client))
    assert page.status_code == 503 and "could not reach your device" in page.content.decode()
    assert "Email me a code instead" in page.content.decode() and SESSION_AUTH not in client.session
    assert push_service.received == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_waiting_page_moves_on_by_itself_in_chromium(
    push_tenant: Tenant, push_service: PushService, browser: Any, live_server: Any
) -> None:
    page = browser.new_page()
    page.goto(f"{live_server.url}/t/mightybank/login/?next=/t/mightybank/%3Forganization%3Dmexbanco")
    page.get_by_label("Username or email").fill("bob")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill("bob-demo-pass")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/push/**")
    assert "We sent a sign-in request to your device" in page.inner_text("#push-status")
    deadline = time.monotonic() + 10
    while not push_service.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert push_service.answer("approve").status_code == 204
    page.wait_for_url("**/t/mightybank/?organization=mexbanco", timeout=15000)
    assert "Signed in to MightyBank as bob" in page.inner_text("main")
    page.close()
