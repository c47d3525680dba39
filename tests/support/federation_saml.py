"""Upstream SAML: Canopy as SP against the partner IdP process (tests/support/partners/saml_idp.py), and
partner metadata served by a local HTTP server.
"""

from __future__ import annotations

import datetime
import re
import threading
import time
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import Client

from idp.federation.logout import SESSION_UPSTREAM
from idp.federation.models import UpstreamIdentity
from tenants.models import User
from tests.support.partners import PartnerIdP
from tests.support.worlds import World

SLUG = "tenant-a"
SP_PATH = f"/t/{SLUG}/federation/partner-saml/saml"


def nothing_created(world: World) -> None:
    """No user, and no identity linked to the SAML upstream, came out of a refused answer."""
    assert not User.objects.filter(tenant=world.tenant, email__iexact="dana@partner.example").exists()
    assert not User.objects.filter(tenant=world.tenant, username__icontains="victim").exists()
    assert not UpstreamIdentity.objects.filter(idp__slug="partner-saml").exists()


def start(client: Client) -> str:
    routed = client.post(f"/t/{SLUG}/login/", {"identifier": "dana@partner.example", "next": f"/t/{SLUG}/"})
    to_partner = client.get(routed["Location"])
    assert to_partner.status_code == 302
    return str(to_partner["Location"])


def partner_answer(partner_browser: requests.Session, location: str) -> requests.Response:
    """The partner's answer to our AuthnRequest: the login form is filled in when there is no session."""
    page = partner_browser.get(location, timeout=10)
    if 'name="key"' in page.text:
        key = re.search(r'name="key" value="([^"]+)"', page.text)
        assert key is not None
        base = urlsplit(location)
        page = partner_browser.post(
            f"{base.scheme}://{base.netloc}/sso/login", data={"key": unescape(key[1]), "username": "dana"}, timeout=10
        )
    return page


def posted_fields(page: requests.Response) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'name="(SAMLResponse|RelayState)" value="([^"]*)"', page.text)}


def saml_login(client: Client, partner_browser: requests.Session) -> dict[str, str]:
    fields = posted_fields(partner_answer(partner_browser, start(client)))
    done = client.post(f"{SP_PATH}/acs", fields)
    assert done.status_code == 302 and done["Location"] == f"/t/{SLUG}/", done.content[:500]
    return fields


def initiate(partner: PartnerIdP, **order: Any) -> dict[str, Any]:
    answer = requests.post(f"{partner.url}/slo/initiate", json=order, timeout=10)
    answer.raise_for_status()
    return dict(answer.json())


def deliver(client: Client, order: dict[str, Any]) -> Any:
    """The browser carries the partner's LogoutRequest to Canopy (the POST form goes through the hop)."""
    if "location" in order:
        target = urlsplit(order["location"])
        return client.get(f"{target.path}?{target.query}")
    fields = {"SAMLRequest": order["SAMLRequest"], "RelayState": order["RelayState"]}
    hop = client.post(urlsplit(order["action"]).path, fields)
    assert hop.status_code == 200 and b'name="canopy_hop"' in hop.content  # nothing parsed before the hop
    return client.post(urlsplit(order["action"]).path, {**fields, "canopy_hop": "1"})


def session_index(client: Client) -> str:
    return str(client.session[SESSION_UPSTREAM]["saml"]["session_index"])


def idp_metadata(entity_id: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "metadata test")])
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
    b64 = "".join(cert.public_bytes(serialization.Encoding.PEM).decode().splitlines()[1:-1])
    return (
        '<?xml version="1.0"?><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}'
        "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        f'Location="{entity_id}/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )


class MetadataServer:
    """A real HTTP server on 127.0.0.1 whose answer the test changes: (status, body, delay)."""

    def __init__(self) -> None:
        self.answer: tuple[int, str, float] = (200, "", 0.0)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                return

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                status, body, delay = outer.answer
                time.sleep(delay)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metadata"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
