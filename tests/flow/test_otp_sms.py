"""SMS OTP through the gateway interface: the webhook gateway against a real local HTTP server
started here (checking its HMAC-SHA-256 signature), the console/file gateway, and the login step."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow import sms
from idp.flow.session import SESSION_AUTH
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.login import password_step
from tests.support.lookups import org, user
from tests.support.mail import Inbox, code_in

pytestmark = pytest.mark.django_db
SECRET = "webhook-test-secret"  # noqa: S105 - a test value
NEXT = "/t/mightybank/?organization=acme-bank"


class Received:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = 200


@pytest.fixture
def sms_server(settings) -> Iterator[Received]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.calls.append(
                {
                    "path": self.path,
                    "body": body,
                    "timestamp": self.headers.get("X-Canopy-Timestamp", ""),
                    "signature": self.headers.get("X-Canopy-Signature", ""),
                    "content_type": self.headers.get("Content-Type", ""),
                }
            )
            self.send_response(received.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CANOPY_SMS_GATEWAY = "webhook"
    settings.CANOPY_SMS_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/sms"
    settings.CANOPY_SMS_WEBHOOK_SECRET = SECRET
    try:
        yield received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def verified(call: dict[str, Any]) -> dict[str, Any]:
    """What a receiver does: recompute the HMAC over "<timestamp>.<body>" and compare."""
    expected = hmac.new(SECRET.encode(), call["timestamp"].encode() + b"." + call["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(call["signature"], f"sha256={expected}")
    assert abs(int(call["timestamp"]) - time.time()) < 60
    assert call["content_type"] == "application/json" and call["path"] == "/sms"
    return json.loads(call["body"])


def require(tenant: Tenant, identifier: str, authenticators: list[str]) -> None:
    organization = org(tenant, identifier)
    for section, values in (
        ("login", {"authenticators": authenticators}),
        ("connections", {"sms_otp": {"enabled": True, "length": 6, "ttl_seconds": 300}}),
    ):
        job_run(
            settings_override_set(
                actor=SYSTEM, tenant=tenant, organization=organization, section=section, values=values
            ).pk
        )
    cache.clear()


def with_phone(tenant: Tenant, username: str = "alice", number: str = "+15550100123") -> None:
    who = user(tenant, username)
    who.phone_number = number
    who.save(update_fields=["phone_number"])


def sms_code(text: str) -> str:
    found = re.search(r"\b(\d{4,10})\b", text)
    assert found, text
    return found.group(1)


def test_the_webhook_gateway_signs_its_posts(sms_server: Received) -> None:
    sms.gateway().send(to="+15550100123", text="Your code is 123456.")
    payload = verified(sms_server.calls[0])
    assert payload["to"] == "+15550100123" and payload["text"] == "Your code is 123456." and payload["id"]
    forged = dict(sms_server.calls[0], body=sms_server.calls[0]["body"].replace(b"123456", b"654321"))
    with pytest.raises(AssertionError):
        verified(forged)
    sms_server.status = 500
    with pytest.raises(sms.SmsError):
        sms.gateway().send(to="+15550100123", text="x")


def test_the_console_gateway_writes_one_json_line_per_message(settings, tmp_path) -> None:
    settings.CANOPY_SMS_GATEWAY = "console"
    settings.CANOPY_SMS_FILE = str(tmp_path / "sms.jsonl")
    sms.gateway().send(to="+15550100123", text="Your code is 123456.")
    sms.gateway().send(to="+15550100124", text="Your code is 654321.")
    lines = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert [(m["to"], m["text"]) for m in lines] == [
        ("+15550100123", "Your code is 123456."),
        ("+15550100124", "Your code is 654321."),
    ]
    settings.CANOPY_SMS_GATEWAY = "pigeon"
    with pytest.raises(sms.SmsError):
        sms.gateway()


@pytest.mark.setting("connections.sms_otp")
def test_acme_bank_sends_the_code_by_sms_and_records_it(demo: Tenant, sms_server: Received) -> None:
    require(demo, "acme-bank", ["password", "sms_otp"])
    with_phone(demo)
    client = Client()
    r = password_step(client, NEXT)
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/sms-code/"
    assert SESSION_AUTH not in client.session
    payload = verified(sms_server.calls[0])
    assert payload["to"] == "+15550100123"
    code = sms_code(payload["text"])
    page = client.get(r["Location"]).content.decode()
    assert "texted you" in page and "ending in 23" in page and "+15550100123" not in page
    wrong = client.post(r["Location"], {"code": "000000" if code != "000000" else "111111", "next": NEXT})
    assert wrong.status_code == 400 and SESSION_AUTH not in client.session
    done = client.post(r["Location"], {"code": code, "next": NEXT})
    assert done.status_code == 303 and done["Location"] == NEXT
    auth = client.session[SESSION_AUTH]
    assert auth["amr"] == ["pwd", "sms"] and auth["acr"] == "urn:canopy:acr:mfa"


@pytest.mark.setting("templates.sms_otp")
def test_the_text_is_the_organization_s_sms_template_in_the_reader_s_language(
    demo: Tenant, sms_server: Received
) -> None:
    require(demo, "acme-bank", ["password", "sms_otp"])
    job_run(
        settings_override_set(
            actor=SYSTEM,
            tenant=demo,
            organization=org(demo, "acme-bank"),
            section="templates",
            values={"sms_otp": {"en": "Acme code {code}", "es": "Código Acme {code}"}},
        ).pk
    )
    cache.clear()
    with_phone(demo)
    password_step(Client(HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9"), NEXT)
    password_step(Client(), NEXT)
    spanish, english = (verified(call)["text"] for call in sms_server.calls[-2:])
    assert re.fullmatch(r"Código Acme \d{6}", spanish) and re.fullmatch(r"Acme code \d{6}", english)


def test_email_then_sms_when_both_are_required(demo: Tenant, sms_server: Received, smtp: Inbox) -> None:
    require(demo, "acme-bank", ["password", "email_otp", "sms_otp"])
    with_phone(demo)
    client = Client()
    r = password_step(client, NEXT)
    assert urlsplit(r["Location"]).path == "/t/mightybank/login/email-code/"
    r = client.post(r["Location"], {"code": code_in(smtp.messages[0]), "next": NEXT})
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/sms-code/"
    assert SESSION_AUTH not in client.session
    r = client.post(r["Location"], {"code": sms_code(verified(sms_server.calls[0])["text"]), "next": NEXT})
    assert r["Location"] == NEXT and client.session[SESSION_AUTH]["amr"] == ["pwd", "otp", "sms"]


def test_no_mobile_number_or_a_failing_gateway_gives_a_clear_message_and_no_session(
    demo: Tenant, sms_server: Received
) -> None:
    require(demo, "acme-bank", ["password", "sms_otp"])
    client = Client()
    r = password_step(client, NEXT)
    assert r.status_code == 403 and "no mobile number" in r.content.decode()
    assert SESSION_AUTH not in client.session and sms_server.calls == []

    with_phone(demo)
    sms_server.status = 502
    r = password_step(client, NEXT)
    assert r.status_code == 503 and "could not send your code" in r.content.decode()
    assert SESSION_AUTH not in client.session
    assert client.get("/t/mightybank/login/sms-code/").status_code == 302  # nothing pending


def test_mightybank_americas_is_not_asked_for_an_sms_code(demo: Tenant, sms_server: Received) -> None:
    require(demo, "acme-bank", ["password", "sms_otp"])
    with_phone(demo)
    client = Client()
    r = password_step(client, "/t/mightybank/?organization=mightybank-americas")
    assert r.status_code == 303 and r["Location"] == "/t/mightybank/?organization=mightybank-americas"
    assert sms_server.calls == [] and client.session[SESSION_AUTH]["amr"] == ["pwd"]
