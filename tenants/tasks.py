"""Celery jobs for tenants. They take ids, re-read state and are safe to retry."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from tenants.actors import SystemActor
from tenants.models import SigningKey, Tenant
from tenants.services import signing_keys_prune, signing_keys_rotate


@shared_task(name="tenants.tasks.rotate_tenant_keys")
def rotate_tenant_keys(tenant_id: int, older_than_days: int | None = None) -> list[str]:
    """Rotate a tenant's keys; with ``older_than_days``, only keys at least that old (idempotent).

    Returns the new key ids.
    """
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return []
    algorithms: tuple[str, ...] = (SigningKey.Algorithm.RS256, SigningKey.Algorithm.ES256)
    if older_than_days is not None:
        cutoff = timezone.now() - timedelta(days=older_than_days)
        algorithms = tuple(
            SigningKey.objects.filter(
                tenant=tenant, status=SigningKey.Status.ACTIVE, created_at__lte=cutoff
            ).values_list("algorithm", flat=True)
        )
    created = (
        signing_keys_rotate(actor=SystemActor("celery"), tenant=tenant, algorithms=algorithms) if algorithms else []
    )
    signing_keys_prune(tenant=tenant)
    return [k.kid for k in created]


@shared_task(name="tenants.tasks.rotate_due_signing_keys")
def rotate_due_signing_keys() -> int:
    """Beat job: rotate every key older than the configured maximum age."""
    count = 0
    for tenant_id in Tenant.objects.filter(is_active=True).values_list("pk", flat=True):
        count += len(rotate_tenant_keys(tenant_id, older_than_days=settings.CANOPY_SIGNING_KEY_MAX_AGE_DAYS))
    return count
