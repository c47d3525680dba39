"""Reads of sharing policies and sharing jobs, and their choice sets."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from orgs.sharing.models import SharingJob, SharingPolicy
from orgs.tree.delegation import administered_organizations
from tenants.actors import Actor, is_tenant_admin
from tenants.models import Tenant

SharingMode = SharingPolicy.Mode


SharingJobKind = SharingJob.Kind


def sharing_policy_get(*, tenant: Tenant, pk: int) -> SharingPolicy | None:
    return SharingPolicy.objects.select_related("organization", "user", "tenant").filter(tenant=tenant, pk=pk).first()


def sharing_policies_visible(*, actor: Actor, tenant: Tenant, user: str | None = None) -> QuerySet[SharingPolicy]:
    """The policies ``actor`` sees (tenant administrators: all; others: those of organizations in reach).

    ``user``: only the policies of the user with this id or username.
    """
    qs = SharingPolicy.objects.select_related("user").filter(tenant=tenant).order_by("pk")
    if not is_tenant_admin(actor, tenant):
        qs = qs.filter(organization__in=administered_organizations(actor=actor, tenant=tenant))
    key = (user or "").strip()
    if key:
        user_id = int(key) if key.isdigit() and len(key) < 12 else -1
        qs = qs.filter(Q(user__username__iexact=key) | Q(user_id=user_id))
    return qs


def sharing_jobs(*, tenant: Tenant) -> QuerySet[SharingJob]:
    return SharingJob.objects.select_related("organization", "tenant").filter(tenant=tenant)
