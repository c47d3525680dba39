"""Failed sign-in counters and lockouts, kept in the Django cache.

Failures are counted per **account** when the identifier someone typed names one (its username
or its email, any case: one counter per user), else per identifier string (per tenant), so an
identifier with no account locks out the same way and a lockout says nothing about whether an
account exists. A second counter per client IP (across tenants) slows password spraying. Every
place that checks a credential (the password step, the emailed/SMS codes, the admin sign-in)
goes through these functions and so shares the counter.

Policy comes from settings, each optional:

- ``CANOPY_LOGIN_MAX_FAILURES`` (5) failures within ``CANOPY_LOGIN_FAILURE_WINDOW_SECONDS``
  (900) lock the account (or identifier) for ``CANOPY_LOGIN_LOCKOUT_SECONDS`` (900);
- ``CANOPY_LOGIN_IP_MAX_FAILURES`` (20) failures from one IP within the window
  refuse further attempts from it until the window ends.

An organization's settings replace the first two for an account: ``orgs`` registers a resolver
(:func:`register_policy_resolver`) that reads the effective ``login`` section of the user's home
organization (else the tenant root); identifiers with no account get the root's. The lock
entry holds the moment it ends (epoch seconds), so its length is the policy's at the time.

The login journey (``idp.flow``) uses this module; administrators clear a lockout
with the user admin's "Clear login lockout" action or ``manage.py clear_lockout``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest

from tenants.actors import Actor
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant, User
from tenants.registry import Registry

logger = logging.getLogger(__name__)

PREFIX = "canopy:login"


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    lockout_seconds: int
    ip_max_failures: int
    window_seconds: int


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


def lockout_policy() -> LockoutPolicy:
    """The deployment's policy (settings), before any tenant or organization setting."""
    return LockoutPolicy(
        max_failures=int(getattr(settings, "CANOPY_LOGIN_MAX_FAILURES", 5)),
        lockout_seconds=int(getattr(settings, "CANOPY_LOGIN_LOCKOUT_SECONDS", 15 * 60)),
        ip_max_failures=int(getattr(settings, "CANOPY_LOGIN_IP_MAX_FAILURES", 20)),
        window_seconds=int(getattr(settings, "CANOPY_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)),
    )


# ``resolver(tenant=, user_id=, base=)`` → the policy for that account (``user_id`` None: an
# identifier with no account). ``orgs`` registers one at ready(); without it, the deployment's.
PolicyResolver = Callable[..., LockoutPolicy]
POLICY_RESOLVERS: Registry[PolicyResolver] = Registry("lockout policy resolver")


def register_policy_resolver(resolver: PolicyResolver) -> PolicyResolver:
    return POLICY_RESOLVERS.register(resolver)


def policy_for(*, tenant: Tenant | None, user_id: int | None) -> LockoutPolicy:
    """The policy for an account (or, for ``user_id`` None, an identifier with no account)."""
    policy = lockout_policy()
    if tenant is None:  # platform staff: the deployment's
        return policy
    for resolver in POLICY_RESOLVERS:
        policy = resolver(tenant=tenant, user_id=user_id, base=policy)
    return policy


@dataclass(frozen=True)
class Counted:
    """Whose failures are counted: an account, or an identifier string that names none."""

    tenant: Tenant | None  # None: platform staff (the admin sign-in without a tenant)
    user_id: int | None
    part: str  # the cache key's tail

    @property
    def fail_key(self) -> str:
        return f"{PREFIX}:fail:{self.part}"

    @property
    def lock_key(self) -> str:
        return f"{PREFIX}:lock:{self.part}"

    def policy(self) -> LockoutPolicy:
        return policy_for(tenant=self.tenant, user_id=self.user_id)


def normalize_identifier(identifier: str) -> str:
    """Usernames and emails compare case-insensitively, so their counters do too."""
    return (identifier or "").strip().lower()


def _digest(value: str) -> str:
    # Cache keys never carry what people typed (emails, mistyped passwords in the username box).
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def account_for(*, tenant: Tenant | None, identifier: str) -> int | None:
    """The id of the one user ``identifier`` names (username any case, or email), as the
    authentication backend matches it; None for no such user (or an ambiguous one)."""
    value = (identifier or "").strip()
    if not value:
        return None
    match = Q(username__iexact=value)
    if "@" in value:
        match |= Q(email=value.lower())
    users = User.objects.filter(match)
    users = users.filter(tenant=tenant) if tenant is not None else users.filter(tenant__isnull=True)
    found = list(users.values_list("pk", flat=True)[:2])
    return found[0] if len(found) == 1 else None


def counted_for(*, tenant: Tenant | None, identifier: str, user: User | None = None) -> Counted:
    """The counter for ``identifier`` (or for ``user``, when the caller already knows the account)."""
    tenant_part = str(tenant.pk) if tenant is not None else "-"
    user_id = user.pk if user is not None else account_for(tenant=tenant, identifier=identifier)
    if user_id is not None:
        return Counted(tenant, user_id, f"user:{tenant_part}:{user_id}")
    return Counted(tenant, None, f"id:{tenant_part}:{_digest(normalize_identifier(identifier))}")


def _ip_key(ip: str) -> str:
    return f"{PREFIX}:fail:ip:{_digest(ip.strip().lower())}"


def _increment(key: str, timeout: int) -> int:
    """Count within a fixed window that starts at the first failure."""
    cache.add(key, 0, timeout)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout)
        return 1


def _is_locked(counted: Counted) -> bool:
    until = cache.get(counted.lock_key)
    return until is not None and int(until) > int(time.time())


def identifier_locked(*, tenant: Tenant | None, identifier: str, user: User | None = None) -> bool:
    """Whether the account ``identifier`` names (or the identifier itself) is locked out."""
    return _is_locked(counted_for(tenant=tenant, identifier=identifier, user=user))


def ip_locked(*, ip: str) -> bool:
    if not ip:
        return False
    return int(cache.get(_ip_key(ip)) or 0) >= lockout_policy().ip_max_failures


def failure_record(
    *,
    tenant: Tenant | None,
    identifier: str,
    ip: str,
    user: User | None = None,
    policy: LockoutPolicy | None = None,
) -> bool:
    """Count one failed attempt. True when the account (or identifier) or the IP is now locked.

    ``policy`` defaults to the account's (:func:`policy_for`).
    """
    counted = counted_for(tenant=tenant, identifier=identifier, user=user)
    policy = policy or counted.policy()
    locked = False
    if _increment(counted.fail_key, policy.window_seconds) >= policy.max_failures:
        cache.set(counted.lock_key, int(time.time()) + policy.lockout_seconds, policy.lockout_seconds)
        cache.delete(counted.fail_key)  # a fresh count once the lockout ends
        logger.warning(
            "login lockout: tenant=%s %s",
            tenant.slug if tenant is not None else "-",
            f"user={counted.user_id}" if counted.user_id is not None else f"identifier-hash={counted.part[-40:][:12]}",
        )
        locked = True
    if ip and _increment(_ip_key(ip), policy.window_seconds) >= policy.ip_max_failures:
        locked = True
    return locked


def failures_reset(*, tenant: Tenant | None, identifier: str, user: User | None = None) -> None:
    """After a successful sign-in: forget this account's failures (not the IP's)."""
    cache.delete(counted_for(tenant=tenant, identifier=identifier, user=user).fail_key)


def lockout_clear(*, actor: Actor, tenant: Tenant, identifiers: Iterable[str], ip: str = "") -> int:
    """Lift the lockout (and the failure count) of these identifiers' accounts (or of the
    identifiers themselves where they name none), and optionally of an IP.

    Returns how many of them were locked. Records an audit event.
    """
    cleared = 0
    names = sorted({normalize_identifier(i) for i in identifiers if normalize_identifier(i)})
    counters = {c.part: c for c in (counted_for(tenant=tenant, identifier=name) for name in names)}
    for counted in counters.values():
        cleared += int(_is_locked(counted))
        cache.delete_many([counted.fail_key, counted.lock_key])
    if ip:
        cleared += int(ip_locked(ip=ip))
        cache.delete(_ip_key(ip))
    audit_record(
        actor=actor,
        tenant=tenant,
        action=AuditAction.LOGIN_LOCKOUT_CLEAR,
        data={"identifiers": names, "ip": bool(ip), "locked": cleared},
    )
    return cleared


def rate_exceeded(*, scope: str, tenant: Tenant | None, key: str, limit: int, window_seconds: int) -> bool:
    """Count one use of ``scope`` (e.g. "recover") for ``key`` (an identifier or an address, hashed
    in the cache key) in a fixed window; True once more than ``limit`` uses were counted."""
    tenant_part = str(tenant.pk) if tenant is not None else "-"
    counter = f"{PREFIX}:rate:{scope}:{tenant_part}:{_digest(normalize_identifier(key))}"
    return _increment(counter, window_seconds) > limit
