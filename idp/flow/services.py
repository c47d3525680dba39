"""The password step's rules: throttle, authenticate, sign in."""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, replace

from django.conf import settings
from django.contrib.auth import authenticate
from django.http import HttpRequest

from idp.flow.session import ACR_PASSWORD, AMR_PASSWORD, SESSION_LOGIN, AuthState, sign_in
from orgs.settings_schema import ROOT
from orgs.settings_selectors import effective_section
from tenants.lockout import LockoutPolicy, failure_record, failures_reset, identifier_locked, ip_locked, lockout_policy
from tenants.models import Tenant, User


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


def client_ip(request: HttpRequest) -> str:
    """The client's address. Behind ``CANOPY_TRUSTED_PROXY_COUNT`` proxies, read X-Forwarded-For."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "CANOPY_TRUSTED_PROXY_COUNT", 0))
    if proxies > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            remote = hops[-proxies]
    try:
        return str(ipaddress.ip_address(remote))
    except ValueError:
        return ""


def tenant_lockout_policy(tenant: Tenant) -> LockoutPolicy:
    """The deployment's lockout policy, with what the tenant's administrators set at the root.

    Only values set explicitly at the tenant root (the ``login`` section) replace the
    deployment's settings; the lockout counts by identifier before any organization is
    known, so organization-level overrides of these two fields do not apply here.
    """
    policy = lockout_policy()
    login = effective_section(tenant=tenant, organization=None, section="login")
    if login.sources.get("lockout_max_attempts") == ROOT:
        policy = replace(policy, max_failures=int(login["lockout_max_attempts"]))
    if login.sources.get("lockout_minutes") == ROOT:
        policy = replace(policy, lockout_seconds=int(login["lockout_minutes"]) * 60)
    return policy


def password_attempt(
    *, request: HttpRequest, tenant: Tenant, identifier: str, password: str, second_factor: bool = False
) -> PasswordAttempt:
    """Check the password for ``identifier`` in ``tenant`` and sign in on success.

    With ``second_factor`` a right password does not sign in: the outcome is SECOND_FACTOR
    with the user, and the caller runs the next step.

    Locked identifiers and addresses are refused before any password check, whether
    or not the account exists.
    """
    ip = client_ip(request)
    if ip_locked(ip=ip) or identifier_locked(tenant=tenant, identifier=identifier):
        return PasswordAttempt(Outcome.LOCKED)
    user = authenticate(request, username=identifier, password=password, tenant=tenant.slug)
    if not isinstance(user, User) or user.tenant_id != tenant.pk:
        locked = failure_record(tenant=tenant, identifier=identifier, ip=ip, policy=tenant_lockout_policy(tenant))
        return PasswordAttempt(Outcome.LOCKED if locked else Outcome.INVALID)
    failures_reset(tenant=tenant, identifier=identifier)
    if second_factor:
        return PasswordAttempt(Outcome.SECOND_FACTOR, user=user)
    request.session.pop(SESSION_LOGIN, None)
    state = sign_in(request, user=user, tenant=tenant, amr=[AMR_PASSWORD], acr=ACR_PASSWORD)
    return PasswordAttempt(Outcome.SIGNED_IN, state)
