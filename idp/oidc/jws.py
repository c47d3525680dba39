"""Compact JWS signing with the tenant's keys, directly on ``cryptography``.

jwcrypto costs about 1.5x more per RS256 signature; this path is hot (every
access token), so it signs with preloaded key objects and caches the active
key per tenant and algorithm for a short while.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from tenants.keys import PrivateKey, load_private_key
from tenants.models import SigningKey

ACTIVE_KEY_CACHE_SECONDS = 30.0
_active: dict[tuple[int, str], tuple[float, str, PrivateKey]] = {}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def active_key(tenant_id: int, algorithm: str) -> tuple[str, PrivateKey]:
    now = time.monotonic()
    hit = _active.get((tenant_id, algorithm))
    if hit and hit[0] > now:
        return hit[1], hit[2]
    row = SigningKey.objects.only("kid", "private_key_encrypted").get(
        tenant_id=tenant_id, algorithm=algorithm, status=SigningKey.Status.ACTIVE
    )
    key = load_private_key(row.kid, row.private_key_encrypted)
    _active[(tenant_id, algorithm)] = (now + ACTIVE_KEY_CACHE_SECONDS, row.kid, key)
    return row.kid, key


def forget_active_keys() -> None:
    _active.clear()


def sign(*, tenant_id: int, algorithm: str, claims: dict[str, Any], typ: str = "JWT") -> str:
    kid, key = active_key(tenant_id, algorithm)
    header = {"alg": algorithm, "typ": typ, "kid": kid}
    signing_input = (
        b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + b64url(json.dumps(claims, separators=(",", ":"), default=str).encode())
    ).encode("ascii")
    if algorithm == "RS256":
        assert isinstance(key, rsa.RSAPrivateKey)  # noqa: S101
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif algorithm == "ES256":
        assert isinstance(key, ec.EllipticCurvePrivateKey)  # noqa: S101
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    return signing_input.decode("ascii") + "." + b64url(signature)


def verify(*, tenant_id: int, token: str) -> dict[str, Any] | None:
    """Verify a compact JWS against the tenant's published keys; return claims or None."""
    try:
        header_b64, payload_b64, sig_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        signature = b64url_decode(sig_b64)
    except (ValueError, TypeError):
        return None
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ("RS256", "ES256") or not isinstance(kid, str):
        return None
    row = (
        SigningKey.objects.filter(tenant_id=tenant_id, kid=kid, algorithm=alg)
        .only("kid", "private_key_encrypted")
        .first()
    )
    if row is None:
        return None
    public = load_private_key(row.kid, row.private_key_encrypted).public_key()
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    try:
        if alg == "RS256":
            assert isinstance(public, rsa.RSAPublicKey)  # noqa: S101
            public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            assert isinstance(public, ec.EllipticCurvePublicKey)  # noqa: S101
            if len(signature) != 64:
                raise ValueError("an ES256 signature is 64 bytes")
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    except Exception:  # noqa: BLE001 - any verification failure means "not ours"
        return None
    try:
        claims = json.loads(b64url_decode(payload_b64))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None
