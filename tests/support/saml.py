"""The independent service provider (OneLogin python3-saml) the SAML tests sign in with, and the requests
it sends. The SP sees only HTTP and XML; ``register_independent_sp`` registers it with Canopy the way an
administrator does (``add_saml_sp`` with its metadata), and ``SpBrowser`` is the same SP in Chromium.
"""

from __future__ import annotations

import base64
import datetime
import functools
import html
import io
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.core.management import call_command
from django.test import Client
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.saml.models import ServiceProvider
from tenants.models import Tenant, User
from tests.support.oidc import sign_in

SP_ENTITY = "http://127.0.0.1:8766/metadata"
SP_ACS = "http://127.0.0.1:8766/acs"
SP_SLS = "http://127.0.0.1:8766/sls"
ORG_ATTRIBUTES = ("org_ids", "org_names", "org_id", "org_name", "org_acting_for")


@functools.cache
def keypair(label: str = "sp") -> tuple[str, str]:
    """(private key PEM, certificate PEM), self-signed, one per label for the test run."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"test {label}")])
    start = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def sp_settings(
    idp_metadata: str,
    *,
    sign_requests: bool = True,
    entity_id: str = SP_ENTITY,
    base: str = "http://127.0.0.1:8766",
    **security: Any,
) -> dict:
    idp = OneLogin_Saml2_IdPMetadataParser.parse(idp_metadata)
    key, cert = keypair()
    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": entity_id,
            "assertionConsumerService": {"url": f"{base}/acs", "binding": C.BINDING_HTTP_POST},
            "singleLogoutService": {"url": f"{base}/sls", "binding": C.BINDING_HTTP_REDIRECT},
            "NameIDFormat": C.NAMEID_EMAIL_ADDRESS,
            "x509cert": cert,
            "privateKey": key,
        },
        "idp": idp["idp"],
        "security": {
            "authnRequestsSigned": sign_requests,
            "logoutRequestSigned": True,
            "logoutResponseSigned": True,
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantNameId": True,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
            "rejectDeprecatedAlgorithm": True,
            "wantAttributeStatement": False,
            **security,
        },
    }


def sp_metadata(settings: dict) -> bytes:
    metadata = OneLogin_Saml2_Settings(settings).get_sp_metadata()
    return metadata if isinstance(metadata, bytes) else metadata.encode()


def sp_request(
    post: dict[str, str] | None = None,
    get: dict[str, str] | None = None,
    path: str = "/acs",
    host: str = "127.0.0.1:8766",
) -> dict:
    """The request dict python3-saml wants, as if the browser had reached http://<host><path>."""
    return {
        "https": "off",
        "http_host": host,
        "script_name": path,
        "get_data": get or {},
        "post_data": post or {},
    }


