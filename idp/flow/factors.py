"""Factors that other apps add to the journey (passkeys, push), without this app importing them.

The built-in codes (``otp``) come first; then every registered factor the organization's
effective settings require. A factor has a page of its own: the journey records the step in
the login state and sends the browser there; the page calls ``views.factor_passed`` when the
user passed it, with the RFC 8176 methods it proved.

A factor may also say whether a given user can *step up* with it (``acr_values``:
``idp.flow.stepup``) and whether it can be the *first* factor where an organization allows no
password (``idp.flow.firstfactor``); the journey asks those questions here, so it never imports
the app that provides the factor.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tenants.models import Tenant, User
from tenants.registry import Registry


@dataclass(frozen=True)
class Factor:
    name: str
    required: Callable[..., bool]  # (*, tenant, organization) -> bool
    page_url: Callable[..., str]  # (*, tenant, next_url) -> path of the factor's page
    step_up: Callable[..., bool] | None = None  # (*, tenant, organization, user) -> can this user step up with it
    first: bool = False  # can stand alone as the first factor (it names and proves the user)
    amr: frozenset[str] = frozenset()  # the RFC 8176 methods that prove it was passed (idp.flow.decision)


FACTORS: Registry[Factor] = Registry("factor")


def register_factor(factor: Factor) -> Factor:
    return FACTORS.register(factor)


def get_factor(name: str) -> Factor | None:
    return FACTORS.get(name)


def required_extra_factors(*, tenant: Tenant, organization: uuid.UUID | None) -> list[str]:
    return [f.name for f in FACTORS if f.required(tenant=tenant, organization=organization)]


def step_up_factors(*, tenant: Tenant, organization: uuid.UUID | None, user: User) -> list[str]:
    """Registered factors ``user`` can step up with here: first factors (passkeys) before the rest (push)."""
    return [
        f.name
        for f in sorted(FACTORS, key=lambda f: (not f.first, f.name))
        if f.step_up is not None and f.step_up(tenant=tenant, organization=organization, user=user)
    ]


def first_factor_names() -> list[str]:
    """Registered factors that can be the first factor."""
    return [f.name for f in FACTORS if f.first]
