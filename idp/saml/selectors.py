"""Reads on service providers.

Every SSO request looks its SP up by (tenant, entity id). Each process keeps the rows it
read, tagged with the tenant's *SP version*: a random token in the shared cache that any
save or delete of a tenant's SP (and any deletion of one of its organizations, which may
clear an SP's default organization by a bulk update) replaces. A lookup therefore costs one
cache GET instead of a query, and a change reaches every process on its next request;
SP_CACHE_SECONDS bounds what no signal reports (a queryset ``update()``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save

from idp.saml.models import ServiceProvider
from orgs.tree.models import Organization
from orgs.tree.selectors import organizations_version, organizations_version_key
from tenants.models import Tenant
from tenants.version_tokens import version_token, version_token_replace

SP_CACHE_SECONDS = 60
SP_CACHE_SIZE = 2048
_by_entity: dict[tuple[int, str], tuple[str, float, ServiceProvider | None]] = {}


def service_providers_version_key(tenant_id: int) -> str:
    return f"saml:sp-version:{tenant_id}"


_version_key = service_providers_version_key


def service_providers_version(*, tenant_id: int) -> str:
    return version_token(_version_key(tenant_id))


def service_providers_changed(*, tenant_id: int) -> None:
    """Now (the writer's next read is fresh) and at commit (no reader keeps pre-commit rows)."""
    version_token_replace(_version_key(tenant_id))


@dataclass(frozen=True)
class Versions:
    """The tenant's SP and organization versions, read in one cache round trip."""

    service_providers: str
    organizations: str


def versions(*, tenant: Tenant) -> Versions:
    """Both versions the SSO path checks, with one ``get_many`` (each created on first use)."""
    sp_key, org_key = service_providers_version_key(tenant.pk), organizations_version_key(tenant.pk)
    found = cache.get_many([sp_key, org_key])
    return Versions(
        service_providers=str(found.get(sp_key) or service_providers_version(tenant_id=tenant.pk)),
        organizations=str(found.get(org_key) or organizations_version(tenant_id=tenant.pk)),
    )


def service_provider_get(*, tenant: Tenant, entity_id: str, version: str | None = None) -> ServiceProvider | None:
    """The tenant's SP with this entity id (cached per process). The instance is shared: read it only.

    ``version``: the tenant's SP version if the caller read it already (see :func:`versions`).
    """
    if not entity_id:
        return None
    version = version or service_providers_version(tenant_id=tenant.pk)
    now = time.monotonic()
    slot = (tenant.pk, entity_id)
    hit = _by_entity.get(slot)
    if hit is not None and hit[0] == version and hit[1] > now:
        return hit[2]
    try:  # get(), not first(): no ORDER BY on the sign-in path
        found: ServiceProvider | None = ServiceProvider.objects.get(tenant=tenant, entity_id=entity_id)
    except ServiceProvider.DoesNotExist:
        found = None
    if len(_by_entity) >= SP_CACHE_SIZE:
        _by_entity.clear()
    _by_entity[slot] = (version, now + SP_CACHE_SECONDS, found)
    return found


def service_provider_cache_clear() -> None:
    _by_entity.clear()


def service_provider_by_pk(*, tenant: Tenant, pk: int) -> ServiceProvider | None:
    return ServiceProvider.objects.filter(tenant=tenant, pk=pk).first()


def service_providers(*, tenant: Tenant) -> QuerySet[ServiceProvider]:
    return ServiceProvider.objects.filter(tenant=tenant).order_by("entity_id")


def service_providers_with_metadata_url(*, tenant: Tenant | None = None) -> QuerySet[ServiceProvider]:
    """SPs registered from an http(s) metadata URL: the ones the refresh job re-reads."""
    qs = ServiceProvider.objects.filter(metadata_source__regex=r"^https?://")
    if tenant is not None:
        qs = qs.filter(tenant=tenant)
    return qs.order_by("tenant_id", "pk")


def _on_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.tenant_id is not None:
        service_providers_changed(tenant_id=instance.tenant_id)


post_save.connect(_on_change, sender=ServiceProvider, dispatch_uid="saml-sp-cache-save")
post_delete.connect(_on_change, sender=ServiceProvider, dispatch_uid="saml-sp-cache-delete")
# Deleting an organization clears SPs' default_organization with a bulk UPDATE (SET_NULL).
post_delete.connect(_on_change, sender=Organization, dispatch_uid="saml-sp-cache-org-delete")