def form_fields(body: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-submitting form page."""
    action = re.search(r'<form method="post" action="([^"]*)"', body)
    assert action, body[:500]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
    return html.unescape(action.group(1)), {k: html.unescape(v) for k, v in fields.items()}


def acs_receive(
    settings: dict, post: dict[str, str], request_id: str | None, host: str = "127.0.0.1:8766"
) -> OneLogin_Saml2_Auth:
    auth = OneLogin_Saml2_Auth(sp_request(post=post, host=host), settings)
    auth.process_response(request_id=request_id)
    return auth


def response_xml(post: dict[str, str]) -> str:
    return base64.b64decode(post["SAMLResponse"]).decode()


def path_and_query(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def saml_status(post: dict[str, str]) -> list[str]:
    return re.findall(r'StatusCode Value="([^"]+)"', response_xml(post))


# --- Canopy's IdP and that SP -----------------------------------------------------------------------

BASE = "http://127.0.0.1:8000"
SSO_REDIRECT = "/t/mightybank/saml/sso/redirect"
SSO_POST = "/t/mightybank/saml/sso/post"


def register_independent_sp(demo: Tenant, settings: Any, tmp_path: Path) -> dict[str, Any]:
    """The demo tenant with the independent SP registered from its own metadata (signing key included)."""
    settings.CANOPY_BASE_URL = BASE
    metadata = Client().get("/t/mightybank/saml/metadata").content.decode()
    sp = sp_settings(metadata)
    path = tmp_path / "sp.xml"
    path.write_bytes(sp_metadata(sp))
    call_command("add_saml_sp", "--tenant", "mightybank", "--metadata-file", str(path), stdout=io.StringIO())
    return {"tenant": demo, "metadata": metadata, "sp": sp, "model": ServiceProvider.objects.get(entity_id=SP_ENTITY)}


def signed_in(username: str, tenant: Tenant, *, auth_time: int | None = None) -> Client:
    """A browser with a password sign-in of ``username`` (what the login journey leaves in the session)."""
    client = Client()
    sign_in(client, tenant, User.objects.get(tenant=tenant, username=username), auth_time=auth_time)
    return client


def login_url(settings: dict, *, relay: str = "relay-123", **kwargs: Any) -> tuple[str, str]:
    """The SP's AuthnRequest on the HTTP-Redirect binding: the path and query to GET, and the request id."""
    auth = OneLogin_Saml2_Auth(sp_request(path="/login"), settings)
    url = auth.login(return_to=relay, **kwargs)
    return path_and_query(url), auth.get_last_request_id()


def post_request_xml(settings: dict, *, sign: bool = True, mutate: Any = None) -> tuple[str, str]:
    """An AuthnRequest for the HTTP-POST binding, enveloped-signed like an SP would."""
    parsed = OneLogin_Saml2_Settings(settings)
    request = OneLogin_Saml2_Authn_Request(parsed)
    xml = request.get_xml()
    xml = xml.replace("sso/redirect", "sso/post")  # Destination = the POST endpoint
    if mutate is not None:
        xml = mutate(xml)
    if sign:
        key, cert = keypair()
        xml = OneLogin_Saml2_Utils.add_sign(xml, key, cert, sign_algorithm=C.RSA_SHA256, digest_algorithm=C.SHA256)
        xml = xml.decode() if isinstance(xml, bytes) else xml
    return xml, request.get_id()


def post_sso(client: Client, xml: str, relay: str = "relay-post", query: str = "") -> Any:
    return client.post(SSO_POST + query, {"SAMLRequest": base64.b64encode(xml.encode()).decode(), "RelayState": relay})


# --- an SP registered from a metadata URL (the refresh tests) ------------------------------------------

REFRESH_SP_ENTITY = "https://refresh.example/sp"


class SpMetadataServer:
    """Answers GET with whatever ``status``/``body``/``delay`` say at that moment."""

    def __init__(self) -> None:
        self.status, self.body, self.delay = 200, b"", 0.0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                time.sleep(owner.delay)
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                try:
                    self.wfile.write(owner.body)
                except OSError:
                    pass  # the client gave up (timeout or size cap)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/metadata"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sp_metadata_for(idp_metadata: str, *, base: str, cert_label: str = "sp") -> bytes:
    """The SP's metadata: ACS/SLO under ``base``, signing certificate of ``cert_label``."""
    settings = sp_settings(idp_metadata, entity_id=REFRESH_SP_ENTITY, base=base)
    settings["sp"]["x509cert"] = keypair(cert_label)[1]
    settings["sp"]["privateKey"] = keypair(cert_label)[0]
    return sp_metadata(settings)


class SpBrowser:
    """One browser context; the SP's endpoints on 127.0.0.1:8766 are intercepted and recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context()
        self.posts: list[dict[str, str]] = []
        self.gets: list[str] = []
        self.context.route(lambda url: url.startswith("http://127.0.0.1:8766/"), self._catch)
        self.page = self.context.new_page()

    def _catch(self, route: Any) -> None:
        request = route.request
        if request.method == "POST":
            form = parse_qs(request.post_data or "")
            self.posts.append({k: v[0] for k, v in form.items()})
        else:
            self.gets.append(request.url)
        route.fulfill(status=200, content_type="text/plain", body="service provider")

    def sign_in(self, url: str, username: str, pick: str | None) -> dict[str, str]:
        page = self.page
        page.goto(url)
        page.fill("input[name=identifier]", username)
        page.click("button[type=submit]")
        page.fill("input[name=password]", f"{username}-demo-pass")
        page.click("button[type=submit]")
        if pick is not None:
            page.wait_for_selector("#org-list")
            page.click(f"#org-list button:has-text('{pick}')")
        page.wait_for_url("http://127.0.0.1:8766/**")
        assert self.posts, "the browser never posted to the SP's ACS"
        return self.posts[-1]

    def close(self) -> None:
        self.context.close()
