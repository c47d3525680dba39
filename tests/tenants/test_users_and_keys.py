"""Tenants, users and signing keys."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import Client, override_settings
from django.utils import timezone

from tenants import keys
from tenants.actors import SYSTEM
from tenants.models import SigningKey, User
from tenants.selectors import signing_key_active, tenant_jwks
from tenants.services import signing_keys_prune, signing_keys_rotate, tenant_create, user_create

pytestmark = pytest.mark.django_db


def b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def test_a_new_tenant_gets_rs256_and_es256_keys_encrypted_at_rest() -> None:
    tenant = tenant_create(actor=SYSTEM, slug="acme", display_name="Acme")
    rows = {k.algorithm: k for k in SigningKey.objects.filter(tenant=tenant)}
    assert set(rows) == {"RS256", "ES256"}
    for row in rows.values():
        assert "PRIVATE KEY" not in row.private_key_encrypted
        assert row.public_jwk["kid"] == row.kid and row.public_jwk["alg"] == row.algorithm
        assert "d" not in row.public_jwk  # no private member ever published


def test_active_keys_sign_and_their_published_jwk_verifies() -> None:
    tenant = tenant_create(actor=SYSTEM, slug="acme")
    message = b"header.payload"
    row, private = signing_key_active(tenant=tenant, algorithm="RS256")
    assert isinstance(private, rsa.RSAPrivateKey)
    signature = private.sign(message, padding.PKCS1v15(), hashes.SHA256())
    jwk = row.public_jwk
    public = rsa.RSAPublicNumbers(b64url_int(jwk["e"]), b64url_int(jwk["n"])).public_key()
    public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())

    row, private = signing_key_active(tenant=tenant, algorithm="ES256")
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    der = private.sign(message, ec.ECDSA(hashes.SHA256()))
    jwk = row.public_jwk
    public_ec = ec.EllipticCurvePublicNumbers(b64url_int(jwk["x"]), b64url_int(jwk["y"]), ec.SECP256R1()).public_key()
    public_ec.verify(der, message, ec.ECDSA(hashes.SHA256()))
    assert callable(encode_dss_signature)  # imported for readers who convert JWS signatures


def test_keys_from_one_encryption_key_do_not_open_with_another() -> None:
    tenant = tenant_create(actor=SYSTEM, slug="acme")
    row = SigningKey.objects.filter(tenant=tenant).first()
    assert row is not None
    with override_settings(CANOPY_KEY_ENCRYPTION_KEYS=[base64.urlsafe_b64encode(b"k" * 32).decode()]):
        keys._load.cache_clear()
        with pytest.raises(InvalidToken):
            keys.load_private_key(row.kid, row.private_key_encrypted)
    keys._load.cache_clear()
    assert keys.load_private_key(row.kid, row.private_key_encrypted) is not None


def test_rotation_keeps_old_keys_in_jwks_until_retention_ends() -> None:
    tenant = tenant_create(actor=SYSTEM, slug="acme")
    old_kids = set(SigningKey.objects.filter(tenant=tenant).values_list("kid", flat=True))
    new = signing_keys_rotate(actor=SYSTEM, tenant=tenant)
    published = {k["kid"] for k in tenant_jwks(tenant=tenant)["keys"]}
    assert old_kids | {k.kid for k in new} == published
    assert SigningKey.objects.filter(tenant=tenant, status="active").count() == 2

    assert signing_keys_prune(tenant=tenant) == 0  # still within retention
    later = timezone.now() + timedelta(hours=25)
    assert signing_keys_prune(tenant=tenant, now=later) == 2
    assert {k["kid"] for k in tenant_jwks(tenant=tenant)["keys"]} == {k.kid for k in new}


def test_only_one_active_key_per_algorithm_is_possible() -> None:
    tenant = tenant_create(actor=SYSTEM, slug="acme")
    row = SigningKey.objects.get(tenant=tenant, algorithm="ES256")
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.create(
            tenant=tenant, kid="dup", algorithm="ES256", status="active", public_jwk={}, private_key_encrypted="x"
        )
    assert row.status == "active"


def test_jwks_endpoint_per_tenant_and_404_for_unknown() -> None:
    a = tenant_create(actor=SYSTEM, slug="tenant-a")
    b = tenant_create(actor=SYSTEM, slug="tenant-b")
    client = Client()
    body_a = json.loads(client.get("/t/tenant-a/jwks.json").content)
    kids_b = set(SigningKey.objects.filter(tenant=b).values_list("kid", flat=True))
    assert {k["kid"] for k in body_a["keys"]} == set(SigningKey.objects.filter(tenant=a).values_list("kid", flat=True))
    assert not kids_b & {k["kid"] for k in body_a["keys"]}
    assert client.get("/t/nope/jwks.json").status_code == 404


@pytest.mark.parametrize("slug", ["", "Acme", "acme_bank", "-acme", "a" * 51])
def test_bad_tenant_slugs_are_refused(slug: str) -> None:
    with pytest.raises(ValidationError) as exc:
        tenant_create(actor=SYSTEM, slug=slug)
    assert "slug" in exc.value.message_dict


def test_usernames_and_emails_are_unique_per_tenant_not_globally() -> None:
    a = tenant_create(actor=SYSTEM, slug="tenant-a")
    b = tenant_create(actor=SYSTEM, slug="tenant-b")
    user_create(actor=SYSTEM, tenant=a, username="alice", email="alice@x.example", password="alice-pass-1234")
    user_create(actor=SYSTEM, tenant=b, username="alice", email="alice@x.example", password="alice-pass-1234")
    with pytest.raises(ValidationError) as exc:
        user_create(actor=SYSTEM, tenant=a, username="ALICE", password="alice-pass-1234")
    assert "username" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        user_create(actor=SYSTEM, tenant=a, username="alice2", email="Alice@X.example", password="alice-pass-1234")
    assert "email" in exc.value.message_dict
    # The database enforces it too, for writes that bypass the services.
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(tenant=a, username="Alice")


def test_passwords_are_hashed_with_argon2id_and_rehashed_when_costs_change() -> None:
    tenant = tenant_create(actor=SYSTEM, slug="acme")
    alice = user_create(actor=SYSTEM, tenant=tenant, username="alice", password="alice-pass-1234")
    assert alice.password.startswith("argon2$argon2id$")
    assert "m=1024" in alice.password
    with override_settings(CANOPY_ARGON2_MEMORY_KIB=2048):
        assert authenticate(None, username="alice", password="alice-pass-1234", tenant="acme") == alice
        alice.refresh_from_db()
        assert "m=2048" in alice.password


def test_authentication_is_scoped_to_the_named_tenant() -> None:
    a = tenant_create(actor=SYSTEM, slug="tenant-a")
    b = tenant_create(actor=SYSTEM, slug="tenant-b")
    alice_a = user_create(actor=SYSTEM, tenant=a, username="alice", email="alice@a.example", password="pass-for-a-123")
    user_create(actor=SYSTEM, tenant=b, username="alice", password="pass-for-b-123")
    assert authenticate(None, username="alice", password="pass-for-a-123", tenant="tenant-a") == alice_a
    assert authenticate(None, username="alice@a.example", password="pass-for-a-123", tenant="tenant-a") == alice_a
    assert authenticate(None, username="alice", password="pass-for-a-123", tenant="tenant-b") is None
    assert authenticate(None, username="alice", password="pass-for-a-123", tenant="") is None
    assert authenticate(None, username="alice", password="pass-for-a-123", tenant="missing") is None


def test_weak_passwords_are_refused_with_a_field_error() -> None:
    tenant = tenant_create(actor=SYSTEM, slug="acme")
    with pytest.raises(ValidationError) as exc:
        user_create(actor=SYSTEM, tenant=tenant, username="alice", password="123")
    assert "password" in exc.value.message_dict
    assert not User.objects.filter(username="alice").exists()
