"""The first factor follows the organization in context: password, or none where it is not allowed.

An organization's effective ``login.authenticators`` says which authenticators its users may
use. Where ``password`` is not among them (the issue's "passkey only for ``mexbanco``"), the
identifier step does not ask for a password and the password endpoint refuses one. Instead:

- ``passkey`` listed (and a registered factor that can stand alone, ``idp.flow.factors``):
  the passkey page with the identified user's passkeys. A user with no passkey yet is told
  so; where the organization also allows email codes (listed and enabled in ``connections``),
  an emailed code bootstraps the account and the user then creates a passkey on the same page
  (amr ``otp hwk``). Nothing ever falls back to the password.
- otherwise the code factors listed and enabled (email, then SMS), alone.

An identifier with no account gets the same pages (``decoy`` in the login state: a code that
matches nothing), so these steps do not say whether an account exists. The passkey page does
say whether the account has a passkey, as any passkey prompt with allowed credentials does.
"""

from __future__ import annotations

import uuid

from django.db.models import Q

from idp.flow import otp
from idp.flow.factors import first_factor_names, get_factor
from orgs.inheritance.selectors import effective_section
from tenants.models import Tenant, User

PASSWORD = "password"  # noqa: S105 - the authenticator's name in login.authenticators
BOOTSTRAP = "bootstrap"  # the login state's mark: codes, then a first passkey


def _authenticators(*, tenant: Tenant, organization: uuid.UUID | None) -> list[str]:
    login = effective_section(tenant=tenant, organization=organization, section="login")
    return [str(a) for a in (login["authenticators"] or [])]


def password_allowed(*, tenant: Tenant, organization: uuid.UUID | None) -> bool:
    return PASSWORD in _authenticators(tenant=tenant, organization=organization)


def first_factors(*, tenant: Tenant, organization: uuid.UUID | None) -> list[str]:
    """Where no password is allowed: the factor that starts the sign-in, as a one-item list (or none).

    A registered first factor (passkey) wins; else the first code factor listed and enabled.
    """
    allowed = _authenticators(tenant=tenant, organization=organization)
    for name in first_factor_names():
        if name in allowed:
            return [name]
    codes = otp.required_factors(tenant=tenant, organization=organization)
    return codes[:1]


def bootstrap_factor(*, tenant: Tenant, organization: uuid.UUID | None) -> str:
    """The code that lets a user without a passkey create their first one: email, if allowed here."""
    codes = otp.required_factors(tenant=tenant, organization=organization)
    return otp.EMAIL_OTP if otp.EMAIL_OTP in codes else ""


def user_for_identifier(*, tenant: Tenant, identifier: str) -> User | None:
    """The active user ``identifier`` names in ``tenant`` (username, or email when unique), else None."""
    value = identifier.strip()
    match = Q(username__iexact=value)
    if "@" in value:
        match |= Q(email=value.lower())
    found = list(User.objects.filter(match, tenant=tenant, is_active=True)[:2])
    return found[0] if len(found) == 1 else None


def factor_page(name: str) -> bool:
    """True for a registered factor with its own page (passkey), False for the built-in codes."""
    return get_factor(name) is not None
