"""A partner SAML IdP for the federation tests: pysaml2 in the IdP role, its own key, its own process.

    python tests/partners/saml_idp.py PORT SP_ENTITY_ID SP_ACS_URL

GET /metadata (its IdP metadata), GET /sso/redirect (AuthnRequest) → a login form, POST /sso/login
→ an HTML form that posts the SAMLResponse to the ACS (its fields are easy to read in tests).
``POST /control`` (JSON) sets ``mode``: ok, unsigned, wrong-audience, xsw.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import sys
import tempfile
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

PORT, SP_ENTITY_ID, SP_ACS = int(sys.argv[1]), sys.argv[2], sys.argv[3]
BASE = f"http://127.0.0.1:{PORT}"
OTHER_SP = "https://other-sp.example/metadata"
WORK = Path(tempfile.mkdtemp(prefix="partner-saml-"))
STATE: dict[str, Any] = {"mode": "ok"}
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
CONFIG = IdPConfig().load(
    {
        "entityid": f"{BASE}/metadata",
        "service": {
            "idp": {
                "endpoints": {"single_sign_on_service": [(f"{BASE}/sso/redirect", BINDING_HTTP_REDIRECT)]},
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "policy": {"default": {"lifetime": {"minutes": 5}, "attribute_restrictions": None}},
            }
        },
        "key_file": str(KEY_FILE),
        "cert_file": str(CERT_FILE),
        "metadata": {"inline": [_sp_metadata(SP_ENTITY_ID, SP_ACS), _sp_metadata(OTHER_SP, SP_ACS)]},
        "xmlsec_binary": "/usr/bin/xmlsec1",
    }
)
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

    def _send(self, status: int, body: str, ctype: str = "text/html; charset=utf-8") -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/metadata":
            self._send(200, create_metadata_string(None, config=CONFIG).decode(), "application/samlmetadata+xml")
        elif url.path == "/sso/redirect":
            req = SERVER.parse_authn_request(query["SAMLRequest"], BINDING_HTTP_REDIRECT)
            message = req.message
            key = message.id
            PENDING[key] = {
                "id": message.id,
                "issuer": message.issuer.text,
                "acs": message.assertion_consumer_service_url or SP_ACS,
                "relay": query.get("RelayState", ""),
            }
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
            STATE.update(json.loads(body or b"{}"))
            self._send(200, json.dumps(STATE), "application/json")
            return
        if url.path != "/sso/login":
            self._send(404, "not found", "text/plain")
            return
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        pending = PENDING.get(form.get("key", ""))
        identity = USERS.get(form.get("username", ""))
        if pending is None or identity is None:
            self._send(400, "<p id='partner-error'>Unknown request or user</p>")
            return
        mode = STATE["mode"]
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
        )
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
        )


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print("ready", flush=True)
    server.serve_forever()
