"""Canopy's IdP metadata as the independent service provider (OneLogin python3-saml, tests/support/saml.py) reads it.

Nothing here imports Canopy's SAML code: the SP sees only HTTP and XML.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography import x509
from django.test import Client
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.utils import OneLogin_Saml2_Utils


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
