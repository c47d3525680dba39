"""Failed sign-in counters and lockouts, kept in the Django cache.

Counts are keyed by the *identifier string* someone typed (per tenant), never by a
user row, so a lockout says nothing about whether an account exists. A second
counter per client IP (across tenants) slows password spraying.

Policy comes from settings, each optional:

- ``CANOPY_LOGIN_MAX_FAILURES`` (5) failures per identifier within
  ``CANOPY_LOGIN_FAILURE_WINDOW_SECONDS`` (900) lock it for
  ``CANOPY_LOGIN_LOCKOUT_SECONDS`` (900);
- ``CANOPY_LOGIN_IP_MAX_FAILURES`` (20) failures from one IP within the window
  refuse further attempts from it until the window ends.

The login journey (``idp.flow``) uses this module; administrators clear a lockout
with the user admin's "Clear login lockout" action or ``manage.py clear_lockout``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from tenants.actors import Actor
from tenants.audit import audit_record
from tenants.models import Tenant

logger = logging.getLogger(__name__)

PREFIX = "canopy:login"


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int
    lockout_seconds: int
    ip_max_failures: int
    window_seconds: int


def lockout_policy() -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=int(getattr(settings, "CANOPY_LOGIN_MAX_FAILURES", 5)),
        lockout_seconds=int(getattr(settings, "CANOPY_LOGIN_LOCKOUT_SECONDS", 15 * 60)),
        ip_max_failures=int(getattr(settings, "CANOPY_LOGIN_IP_MAX_FAILURES", 20)),
        window_seconds=int(getattr(settings, "CANOPY_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)),
    )


def normalize_identifier(identifier: str) -> str:
    """Usernames and emails compare case-insensitively, so their counters do too."""
    return (identifier or "").strip().lower()


def _digest(value: str) -> str:
    # Cache keys never carry what people typed (emails, mistyped passwords in the username box).
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]


def _identifier_keys(tenant_id: int, identifier: str) -> tuple[str, str]:
    part = f"{tenant_id}:{_digest(normalize_identifier(identifier))}"
    return f"{PREFIX}:fail:id:{part}", f"{PREFIX}:lock:id:{part}"


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


def identifier_locked(*, tenant: Tenant, identifier: str) -> bool:
    _, lock_key = _identifier_keys(tenant.pk, identifier)
    return bool(cache.get(lock_key))


def ip_locked(*, ip: str) -> bool:
    if not ip:
        return False
    return int(cache.get(_ip_key(ip)) or 0) >= lockout_policy().ip_max_failures


def failure_record(*, tenant: Tenant, identifier: str, ip: str, policy: LockoutPolicy | None = None) -> bool:
    """Count one failed attempt. True when the identifier or the IP is now locked.

    ``policy`` defaults to the settings; the login journey passes the tenant's own.
    """
    policy = policy or lockout_policy()
    fail_key, lock_key = _identifier_keys(tenant.pk, identifier)
    locked = False
    if _increment(fail_key, policy.window_seconds) >= policy.max_failures:
        cache.set(lock_key, 1, policy.lockout_seconds)
        cache.delete(fail_key)  # a fresh count once the lockout ends
        logger.warning("login lockout: tenant=%s identifier-hash=%s", tenant.slug, fail_key.rsplit(":", 1)[-1][:12])
        locked = True
    if ip and _increment(_ip_key(ip), policy.window_seconds) >= policy.ip_max_failures:
        locked = True
    return locked


def failures_reset(*, tenant: Tenant, identifier: str) -> None:
    """After a successful sign-in: forget this identifier's failures (not the IP's)."""
    fail_key, _ = _identifier_keys(tenant.pk, identifier)
    cache.delete(fail_key)


def lockout_clear(*, actor: Actor, tenant: Tenant, identifiers: Iterable[str], ip: str = "") -> int:
    """Lift the lockout (and the failure count) of these identifiers, and optionally of an IP.

    Returns how many of them were locked. Records an audit event.
    """
    cleared = 0
    names = sorted({normalize_identifier(i) for i in identifiers if normalize_identifier(i)})
    for name in names:
        fail_key, lock_key = _identifier_keys(tenant.pk, name)
        cleared += int(bool(cache.get(lock_key)))
        cache.delete_many([fail_key, lock_key])
    if ip:
        cleared += int(ip_locked(ip=ip))
        cache.delete(_ip_key(ip))
    audit_record(
        actor=actor,
        tenant=tenant,
        action="login.lockout_clear",
        data={"identifiers": names, "ip": bool(ip), "locked": cleared},
    )
    return cleared


def rate_exceeded(*, scope: str, tenant: Tenant | None, key: str, limit: int, window_seconds: int) -> bool:
    """Count one use of ``scope`` (e.g. "recover") for ``key`` (an identifier or an address, hashed
    in the cache key) in a fixed window; True once more than ``limit`` uses were counted."""
    tenant_part = str(tenant.pk) if tenant is not None else "-"
    counter = f"{PREFIX}:rate:{scope}:{tenant_part}:{_digest(normalize_identifier(key))}"
    return _increment(counter, window_seconds) > limit
