"""A push service for developers: receive Canopy's push webhooks, approve or deny on the console.

    CANOPY_PUSH_WEBHOOK_URL=http://127.0.0.1:8790/push CANOPY_PUSH_WEBHOOK_SECRET=dev-push-secret make run
    CANOPY_PUSH_WEBHOOK_SECRET=dev-push-secret python manage.py push_console --port 8790

Each webhook's signature is checked; the request is printed and answered with a signed
callback (``a`` approve, ``d`` deny, anything else ignores it and lets it time out).
For local use only.
"""

from __future__ import annotations

import hmac
import json
import queue
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from idp.flow.sms import signature, signed_request


class Command(BaseCommand):
    help = "Run a local push service: receive Canopy's push requests and approve or deny them on the console."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8790)
        parser.add_argument("--secret", default="", help="Default: CANOPY_PUSH_WEBHOOK_SECRET.")

    def handle(self, *args: Any, **options: Any) -> None:
        secret = options["secret"] or str(getattr(settings, "CANOPY_PUSH_WEBHOOK_SECRET", ""))
        if not secret:
            raise CommandError("Set CANOPY_PUSH_WEBHOOK_SECRET (or --secret): the same value Canopy uses.")
        inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        server = ThreadingHTTPServer((options["host"], options["port"]), _handler(secret, inbox))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.stdout.write(f"Push service on http://{options['host']}:{options['port']}/push  (Ctrl-C to stop)")
        try:
            while True:
                request = inbox.get()
                self.stdout.write(f"\n{request.get('message')}  (user {request.get('user')}, id {request['id'][:8]}…)")
                answer = input("Approve [a] / deny [d] / ignore [Enter]: ").strip().lower()
                if answer in ("a", "d"):
                    status = _callback(request, secret, "approve" if answer == "a" else "deny")
                    self.stdout.write(f"Canopy answered {status or 'nothing (unreachable)'}.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopped.")
        finally:
            server.shutdown()


def _handler(secret: str, inbox: queue.Queue[dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(min(int(self.headers.get("Content-Length", "0")), 100_000))
            timestamp = self.headers.get("X-Canopy-Timestamp", "")
            good = hmac.compare_digest(signature(secret, timestamp, body), self.headers.get("X-Canopy-Signature", ""))
            self.send_response(202 if good else 401)
            self.end_headers()
            if good:
                inbox.put(json.loads(body))

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def _callback(request: dict[str, Any], secret: str, decision: str) -> int:
    call = signed_request(
        url=str(request["callback"]), secret=secret, payload={"id": request["id"], "decision": decision}
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as response:  # noqa: S310 - the callback Canopy sent (http(s))
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:  # unreachable: report it rather than stop the console
        return 0
