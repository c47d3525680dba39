"""Signing-key rollover as SAML SPs see it: the next certificate is published before it signs.

An independent SP (python3-saml) reads Canopy's metadata before and after a rotation; the
responses are checked with its own validation, never with Canopy's code.
"""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography import x509
from django.test import Client
from django.utils import timezone
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.saml import crypto
from tenants.actors import SYSTEM
from tenants.keys import overlap_keys
from tenants.models import SigningKey
from tenants.services import signing_keys_prune, signing_keys_rotate
from tests.support.saml import (
    acs_receive,
    form_fields,
    login_url,
    response_xml,
    signed_in,
    sp_settings,
)

pytestmark = pytest.mark.django_db
METADATA = "/t/mightybank/saml/metadata"


def published_certs(metadata: str) -> list[str]:
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(metadata)["idp"]
    multi = parsed.get("x509certMulti", {}).get("signing")
    return list(multi) if multi else [parsed["x509cert"]]


def rs256_n(row: SigningKey) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(row.public_jwk["n"] + "=="), "big")


def cert_n(cert_b64: str) -> int:
    return x509.load_der_x509_certificate(base64.b64decode(cert_b64)).public_key().public_numbers().n  # type: ignore[union-attr]


def sign_in(idp: dict, sp: dict) -> tuple[Any, str]:
    """An SP-initiated sign-in of bob, the response checked by the SP with ``sp`` settings."""
    url, request_id = login_url(sp)
    post = form_fields(signed_in("bob", idp["tenant"]).get(url).content.decode())[1]
    return acs_receive(sp, post, request_id), response_xml(post)


def fresh_metadata() -> str:
    crypto.forget_cached_keys()
    return Client().get(METADATA).content.decode()


def test_rotation_publishes_the_next_key_then_switches_and_keeps_the_previous(idp: dict, settings: Any) -> None:
    settings.CANOPY_SAML_NEXT_KEY_HOURS = 12
    settings.CANOPY_SIGNING_KEY_RETENTION_HOURS = 24
    tenant = idp["tenant"]
    stale_sp = sp_settings(idp["metadata"])  # never refreshes its copy of the IdP metadata
    old = SigningKey.objects.get(tenant=tenant, algorithm="RS256", status="active")
    assert [cert_n(c) for c in published_certs(fresh_metadata())] == [rs256_n(old)]

    new = next(k for k in signing_keys_rotate(actor=SYSTEM, tenant=tenant) if k.algorithm == "RS256")

    # Right after the rotation: the next key is published, the previous key still signs.
    metadata = fresh_metadata()
    assert [cert_n(c) for c in published_certs(metadata)] == [rs256_n(old), rs256_n(new)]
    signer_cert = OneLogin_Saml2_Utils.format_cert(published_certs(metadata)[0])
    assert OneLogin_Saml2_Utils.validate_metadata_sign(metadata, cert=signer_cert)
    refreshed_sp = sp_settings(metadata)
    for sp in (stale_sp, refreshed_sp):
        auth, _ = sign_in(idp, sp)
        assert auth.get_errors() == [], auth.get_last_error_reason()

    # After the publication period the new key signs; the previous one stays published.
    SigningKey.objects.filter(pk=new.pk).update(created_at=timezone.now() - datetime.timedelta(hours=13))
    metadata = fresh_metadata()
    assert [cert_n(c) for c in published_certs(metadata)] == [rs256_n(new), rs256_n(old)]
    auth, xml = sign_in(idp, refreshed_sp)  # metadata read during the overlap: validates the new key
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.get_attributes()["username"] == ["bob"]
    signer = x509.load_der_x509_certificate(
        base64.b64decode(xml.split("<ds:X509Certificate>")[1].split("<")[0])
    ).public_key()
    assert signer.public_numbers().n == rs256_n(new)  # type: ignore[union-attr]
    stale, _ = sign_in(idp, stale_sp)  # why SPs must refresh: the old copy does not know the new key
    assert not stale.is_authenticated() and "Signature validation failed" in (stale.get_last_error_reason() or "")

    # Once the retired key is pruned, only the new certificate is published.
    SigningKey.objects.filter(pk=old.pk).update(retired_at=timezone.now() - datetime.timedelta(hours=25))
    signing_keys_prune(tenant=tenant)
    assert [cert_n(c) for c in published_certs(fresh_metadata())] == [rs256_n(new)]


def test_a_first_key_signs_at_once(idp: dict) -> None:
    """A tenant's only key has nothing to overlap with: it signs from the start."""
    auth, _ = sign_in(idp, idp["sp"])
    assert auth.get_errors() == [], auth.get_last_error_reason()


def test_deleting_the_retired_key_switches_at_once(idp: dict, settings: Any) -> None:
    """After a suspected compromise an operator deletes the old key: the new one signs immediately."""
    settings.CANOPY_SAML_NEXT_KEY_HOURS = 12
    tenant = idp["tenant"]
    new = next(k for k in signing_keys_rotate(actor=SYSTEM, tenant=tenant) if k.algorithm == "RS256")
    SigningKey.objects.filter(tenant=tenant, algorithm="RS256", status="retired").delete()
    metadata = fresh_metadata()
    assert [cert_n(c) for c in published_certs(metadata)] == [rs256_n(new)]
    auth, _ = sign_in(idp, sp_settings(metadata))
    assert auth.get_errors() == [], auth.get_last_error_reason()


def test_overlap_keys_phases() -> None:
    class Row:
        def __init__(self, kid: str, status: str, age_hours: float) -> None:
            self.kid, self.status = kid, status
            self.created_at = NOW - datetime.timedelta(hours=age_hours)

    NOW = timezone.now()  # noqa: N806 - a constant for the rows above
    older, previous, active = Row("k0", "retired", 100), Row("k1", "retired", 50), Row("k2", "active", 1)
    during = overlap_keys([active, previous, older], now=NOW, publish_for=datetime.timedelta(hours=12))
    assert during.signing is previous and during.next_key is active
    assert during.published == [previous, active, older]
    after = overlap_keys(
        [active, previous], now=NOW + datetime.timedelta(hours=12), publish_for=datetime.timedelta(hours=12)
    )
    assert after.signing is active and after.next_key is None and after.published == [active, previous]
    alone = overlap_keys([active], now=NOW, publish_for=datetime.timedelta(hours=12))
    assert alone.signing is active and alone.published == [active]
    with pytest.raises(ValueError, match="no active key"):
        overlap_keys([previous], now=NOW, publish_for=datetime.timedelta(hours=12))
