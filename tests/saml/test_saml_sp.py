"""The independent service provider (OneLogin python3-saml) the SAML tests sign in with, and its checks of the metadata.

Nothing here imports Canopy's SAML code: the SP sees only HTTP and XML.
"""

from __future__ import annotations

import base64
import datetime
import functools
import html
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.test import Client
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

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


# --- the metadata as an SP sees it ---------------------------------------------------------------
@pytest.mark.django_db
def test_metadata_is_signed_and_parseable_by_an_independent_sp(demo: Any, settings: Any) -> None:
    settings.CANOPY_BASE_URL = "https://idp.example"
    body = Client().get("/t/mightybank/saml/metadata")
    assert body.status_code == 200 and body["Content-Type"].startswith("application/samlmetadata+xml")
    xml = body.content.decode()
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml)["idp"]
    assert parsed["entityId"] == "https://idp.example/t/mightybank/saml/metadata"
    assert parsed["singleSignOnService"]["url"] == "https://idp.example/t/mightybank/saml/sso/redirect"
    assert parsed["singleLogoutService"]["url"] == "https://idp.example/t/mightybank/saml/slo/redirect"
    post = OneLogin_Saml2_IdPMetadataParser.parse(xml, required_sso_binding=C.BINDING_HTTP_POST)["idp"]
    assert post["singleSignOnService"]["url"] == "https://idp.example/t/mightybank/saml/sso/post"
    assert OneLogin_Saml2_Utils.validate_metadata_sign(xml, cert=OneLogin_Saml2_Utils.format_cert(parsed["x509cert"]))
    # the certificate is stable: derived from the key, not regenerated per request
    again = Client().get("/t/mightybank/saml/metadata").content.decode()
    assert OneLogin_Saml2_IdPMetadataParser.parse(again)["idp"]["x509cert"] == parsed["x509cert"]


@pytest.mark.django_db
def test_metadata_certificate_is_the_tenant_rs256_key(demo: Any) -> None:
    from tenants.models import SigningKey

    xml = Client().get("/t/mightybank/saml/metadata").content.decode()
    cert_b64 = OneLogin_Saml2_IdPMetadataParser.parse(xml)["idp"]["x509cert"]
    cert = x509.load_der_x509_certificate(base64.b64decode(cert_b64))
    row = SigningKey.objects.get(tenant=demo, algorithm="RS256", status="active")
    jwk_n = int.from_bytes(base64.urlsafe_b64decode(row.public_jwk["n"] + "=="), "big")
    assert cert.public_key().public_numbers().n == jwk_n  # type: ignore[union-attr]


def test_unknown_tenant_metadata_is_404(db: None) -> None:
    assert Client().get("/t/nope/saml/metadata").status_code == 404
