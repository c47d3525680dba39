"""Version tokens: a random value in the shared cache that every process compares its copy against.

Per-process caches (eligible organizations, SAML service providers) tag what they keep with
the token current when they read it; a write that can change an answer replaces the token,
so every process sees the change on its next request for the price of one cache GET.
"""

from __future__ import annotations

import secrets

from django.core.cache import cache
from django.db import transaction


def version_token(key: str) -> str:
    """The token stored at ``key``, created on first use (``add`` so racing processes agree)."""
    found = cache.get(key)
    if found is None:
        cache.add(key, secrets.token_hex(8), timeout=None)
        found = cache.get(key)
    return str(found)


def version_token_replace(key: str) -> None:
    """Replace the token now and again at commit.

    Now, so the writer's own next read is fresh; at commit, so no reader that ran between
    the two caches the pre-commit rows under the new token.
    """
    cache.set(key, secrets.token_hex(8), timeout=None)
    transaction.on_commit(lambda: cache.set(key, secrets.token_hex(8), timeout=None))
