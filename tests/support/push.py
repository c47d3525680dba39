"""A push service for tests: a local HTTP server that checks Canopy's webhook HMAC and answers with signed callbacks."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

SECRET = "push-test-secret-0123456789"  # noqa: S105 - a test secret


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
