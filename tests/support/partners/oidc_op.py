"""A minimal, independent OpenID Provider for the federation tests (a partner company's IdP).

Runs as its own process on 127.0.0.1; shares no code with Canopy. Authorization code flow with
PKCE (S256), client_secret_basic, RS256 ID tokens signed with its own key, published at /jwks.
``POST /control`` (JSON) sets the users and a *mode* that makes the next ID tokens wrong on
purpose: bad-signature, wrong-aud, wrong-nonce, expired, wrong-iss.

It keeps a session (cookie ``partner_sid``): a second authorization in the same browser signs in
without the form. ``GET /logout`` is its RP-initiated logout (end_session_endpoint): it checks the
``id_token_hint`` it issued, ends that session and returns to a registered
``post_logout_redirect_uri`` with ``state``. ``GET /state`` lists the logouts it performed.

Back-Channel Logout 1.0: ``POST /control`` with ``backchannel_logout_uri`` registers the RP's URI;
``POST /signout`` (JSON ``{"username", "by": "sid"|"sub"|"both", "mode", "jti"}``) ends that user's
sessions here as the partner's own sign-out page would and POSTs one ``logout_token`` per session
(or one naming only ``sub``) to the RP, answering with the RP's replies. A *mode* makes the token
wrong on purpose: bad-signature, wrong-aud, no-events, nonce, stale.

    python tests/support/partners/oidc_op.py PORT CLIENT_ID CLIENT_SECRET
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

PORT, CLIENT_ID, CLIENT_SECRET = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ISSUER = f"http://127.0.0.1:{PORT}"
KEY = RSAKey.generate_key(2048, parameters={"kid": "partner-1", "use": "sig", "alg": "RS256"})
ROGUE = RSAKey.generate_key(2048, parameters={"kid": "partner-1", "use": "sig", "alg": "RS256"})
STATE: dict[str, Any] = {
    "mode": "ok",
    "users": {
        "dana": {
            "sub": "dana-0001",
            "email": "dana@partner.example",
            "email_verified": True,
            "given_name": "Dana",
            "family_name": "Partner",
            "department": "labs",
        }
    },
}
CODES: dict[str, dict[str, Any]] = {}
SESSIONS: dict[str, str] = {}  # partner_sid cookie → username
LOGOUTS: list[dict[str, Any]] = []


def id_token(user: dict[str, Any], nonce: str, sid: str = "") -> str:
    now = int(time.time())
    mode = STATE["mode"]
    claims = {
        **user,
        "iss": ISSUER if mode != "wrong-iss" else "http://127.0.0.1:1",
        "aud": CLIENT_ID if mode != "wrong-aud" else "someone-else",
        "iat": now - (7200 if mode == "expired" else 0),
        "exp": now + 300 - (7200 if mode == "expired" else 0),
        "nonce": nonce if mode != "wrong-nonce" else "not-your-nonce",
        "auth_time": now,
        **({"sid": sid} if sid else {}),
    }
    key = ROGUE if mode == "bad-signature" else KEY
    return jwt.encode({"alg": "RS256", "kid": "partner-1", "typ": "JWT"}, claims, key)


def logout_token(*, sub: str, sid: str, mode: str, jti: str) -> str:
    """A logout token (OIDC Back-Channel Logout 1.0 section 2.4), wrong in the way *mode* says."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID if mode != "wrong-aud" else "someone-else",
        "iat": now - (3600 if mode == "stale" else 0),
        "exp": now + 120 - (3600 if mode == "stale" else 0),
        "jti": jti or secrets.token_urlsafe(16),
    }
    if mode != "no-events":
        claims["events"] = {"http://schemas.openid.net/event/backchannel-logout": {}}
    if mode == "nonce":
        claims["nonce"] = "should-not-be-here"
    if sub:
        claims["sub"] = sub
    if sid:
        claims["sid"] = sid
    key = ROGUE if mode == "bad-signature" else KEY
    return jwt.encode({"alg": "RS256", "kid": "partner-1", "typ": "logout+jwt"}, claims, key)


