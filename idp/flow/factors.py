"""Second factors that other apps add to the journey (passkeys), without this app importing them.

The built-in codes (``otp``) come first; then every registered factor the organization's
effective settings require. A factor has a page of its own: the journey records the step in
the login state and sends the browser there; the page calls ``views.factor_passed`` when the
user passed it, with the RFC 8176 methods it proved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tenants.models import Tenant


@dataclass(frozen=True)
class Factor:
    name: str
    required: Callable[..., bool]  # (*, tenant, organization) -> bool
    page_url: Callable[..., str]  # (*, tenant, next_url) -> path of the factor's page


_registry: dict[str, Factor] = {}


def register_factor(factor: Factor) -> None:
    _registry[factor.name] = factor


def get_factor(name: str) -> Factor | None:
    return _registry.get(name)


def required_extra_factors(*, tenant: Tenant, organization: uuid.UUID | None) -> list[str]:
    return [f.name for f in _registry.values() if f.required(tenant=tenant, organization=organization)]
