"""Fixtures of the passkey tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache

from tests.support.webauthn import BASE


@pytest.fixture
def relying_party(settings: Any) -> Iterator[None]:
    """Canopy's base URL on ``localhost`` (the RP id of the software authenticator); a fresh cache."""
    settings.CANOPY_BASE_URL = BASE
    cache.clear()
    yield
    cache.clear()
