"""A fast keyed hash for client secrets.

Client secrets are generated, high-entropy random strings, so a slow KDF buys
nothing and costs ~0.4 s of CPU per client authentication. They are stored as
HMAC-SHA-256 under a key derived from SECRET_KEY (or CANOPY_CLIENT_SECRET_KEY)
and compared in constant time. Human passwords keep Argon2id.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def _key() -> bytes:
    secret = getattr(settings, "CANOPY_CLIENT_SECRET_KEY", "") or settings.SECRET_KEY
    return hashlib.sha256(b"canopy-client-secret|" + secret.encode()).digest()


class ClientSecretHasher(BasePasswordHasher):
    algorithm = "canopy_hmac_sha256"

    def encode(self, password: str, salt: str) -> str:
        self._check_encode_args(password, salt)  # type: ignore[attr-defined]  # Django's, missing from django-stubs
        digest = hmac.new(_key(), f"{salt}${password}".encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, Any]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm  # noqa: S101 - guarded by identify_hasher
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> dict[StrOrPromise, Any]:
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"]),
            "hash": mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        return None
