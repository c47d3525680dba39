"""Sending text messages: a small gateway interface and two implementations.

``CANOPY_SMS_GATEWAY`` chooses one:

- ``webhook``: POST ``{"to": …, "text": …, "id": …}`` as JSON to ``CANOPY_SMS_WEBHOOK_URL``
  with ``X-Canopy-Timestamp`` (epoch seconds) and ``X-Canopy-Signature:
  sha256=<hex HMAC-SHA-256 of "<timestamp>.<body>" under CANOPY_SMS_WEBHOOK_SECRET>``, the
  shape most SMS providers and relays accept. No redirects; a non-2xx answer is a failure.
- ``console`` (the default): appends one JSON line per message to ``CANOPY_SMS_FILE``, or
  writes it to standard error when that is empty. For local use only: it holds the codes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)


class SmsError(Exception):
    """The gateway did not accept the message."""


class SmsGateway(Protocol):
    def send(self, *, to: str, text: str) -> None: ...


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``<timestamp>.<body>``: what a receiver recomputes to trust the call."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class WebhookGateway:
    def __init__(self, *, url: str, secret: str, timeout: float = 10.0) -> None:
        if not url.startswith(("https://", "http://")):
            raise SmsError("The SMS webhook URL must be http(s).")
        if not secret:
            raise SmsError("The SMS webhook needs a secret (CANOPY_SMS_WEBHOOK_SECRET).")
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, *, to: str, text: str) -> None:
        payload = {"to": to, "text": text, "id": uuid.uuid4().hex}
        if not post_signed(url=self.url, secret=self.secret, payload=payload, timeout=self.timeout):
            raise SmsError("The SMS gateway did not accept the message.")


def signed_request(*, url: str, secret: str, payload: Mapping[str, object]) -> urllib.request.Request:
    """A POST of ``payload`` as compact JSON with the timestamp and signature headers (not sent yet).

    The one way a signed webhook is built: Canopy's calls here, and the answers of
    ``manage.py push_console`` to Canopy's push callback.
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    return urllib.request.Request(  # noqa: S310 - callers check the scheme
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Canopy-Timestamp": timestamp,
            "X-Canopy-Signature": signature(secret, timestamp, body),
        },
    )


def post_signed(*, url: str, secret: str, payload: Mapping[str, object], timeout: float) -> bool:
    """POST ``payload`` as compact JSON with the timestamp and signature headers; True on a 2xx.

    Shared by the SMS gateway and push approvals (``idp.flow.push``): one signing scheme for
    every webhook Canopy calls. No redirects; errors are logged by kind only (never the body).
    """
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(signed_request(url=url, secret=secret, payload=payload), timeout=timeout) as response:
            status = response.status
    except OSError as exc:  # URLError, HTTPError (non-2xx), timeouts
        logger.warning("webhook to %s failed: %s", urllib.parse.urlsplit(url).netloc, type(exc).__name__)
        return False
    return 200 <= status < 300


class ConsoleGateway:
    def __init__(self, *, path: str = "") -> None:
        self.path = path

    def send(self, *, to: str, text: str) -> None:
        line = json.dumps({"to": to, "text": text, "at": int(time.time())}) + "\n"
        if self.path:
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(line)
        else:
            sys.stderr.write(line)


def gateway() -> SmsGateway:
    """The configured gateway (read from settings on each call, so tests can change them)."""
    kind = str(getattr(settings, "CANOPY_SMS_GATEWAY", "console") or "console")
    if kind == "webhook":
        return WebhookGateway(
            url=str(getattr(settings, "CANOPY_SMS_WEBHOOK_URL", "")),
            secret=str(getattr(settings, "CANOPY_SMS_WEBHOOK_SECRET", "")),
            timeout=float(getattr(settings, "CANOPY_SMS_WEBHOOK_TIMEOUT", 10)),
        )
    if kind == "console":
        return ConsoleGateway(path=str(getattr(settings, "CANOPY_SMS_FILE", "")))
    raise SmsError(f"Unknown SMS gateway '{kind}' (CANOPY_SMS_GATEWAY: webhook or console).")
