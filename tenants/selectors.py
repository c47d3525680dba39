"""Reads on tenants and signing keys."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.http import Http404
from django.utils import timezone

from tenants import keys
from tenants.models import SigningKey, Tenant

TENANT_CACHE_SECONDS = 5.0
_tenants: dict[str, tuple[float, Tenant]] = {}


def tenant_get_by_slug(slug: str) -> Tenant:
    """The active tenant with this slug, or 404 (the same for missing and inactive).

    Every protocol request starts here, so a found tenant is remembered in this process
    for a few seconds (a deactivation takes effect within ``TENANT_CACHE_SECONDS``).
    """
    now = time.monotonic()
    hit = _tenants.get(slug)
    if hit is not None and hit[0] > now:
        return hit[1]
    tenant = Tenant.objects.filter(slug=slug, is_active=True).first()
    if tenant is None:
        _tenants.pop(slug, None)
        raise Http404("No such tenant.")
    if len(_tenants) > 1000:
        _tenants.clear()
    _tenants[slug] = (now + TENANT_CACHE_SECONDS, tenant)
    return tenant


def tenant_cache_clear() -> None:
    _tenants.clear()


def tenant_jwks(*, tenant: Tenant) -> dict[str, Any]:
    """Public keys a verifier needs: active keys and retired ones still in retention."""
    cutoff = timezone.now() - timedelta(hours=settings.CANOPY_SIGNING_KEY_RETENTION_HOURS)
    rows = (
        SigningKey.objects.filter(tenant=tenant)
        .exclude(status=SigningKey.Status.RETIRED, retired_at__lt=cutoff)
        .order_by("status", "algorithm", "-created_at")
    )
    return {"keys": [row.public_jwk for row in rows]}


def signing_key_active(*, tenant: Tenant, algorithm: str) -> tuple[SigningKey, keys.PrivateKey]:
    row = SigningKey.objects.get(tenant=tenant, algorithm=algorithm, status=SigningKey.Status.ACTIVE)
    return row, keys.load_private_key(row.kid, row.private_key_encrypted)
