"""Reads on service providers."""

from __future__ import annotations

from django.db.models import QuerySet

from idp.saml.models import ServiceProvider
from tenants.models import Tenant


def service_provider_get(*, tenant: Tenant, entity_id: str) -> ServiceProvider | None:
    if not entity_id:
        return None
    try:  # get(), not first(): no ORDER BY on the sign-in path
        return ServiceProvider.objects.get(tenant=tenant, entity_id=entity_id)
    except ServiceProvider.DoesNotExist:
        return None


def service_provider_by_pk(*, tenant: Tenant, pk: int) -> ServiceProvider | None:
    return ServiceProvider.objects.filter(tenant=tenant, pk=pk).first()


def service_providers(*, tenant: Tenant) -> QuerySet[ServiceProvider]:
    return ServiceProvider.objects.filter(tenant=tenant).order_by("entity_id")