def send_logout_token(token: str) -> dict[str, Any]:
    """POST the token to the RP's registered back-channel logout URI, as a form (section 2.5)."""
    request = urllib.request.Request(  # noqa: S310 - the URI the test registered, on 127.0.0.1
        STATE["backchannel_logout_uri"],
        data=urlencode({"logout_token": token}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - see above
            return {"status": answer.status, "body": answer.read().decode()}
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, "body": exc.read().decode()}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return

    def _send(
        self, status: int, body: str | bytes, ctype: str = "application/json", headers: dict | None = None
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/.well-known/openid-configuration":
            self._send(
                200,
                json.dumps(
                    {
                        "issuer": ISSUER,
                        "authorization_endpoint": f"{ISSUER}/authorize",
                        "token_endpoint": f"{ISSUER}/token",
                        "jwks_uri": f"{ISSUER}/jwks",
                        "end_session_endpoint": f"{ISSUER}/logout",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "code_challenge_methods_supported": ["S256"],
                        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                    }
                ),
            )
        elif url.path == "/jwks":
            self._send(200, json.dumps({"keys": [KEY.as_dict(private=False)]}))
        elif url.path == "/state":
            self._send(200, json.dumps({"logouts": LOGOUTS, "sessions": len(SESSIONS)}))
        elif url.path == "/logout":
            self._logout(query)
        elif url.path == "/authorize":
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code":
                self._send(400, "unknown client", "text/plain")
                return
            sid = self._sid()
            if sid in SESSIONS and query.get("prompt") != "login":
                self._issue_code({**query, "username": SESSIONS[sid]}, sid)
                return
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in query.items()
            )
            page = (
                "<!doctype html><title>Partner sign-in</title><h1>Partner Inc. sign-in</h1>"
                f'<form method="post" action="/authorize">{hidden}'
                f'<label>Partner username <input name="username" id="partner-username" '
                f'value="{html.escape(query.get("login_hint", "").split("@")[0])}"></label>'
                '<button type="submit" id="partner-submit">Sign in at Partner</button></form>'
            )
            self._send(200, page, "text/html; charset=utf-8")
        else:
            self._send(404, "not found", "text/plain")

    def _sid(self) -> str:
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "partner_sid":
                return value
        return ""

    def _issue_code(self, form: dict[str, str], sid: str, headers: dict | None = None) -> None:
        code = secrets.token_urlsafe(24)
        CODES[code] = {
            "user": STATE["users"][form["username"]],
            "nonce": form.get("nonce", ""),
            "redirect_uri": form.get("redirect_uri", ""),
            "challenge": form.get("code_challenge", ""),
            "method": form.get("code_challenge_method", ""),
            "sid": sid,
        }
        params = {"code": code, "iss": ISSUER}
        if "state" in form:
            params["state"] = form["state"]
        location = {"Location": f"{form['redirect_uri']}?{urlencode(params)}"}
        self._send(302, "", "text/plain", {**(headers or {}), **location})

    def _logout(self, query: dict[str, str]) -> None:
        """RP-initiated logout: only with an ID token we issued to this client, to a registered URI."""
        try:
            claims = jwt.decode(query.get("id_token_hint", ""), KEY).claims
        except Exception:  # noqa: BLE001 - any bad hint is refused the same way
            self._send(400, "<p id='partner-error'>Bad id_token_hint</p>", "text/html")
            return
        target = query.get("post_logout_redirect_uri", "")
        if claims.get("aud") != CLIENT_ID or target not in STATE.get("post_logout_redirect_uris", []):
            self._send(400, "<p id='partner-error'>Unknown client or redirect</p>", "text/html")
            return
        ended = [sid for sid in (claims.get("sid"), self._sid()) if sid and SESSIONS.pop(sid, None)]
        LOGOUTS.append({"sub": claims.get("sub"), "sid": claims.get("sid"), "ended": len(ended)})
        location = f"{target}?{urlencode({'state': query['state']})}" if query.get("state") else target
        self._send(302, "", "text/plain", {"Location": location, "Set-Cookie": "partner_sid=; Path=/; Max-Age=0"})

    def _signout(self, order: dict[str, Any]) -> None:
        """The partner's own sign-out of a user, told to the RP over the back channel."""
        username = order.get("username", "dana")
        sub = STATE["users"][username]["sub"]
        by, mode, jti = order.get("by", "sid"), order.get("mode", "ok"), order.get("jti", "")
        sids = [sid for sid, name in list(SESSIONS.items()) if name == username]
        for sid in sids:
            SESSIONS.pop(sid, None)
        tokens = (
            [logout_token(sub=sub if by == "both" else "", sid=sid, mode=mode, jti=jti) for sid in sids]
            if by in ("sid", "both")
            else [logout_token(sub=sub, sid="", mode=mode, jti=jti)]
        )
        replies = [send_logout_token(token) for token in tokens]
        self._send(200, json.dumps({"ended": len(sids), "replies": replies}))

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        if url.path == "/control":
            length = int(self.headers.get("Content-Length") or 0)
            STATE.update(json.loads(self.rfile.read(length) or b"{}"))
            self._send(200, json.dumps({"mode": STATE["mode"]}))
        elif url.path == "/signout":
            self._signout(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"))
        elif url.path == "/authorize":
            form = self._form()
            if form.get("username", "") not in STATE["users"]:
                self._send(200, "<p id='partner-error'>Unknown user</p>", "text/html")
                return
            sid = secrets.token_urlsafe(16)
            SESSIONS[sid] = form["username"]
            self._issue_code(form, sid, {"Set-Cookie": f"partner_sid={sid}; Path=/; HttpOnly; SameSite=Lax"})
        elif url.path == "/token":
            auth = self.headers.get("Authorization", "")
            expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            form = self._form()
            grant = CODES.pop(form.get("code", ""), None)
            if auth != expected:
                self._send(401, json.dumps({"error": "invalid_client"}))
                return
            if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                self._send(400, json.dumps({"error": "invalid_grant"}))
                return
            verifier = form.get("code_verifier", "")
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            if grant["method"] != "S256" or digest != grant["challenge"]:
                self._send(400, json.dumps({"error": "invalid_grant", "error_description": "PKCE"}))
                return
            body = {
                "access_token": secrets.token_urlsafe(24),
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": id_token(grant["user"], grant["nonce"], grant["sid"]),
            }
            self._send(200, json.dumps(body))
        else:
            self._send(404, "not found", "text/plain")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("ready", flush=True)
    server.serve_forever()
