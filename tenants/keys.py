"""Signing-key material: generation, encryption at rest, JWK export, cached loading.

Private keys are encrypted with Fernet before they reach the database. The
encryption keys come from ``CANOPY_KEY_ENCRYPTION_KEYS`` (the first encrypts,
all decrypt, so they can be rotated) or are derived from ``SECRET_KEY``.
Loading a PEM costs tens of milliseconds, so decrypted keys are cached per
process by key id.

**Rotation overlap** (:func:`overlap_keys`). Verifiers that fetch keys on demand (OIDC's
JWKS) follow a rotation at once. Verifiers that read keys from configuration refreshed now
and then (SAML SPs and their metadata) need the new key published *before* it signs and the
old one kept *after*: for those, the new active key is only "next" during a publication
period, while the previous key (retired, still within retention) keeps signing.
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def _b64url_uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return base64.urlsafe_b64encode(value.to_bytes(size, "big")).rstrip(b"=").decode("ascii")


def multi_fernet(salt: bytes) -> MultiFernet:
    """The encryption of secrets at rest: ``CANOPY_KEY_ENCRYPTION_KEYS`` (first encrypts, all decrypt),
    else a key derived from ``SECRET_KEY`` with ``salt`` (one per purpose, so purposes do not share a key)."""
    configured = list(settings.CANOPY_KEY_ENCRYPTION_KEYS)
    if configured:
        return MultiFernet([Fernet(k.encode()) for k in configured])
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"fernet").derive(settings.SECRET_KEY.encode())
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def _fernet() -> MultiFernet:
    return multi_fernet(b"canopy-signing-keys")


def generate_private_key(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported signing algorithm {algorithm!r}")


def public_jwk(key: PrivateKey, algorithm: str) -> dict[str, Any]:
    """The public half as a JWK, with ``kid`` set to its RFC 7638 thumbprint."""
    if isinstance(key, rsa.RSAPrivateKey):
        numbers = key.public_key().public_numbers()
        members = {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    else:
        pub = key.public_key().public_numbers()
        members = {"crv": "P-256", "kty": "EC", "x": _b64url_uint(pub.x, 32), "y": _b64url_uint(pub.y, 32)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    return {**members, "kid": kid, "use": "sig", "alg": algorithm}


def encrypt_private_key(key: PrivateKey) -> str:
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return _fernet().encrypt(pem).decode("ascii")


@functools.lru_cache(maxsize=256)
def _load(kid: str, token: str) -> PrivateKey:
    pem = _fernet().decrypt(token.encode("ascii"))
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ValueError("unexpected key type")
    return key


def load_private_key(kid: str, encrypted: str) -> PrivateKey:
    """Decrypt and parse once per process; later calls hit the cache."""
    return _load(kid, encrypted)


class KeyRow(Protocol):
    """What :func:`overlap_keys` reads of a ``tenants.models.SigningKey``."""

    kid: str
    status: str
    created_at: datetime.datetime


@dataclass(frozen=True)
class OverlapKeys:
    """Which key signs now, and which keys to publish (signing one first)."""

    signing: Any
    published: list[Any]
    next_key: Any | None  # the active key while still in its publication period
    previous: list[Any]  # retired keys still published


def overlap_keys(rows: Sequence[KeyRow], *, now: datetime.datetime, publish_for: datetime.timedelta) -> OverlapKeys:
    """Split one algorithm's unpruned keys into the signing key, the next key and the previous ones.

    ``rows``: the active key and the retired keys still within retention. While the active
    key is younger than ``publish_for`` and a retired key exists, the newest retired key
    signs and the active key is published as the next one; afterwards the active key signs
    and the retired ones stay published until pruning removes them.
    """
    active = next((r for r in rows if r.status == "active"), None)
    if active is None:
        raise ValueError("no active key")
    retired = sorted((r for r in rows if r.status != "active"), key=lambda r: r.created_at, reverse=True)
    if retired and now - active.created_at < publish_for:
        signing, previous = retired[0], retired[1:]
        return OverlapKeys(signing=signing, published=[signing, active, *previous], next_key=active, previous=previous)
    return OverlapKeys(signing=active, published=[active, *retired], next_key=None, previous=retired)
