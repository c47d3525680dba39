"""The password step's rules: throttle, authenticate, sign in."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.http import HttpRequest

from idp.flow.session import ACR_PASSWORD, AMR_PASSWORD, SESSION_LOGIN, AuthState, sign_in
from tenants.lockout import client_ip, failure_record, failures_reset, identifier_locked, ip_locked
from tenants.models import Tenant, User

__all__ = ["Outcome", "PasswordAttempt", "client_ip", "password_attempt"]  # client_ip lives in tenants.lockout


class Outcome(enum.Enum):
    SIGNED_IN = "signed-in"
    INVALID = "invalid"  # wrong password, unknown identifier, inactive account: all the same
    LOCKED = "locked"  # too many failures for this identifier or from this address
    SECOND_FACTOR = "second-factor"  # the password is right; a second factor comes next (not signed in)


@dataclass(frozen=True)
class PasswordAttempt:
    outcome: Outcome
    auth: AuthState | None = None
    user: User | None = None


def password_attempt(
    *, request: HttpRequest, tenant: Tenant, identifier: str, password: str, second_factor: bool = False
) -> PasswordAttempt:
    """Check the password for ``identifier`` in ``tenant`` and sign in on success.

    With ``second_factor`` a right password does not sign in: the outcome is SECOND_FACTOR
    with the user, and the caller runs the next step.

    Locked accounts (or, for an identifier with no account, identifiers) and addresses are
    refused before any password check. Failures count per account, with the thresholds of the
    user's home organization (``tenants.lockout``, ``orgs.inheritance.login_policy``).
    """
    ip = client_ip(request)
    if ip_locked(ip=ip) or identifier_locked(tenant=tenant, identifier=identifier):
        return PasswordAttempt(Outcome.LOCKED)
    user = authenticate(request, username=identifier, password=password, tenant=tenant.slug)
    if not isinstance(user, User) or user.tenant_id != tenant.pk:
        locked = failure_record(tenant=tenant, identifier=identifier, ip=ip)
        return PasswordAttempt(Outcome.LOCKED if locked else Outcome.INVALID)
    failures_reset(tenant=tenant, identifier=identifier, user=user)
    if second_factor:
        return PasswordAttempt(Outcome.SECOND_FACTOR, user=user)
    request.session.pop(SESSION_LOGIN, None)
    state = sign_in(request, user=user, tenant=tenant, amr=[AMR_PASSWORD], acr=ACR_PASSWORD)
    return PasswordAttempt(Outcome.SIGNED_IN, state)
