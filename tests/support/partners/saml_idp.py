"""A partner SAML IdP for the federation tests: pysaml2 in the IdP role, its own key, its own process.

    python tests/support/partners/saml_idp.py PORT SP_ENTITY_ID SP_ACS_URL

GET /metadata (its IdP metadata), GET /sso/redirect (AuthnRequest) → a login form, POST /sso/login
→ an HTML form that posts the SAMLResponse to the ACS (its fields are easy to read in tests).
``POST /control`` (JSON) sets ``mode``: ok, unsigned, wrong-audience, xsw; ``sp_metadata`` (Canopy's
real SP metadata instead of the built-in ACS-only one), ``want_authn_requests_signed`` and
``encrypt`` (encrypt assertions to the SP's encryption certificate).

It keeps a session (cookie ``partner_saml_sid``): a second AuthnRequest from the same browser is
answered without the form. ``GET /slo/redirect`` is its single logout (HTTP-Redirect): it checks the
LogoutRequest (signed, when requests must be), ends the session and redirects a LogoutResponse to
the SP's SingleLogoutService. ``GET /state`` lists the logouts it performed.

Logout started here: ``POST /slo/initiate`` (JSON ``{"name_id", "session_index", "binding":
"redirect"|"post", "mode": "ok"|"unsigned"|"bad-signature"|"other-issuer"}``) answers how a browser
would carry a LogoutRequest to the SP's SingleLogoutService (``location``, or ``action`` and the
form fields). The SP's LogoutResponse comes back to ``GET /slo/redirect``; its status and whether
its query-string signature verified with the SP's metadata key are listed under ``responses``.
Its own LogoutResponses are signed unless ``unsigned_logout_response`` is set.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
import sys
import tempfile
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.server import Server
from saml2.sigver import verify_redirect_signature
from saml2.xmldsig import SIG_RSA_SHA256

PORT, SP_ENTITY_ID, SP_ACS = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BASE = f"http://127.0.0.1:{PORT}"
OTHER_SP = "https://other-sp.example/metadata"
WORK = Path(tempfile.mkdtemp(prefix="partner-saml-"))
STATE: dict[str, Any] = {"mode": "ok", "encrypt": False, "want_authn_requests_signed": False}
SESSIONS: dict[str, dict[str, str]] = {}  # cookie → username, name id, session index
LOGOUTS: list[dict[str, Any]] = []
RESPONSES: list[dict[str, Any]] = []  # LogoutResponses the SP sent to logouts started here
USERS = {
    "dana": {
        "email": ["dana@partner.example"],
        "givenName": ["Dana"],
        "sn": ["Partner"],
        "department": ["labs"],
    }
}


def _key_and_cert() -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Partner SAML IdP")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = WORK / "key.pem", WORK / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def _sp_metadata(entity_id: str, acs: str) -> str:
    return (
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'entityID="{html.escape(entity_id)}"><md:SPSSODescriptor '
        'protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAssertionsSigned="true">'
        f'<md:AssertionConsumerService Binding="{BINDING_HTTP_POST}" Location="{html.escape(acs)}" index="0"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )


KEY_FILE, CERT_FILE = _key_and_cert()


def _config(sp_metadata: str = "") -> Any:
    return IdPConfig().load(
        {
            "entityid": f"{BASE}/metadata",
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{BASE}/sso/redirect", BINDING_HTTP_REDIRECT)],
                        "single_logout_service": [(f"{BASE}/slo/redirect", BINDING_HTTP_REDIRECT)],
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
                    "want_authn_requests_signed": bool(STATE["want_authn_requests_signed"]),
                }
            },
            "key_file": str(KEY_FILE),
            "cert_file": str(CERT_FILE),
            "metadata": {"inline": [sp_metadata or _sp_metadata(SP_ENTITY_ID, SP_ACS), _sp_metadata(OTHER_SP, SP_ACS)]},
            "xmlsec_binary": "/usr/bin/xmlsec1",
        }
    )


CONFIG = _config()
SERVER = Server(config=CONFIG)
PENDING: dict[str, dict[str, str]] = {}


def _xsw(signed_b64: str) -> str:
    """Signature wrapping: an unsigned evil assertion first, the genuinely signed one hidden after it."""
    ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion", "ds": "http://www.w3.org/2000/09/xmldsig#"}
    root = etree.fromstring(base64.b64decode(signed_b64))
    original = root.find("saml:Assertion", ns)
    evil = etree.fromstring(etree.tostring(original))
    for sig in evil.findall("ds:Signature", ns):
        evil.remove(sig)
    evil.set("ID", "_evil" + evil.get("ID", "")[1:])
    for node in evil.iter("{urn:oasis:names:tc:SAML:2.0:assertion}NameID"):
        node.text = "mallory-admin"
    for node in evil.iter("{urn:oasis:names:tc:SAML:2.0:assertion}AttributeValue"):
        if node.text == "dana@partner.example":
            node.text = "victim@partner.example"
    root.insert(list(root).index(original), evil)
    return base64.b64encode(etree.tostring(root)).decode()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        return

    def _send(self, status: int, body: str, ctype: str = "text/html; charset=utf-8", cookie: str = "") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sid(self) -> str:
        for part in (self.headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == "partner_saml_sid":
                return value
        return ""

    def _redirect(self, location: str, cookie: str = "") -> None:
        self.send_response(302)
        self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _slo(self, query: dict[str, str]) -> None:
        try:
            req = SERVER.parse_logout_request(
                query["SAMLRequest"],
                BINDING_HTTP_REDIRECT,
                relay_state=query.get("RelayState"),
                sigalg=query.get("SigAlg"),
                signature=query.get("Signature"),
            )
        except Exception as exc:  # noqa: BLE001 - any bad request is refused the same way
            self._send(400, f"<p id='partner-error'>Bad LogoutRequest: {html.escape(type(exc).__name__)}</p>")
            return
        message = req.message
        name_id = message.name_id.text if message.name_id is not None else ""
        ended = [k for k, v in SESSIONS.items() if v["name_id"] == name_id]
        for k in ended:
            del SESSIONS[k]
        LOGOUTS.append(
            {
                "name_id": name_id,
                "ended": len(ended),
                "signed": bool(query.get("Signature")),
                "session_index": bool(message.session_index),
            }
        )
        response = SERVER.create_logout_response(message, [BINDING_HTTP_REDIRECT])
        destination = SERVER.metadata.single_logout_service(message.issuer.text, BINDING_HTTP_REDIRECT, "spsso")
        if isinstance(destination, dict):
            destination = destination.get(BINDING_HTTP_REDIRECT) or []
        info = SERVER.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(response),
            destination[0]["location"],
            query.get("RelayState", ""),
            response=True,
            sign=not STATE.get("unsigned_logout_response"),
            sigalg=SIG_RSA_SHA256,
        )
        self._redirect(dict(info["headers"])["Location"], "partner_saml_sid=; Path=/; Max-Age=0")

    def _slo_response(self, query: dict[str, str]) -> None:
        """The SP's LogoutResponse to a logout started here: its status, and its signature checked."""
        certs = SERVER.metadata.certs(SP_ENTITY_ID, "spsso", "signing")
        message = {k: query[k] for k in ("SAMLResponse", "RelayState", "SigAlg", "Signature") if k in query}
        try:
            signed = bool(query.get("Signature")) and any(
                verify_redirect_signature(message, SERVER.sec.sec_backend, cert) for _name, cert in certs
            )
        except Exception:  # noqa: BLE001 - a malformed signature does not verify
            signed = False
        try:  # read as XML: pysaml2 raises on any status but Success, and the status is what we record
            root = etree.fromstring(zlib.decompress(base64.b64decode(query["SAMLResponse"]), -15))
        except Exception as exc:  # noqa: BLE001 - any bad response is recorded the same way
            RESPONSES.append({"error": type(exc).__name__, "signed": signed})
            self._send(400, "<p id='partner-error'>Bad LogoutResponse</p>")
            return
        codes = root.findall(".//{urn:oasis:names:tc:SAML:2.0:protocol}StatusCode")
        RESPONSES.append(
            {
                "status": codes[0].get("Value") if codes else "",
                "second": codes[1].get("Value") if len(codes) > 1 else "",
                "in_response_to": root.get("InResponseTo"),
                "relay_state": query.get("RelayState", ""),
                "signed": signed,
            }
        )
        self._send(200, "<p id='partner-signed-out'>Signed out at Partner.</p>")

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/metadata":
            self._send(200, create_metadata_string(None, config=CONFIG).decode(), "application/samlmetadata+xml")
        elif url.path == "/state":
            self._send(
                200,
                json.dumps({"logouts": LOGOUTS, "sessions": len(SESSIONS), "responses": RESPONSES}),
                "application/json",
            )
        elif url.path == "/slo/redirect" and "SAMLResponse" in query:
            self._slo_response(query)
        elif url.path == "/slo/redirect":
            self._slo(query)
        elif url.path == "/sso/redirect":
            try:
                req = SERVER.parse_authn_request(
                    query["SAMLRequest"],
                    BINDING_HTTP_REDIRECT,
                    relay_state=query.get("RelayState"),
                    sigalg=query.get("SigAlg"),
                    signature=query.get("Signature"),
                )
            except Exception as exc:  # noqa: BLE001 - e.g. an unsigned request when signed ones are wanted
                self._send(400, f"<p id='partner-error'>Bad AuthnRequest: {html.escape(type(exc).__name__)}</p>")
                return
            message = req.message
            key = message.id
            PENDING[key] = {
                "id": message.id,
                "issuer": message.issuer.text,
                "acs": message.assertion_consumer_service_url or SP_ACS,
                "relay": query.get("RelayState", ""),
                "signed": "1" if query.get("Signature") else "",
            }
            session = SESSIONS.get(self._sid())
            if session is not None:
                self._answer(PENDING[key], session["username"])
                return
            self._send(
                200,
                "<!doctype html><title>Partner SAML sign-in</title><h1>Partner SAML sign-in</h1>"
                f'<form method="post" action="/sso/login"><input type="hidden" name="key" value="{html.escape(key)}">'
                '<label>Username <input name="username" id="partner-username"></label>'
                '<button type="submit" id="partner-submit">Sign in at Partner</button></form>',
            )
        else:
            self._send(404, "not found", "text/plain")

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        url = urlsplit(self.path)
        if url.path == "/control":
            global CONFIG, SERVER  # noqa: PLW0603 - the partner's one configuration, replaced on request
            STATE.update(json.loads(body or b"{}"))
            CONFIG = _config(STATE.get("sp_metadata", ""))
            SERVER = Server(config=CONFIG)
            self._send(200, json.dumps({k: v for k, v in STATE.items() if k != "sp_metadata"}), "application/json")
            return
        if url.path == "/slo/initiate":
            self._send(200, json.dumps(_initiate_logout(json.loads(body or b"{}"))), "application/json")
            return
        if url.path != "/sso/login":
            self._send(404, "not found", "text/plain")
            return
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        pending = PENDING.get(form.get("key", ""))
        if pending is None or form.get("username", "") not in USERS:
            self._send(400, "<p id='partner-error'>Unknown request or user</p>")
            return
        self._answer(pending, form["username"], new_session=True)

    def _answer(self, pending: dict[str, str], username: str, *, new_session: bool = False) -> None:
        """The auto-posting form with a SAMLResponse for ``username`` (and a session, on a fresh login)."""
        identity = USERS[username]
        mode = STATE["mode"]
        form = {"username": username}
        from saml2.saml import NameID

        response = SERVER.create_authn_response(
            identity,
            in_response_to=pending["id"],
            destination=pending["acs"],
            sp_entity_id=OTHER_SP if mode == "wrong-audience" else pending["issuer"],
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=f"{form['username']}-0001"),
            userid=form["username"],
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"},
            sign_assertion=mode != "unsigned",
            sign_response=False,
            encrypt_assertion=bool(STATE["encrypt"]),
            encrypt_assertion_self_contained=True,
        )
        cookie = ""
        if new_session or self._sid() not in SESSIONS:
            sid = base64.urlsafe_b64encode(os.urandom(12)).decode()
            SESSIONS[sid] = {"username": username, "name_id": f"{username}-0001"}
            cookie = f"partner_saml_sid={sid}; Path=/; HttpOnly; SameSite=Lax"
        encoded = base64.b64encode(str(response).encode()).decode()
        if mode == "xsw":
            encoded = _xsw(encoded)
        self._send(
            200,
            "<!doctype html><title>Continue</title>"
            f'<form method="post" action="{html.escape(pending["acs"])}" id="saml-post">'
            f'<input type="hidden" name="SAMLResponse" value="{encoded}">'
            f'<input type="hidden" name="RelayState" value="{html.escape(pending["relay"])}">'
            '<button type="submit" id="continue">Continue</button></form>'
            "<script>document.getElementById('saml-post').submit()</script>",
            cookie=cookie,
        )


