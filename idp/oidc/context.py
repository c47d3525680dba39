"""Per-request context for the OAuth machinery: the tenant from the URL and the browser session.

oauthlib calls the validator with its own request object; the tenant and the
signed-in session come from the Django view through these context variables,
set for the duration of one request by ``tenant_scope``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.conf import settings

from tenants.models import Tenant

_tenant: ContextVar[Tenant | None] = ContextVar("canopy_oidc_tenant", default=None)
_auth: ContextVar[Any] = ContextVar("canopy_oidc_auth", default=None)


@contextmanager
def tenant_scope(tenant: Tenant, auth: Any = None) -> Iterator[None]:
    t1 = _tenant.set(tenant)
    t2 = _auth.set(auth)
    try:
        yield
    finally:
        _tenant.reset(t1)
        _auth.reset(t2)


def tenant_in_scope() -> Tenant | None:
    """The tenant of the running ``tenant_scope``, or None outside one."""
    return _tenant.get()


def current_tenant() -> Tenant:
    tenant = _tenant.get()
    if tenant is None:
        raise RuntimeError("OAuth code ran outside a tenant scope")
    return tenant


def current_auth() -> Any:
    """The browser session's AuthState (idp.flow.session) for this tenant, if any."""
    return _auth.get()


def issuer_for(tenant: Tenant) -> str:
    """Never derived from the Host header: a spoofed host cannot change it."""
    return f"{settings.CANOPY_BASE_URL}/t/{tenant.slug}"
