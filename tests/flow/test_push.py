"""Push approval as a second factor, against a real local push service (an HTTP server started here):
it checks the webhook's HMAC itself and posts signed callbacks to a live Canopy. Approve, deny,
bad signature, replay, another tenant, timeout with the email-code fallback, root-only settings,
and the waiting page in Chromium (JavaScript polling)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client

from idp.flow import push
from idp.flow.session import SESSION_AUTH, SESSION_LOGIN
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.flow.test_otp_email import code_in
from tests.support.lookups import org
from tests.support.mail import Inbox
from tests.support.worlds import build_world

SECRET = "push-test-secret-0123456789"  # noqa: S105 - a test secret
NEXT = "/t/mightybank/?organization=mexbanco"


def sign(timestamp: str, body: bytes) -> str:
    """Computed here, independently of Canopy's code."""
    return "sha256=" + hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class PushService:
    """A tiny push service: records verified webhooks, and answers them with signed callbacks."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.bad_signatures = 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                timestamp = self.headers.get("X-Canopy-Timestamp", "")
                if not hmac.compare_digest(sign(timestamp, body), self.headers.get("X-Canopy-Signature", "")):
                    service.bad_signatures += 1
                    self.send_response(401)
                else:
                    service.received.append(json.loads(body))
                    self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, decision: str, *, secret: str = SECRET, url: str | None = None) -> requests.Response:
        body, headers = self.callback(decision, secret=secret)
        return requests.post(url or self.received[-1]["callback"], data=body, headers=headers, timeout=10)

    def callback(self, decision: str, *, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"id": self.received[-1]["id"], "decision": decision}).encode()
        timestamp = str(int(time.time()))
        mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Canopy-Timestamp": timestamp,
            "X-Canopy-Signature": f"sha256={mac}",
        }
        return body, headers


@pytest.fixture
def service() -> Iterator[PushService]:
    found = PushService()
    yield found
    found.server.shutdown()


@pytest.fixture
def canopy(live_server: Any, settings: Any, service: PushService) -> Tenant:
    """The demo tenant with push on at the root; the push service configured for the deployment."""
    settings.CANOPY_BASE_URL = live_server.url
    settings.CANOPY_PUSH_WEBHOOK_URL = service.url
    settings.CANOPY_PUSH_WEBHOOK_SECRET = SECRET
    cache.clear()
    call_command("quickstart", stdout=open("/dev/null", "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="mightybank")
    for section, values in (
        ("connections", {"push": {"enabled": True, "timeout_seconds": 30}}),
        ("login", {"authenticators": ["password", "push"]}),
    ):
        job_run(
            settings_override_set(actor=SYSTEM, tenant=tenant, organization=None, section=section, values=values).pk
        )
    cache.clear()
    return tenant


def to_push_page(client: Client) -> str:
    r = client.post("/t/mightybank/login/", {"identifier": "bob", "next": NEXT})
    r = client.post(r["Location"], {"password": "bob-demo-pass", "next": NEXT})
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/push/", r.get("Location")
    return r["Location"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.setting("connections.push")
def test_the_challenge_lasts_the_configured_timeout(canopy: Tenant, service: PushService) -> None:
    client = Client()
    client.get(to_push_page(client))
    record = cache.get(push._key(service.received[-1]["id"]))
    assert 25 <= record["expires"] - time.time() <= 30  # connections.push.timeout_seconds is 30, not the default 60


@pytest.mark.django_db(transaction=True)
def test_approve_signs_in_with_mfa(canopy: Tenant, service: PushService) -> None:
    client = Client()
    page_url = to_push_page(client)
    page = client.get(page_url)
    assert page.status_code == 200 and "Approve on your device" in page.content.decode()
    assert 'http-equiv="refresh"' in page.content.decode() and "Email me a code instead" in page.content.decode()
    assert len(service.received) == 1 and service.bad_signatures == 0
    sent = service.received[0]
    assert sent["user"] == "bob" and sent["tenant"] == "mightybank" and sent["callback"].endswith("/push/callback/")
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "pending"}
    assert SESSION_AUTH not in client.session
    assert service.answer("approve").status_code == 204
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "approved"}
    done = client.get(page_url)
    assert done.status_code == 303 and done["Location"] == NEXT
    auth = client.session[SESSION_AUTH]
    assert auth["amr"] == ["pwd", "swk"] and auth["acr"] == "urn:canopy:acr:mfa"
    actions = set(AuditEvent.objects.filter(tenant=canopy).values_list("action", flat=True))
    assert {"login.push.sent", "login.push.approved"} <= actions


@pytest.mark.django_db(transaction=True)
def test_deny_refuses_the_sign_in(canopy: Tenant, service: PushService) -> None:
    client = Client()
    page_url = to_push_page(client)
    client.get(page_url)
    assert service.answer("deny").status_code == 204
    refused = client.get(page_url)
    assert refused.status_code == 403 and "denied on your device" in refused.content.decode()
    assert SESSION_AUTH not in client.session and SESSION_LOGIN not in client.session
    assert service.answer("approve").status_code == 409  # decided once


@pytest.mark.django_db(transaction=True)
def test_bad_signature_replay_and_another_tenant_are_refused(canopy: Tenant, service: PushService) -> None:
    client = Client()
    page_url = to_push_page(client)
    client.get(page_url)
    assert service.answer("approve", secret="not-the-secret").status_code == 401
    body, headers = service.callback("approve")
    stale = {**headers, "X-Canopy-Timestamp": str(int(time.time()) - 3600)}
    stale["X-Canopy-Signature"] = sign(stale["X-Canopy-Timestamp"], body)
    assert requests.post(service.received[-1]["callback"], data=body, headers=stale, timeout=10).status_code == 401
    other = build_world("tenant-b")
    elsewhere = service.received[-1]["callback"].replace("/t/mightybank/", f"/t/{other.tenant.slug}/")
    assert requests.post(elsewhere, data=body, headers=headers, timeout=10).status_code == 404
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "pending"}
    assert client.get(f"/t/{other.tenant.slug}/login/push/status/").json() == {"status": "expired"}
    assert client.get(f"/t/{other.tenant.slug}/login/push/")["Location"].startswith(f"/t/{other.tenant.slug}/login/")
    body, headers = service.callback("deny")
    first = requests.post(service.received[-1]["callback"], data=body, headers=headers, timeout=10)
    replay = requests.post(service.received[-1]["callback"], data=body, headers=headers, timeout=10)
    assert first.status_code == 204 and replay.status_code == 409
    assert "error" in replay.json()


@pytest.mark.django_db(transaction=True)
def test_timeout_offers_the_email_code_fallback(canopy: Tenant, service: PushService, smtp: Inbox) -> None:
    client = Client()
    page_url = to_push_page(client)
    client.get(page_url)
    key = push._key(service.received[-1]["id"])
    record = cache.get(key)
    record["expires"] = int(time.time()) - 1  # the device never answered
    cache.set(key, record)
    waited = client.get(page_url)
    html = waited.content.decode()
    assert "No answer came from your device in time" in html and "Email me a code instead" in html
    assert client.get("/t/mightybank/login/push/status/").json() == {"status": "expired"}
    assert service.answer("approve").status_code == 409  # too late
    fallback = client.post(page_url, {"action": "fallback", "next": NEXT})
    assert fallback.status_code == 303 and urlsplit(fallback["Location"]).path == "/t/mightybank/login/email-code/"
    done = client.post(fallback["Location"], {"code": code_in(smtp.messages[0]), "next": NEXT})
    assert done["Location"] == NEXT and client.session[SESSION_AUTH]["amr"] == ["pwd", "otp"]


@pytest.mark.django_db(transaction=True)
def test_push_settings_are_root_only_and_never_fall_back_to_the_password_alone(
    canopy: Tenant, service: PushService, settings: Any
) -> None:
    with pytest.raises(ValidationError, match="inherited from the root"):
        settings_override_set(
            actor=SYSTEM,
            tenant=canopy,
            organization=org(canopy, "mexbanco"),
            section="connections",
            values={"push": {"enabled": False, "timeout_seconds": 30}},
        )
    assert push.required(tenant=canopy, organization=org(canopy, "mexbanco").pk)  # inherited
    settings.CANOPY_PUSH_WEBHOOK_SECRET = ""  # no push service: never the password alone
    client = Client()
    page = client.get(to_push_page(client))
    assert page.status_code == 503 and "could not reach your device" in page.content.decode()
    assert "Email me a code instead" in page.content.decode() and SESSION_AUTH not in client.session
    assert service.received == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_waiting_page_moves_on_by_itself_in_chromium(
    canopy: Tenant, service: PushService, browser: Any, live_server: Any
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
    while not service.received and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.answer("approve").status_code == 204
    page.wait_for_url("**/t/mightybank/?organization=mexbanco", timeout=15000)
    assert "Signed in to MightyBank as bob" in page.inner_text("main")
    page.close()
