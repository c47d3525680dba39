"""Tenant signing keys as jwcrypto JWKs, cached per process by key id."""

from __future__ import annotations

import functools

from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk

from tenants.keys import load_private_key
from tenants.models import SigningKey
from tenants.selectors import signing_key_active


@functools.lru_cache(maxsize=256)
def _jwk_for(kid: str, encrypted: str) -> jwk.JWK:

    private = load_private_key(kid, encrypted)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key = jwk.JWK.from_pem(pem)
    return key


def tenant_jwk(*, tenant_id: int, algorithm: str) -> jwk.JWK:
    row = SigningKey.objects.only("kid", "private_key_encrypted").get(
        tenant_id=tenant_id, algorithm=algorithm, status=SigningKey.Status.ACTIVE
    )
    return _jwk_for(row.kid, row.private_key_encrypted)


__all__ = ["signing_key_active", "tenant_jwk"]