def _initiate_logout(order: dict[str, Any]) -> dict[str, Any]:
    """A LogoutRequest for the SP, as the partner's own sign-out would send it through the browser."""
    from saml2.saml import NameID

    sp_entity = SP_ENTITY_ID
    binding = BINDING_HTTP_POST if order.get("binding") == "post" else BINDING_HTTP_REDIRECT
    mode = order.get("mode", "ok")
    services = SERVER.metadata.single_logout_service(sp_entity, binding, "spsso")
    if isinstance(services, dict):
        services = services.get(binding) or []
    destination = services[0]["location"]
    name_id = order.get("name_id", "dana-0001")
    request_id, request = SERVER.create_logout_request(
        destination,
        sp_entity,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=name_id),
        session_indexes=[order["session_index"]] if order.get("session_index") else None,
        sign=binding == BINDING_HTTP_POST and mode != "unsigned",  # HTTP-POST: an XML signature
        sign_alg=SIG_RSA_SHA256,
    )
    relay = "partner-" + request_id[-8:]
    if binding == BINDING_HTTP_POST:
        xml = str(request)
        if mode == "bad-signature":  # signed, then changed: the signature no longer matches
            xml = xml.replace(f">{name_id}<", ">mallory-0001<")
        return {
            "id": request_id,
            "action": destination,
            "SAMLRequest": base64.b64encode(xml.encode()).decode(),
            "RelayState": relay,
        }
    if mode == "other-issuer":
        request.issuer.text = "https://someone-else.example/metadata"
    info = SERVER.apply_binding(
        BINDING_HTTP_REDIRECT, str(request), destination, relay, sign=mode != "unsigned", sigalg=SIG_RSA_SHA256
    )
    location = dict(info["headers"])["Location"]
    if mode == "bad-signature":  # signed, then the RelayState changed: the signature no longer matches
        location = location.replace(f"RelayState={relay}", f"RelayState={relay}x")
    return {"id": request_id, "location": location}


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("ready", flush=True)
    server.serve_forever()
