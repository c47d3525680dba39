"""Reads on organizations. Protocol code reads organizations only through here."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import QuerySet

from orgs.models import ROLE_RANK, ActsForLink, Membership, Organization
from tenants.models import Tenant, User


def organization_descendants(*, organization: Organization, include_self: bool = False) -> QuerySet[Organization]:
    qs = Organization.objects.filter(tenant_id=organization.tenant_id, path__startswith=organization.path)
    if not include_self:
        qs = qs.exclude(pk=organization.pk)
    return qs.order_by("path")


def organization_ancestors(*, organization: Organization, include_self: bool = False) -> list[Organization]:
    """Root first. One query."""
    ids = organization.lineage_ids if include_self else organization.ancestor_ids
    if not ids:
        return []
    found = {o.pk: o for o in Organization.objects.filter(tenant_id=organization.tenant_id, pk__in=ids)}
    return [found[i] for i in ids if i in found]


def organization_get(*, tenant: Tenant, key: str) -> Organization | None:
    """By id (UUID) or identifier, inside one tenant only."""
    key = (key or "").strip()
    qs = Organization.objects.filter(tenant=tenant)
    try:
        as_uuid = uuid.UUID(key)
    except ValueError:
        return qs.filter(identifier__iexact=key).first()
    return qs.filter(pk=as_uuid).first()


def organization_tree(*, tenant: Tenant) -> QuerySet[Organization]:
    return Organization.objects.filter(tenant=tenant).order_by("path")


def role_in_lineage(*, user: User, organization: Organization) -> str | None:
    """The strongest role the user holds on this organization or any ancestor."""
    roles = Membership.objects.filter(
        tenant_id=organization.tenant_id, user=user, organization_id__in=organization.lineage_ids
    ).values_list("role", flat=True)
    best = max(roles, key=lambda r: ROLE_RANK[Membership.Role(r)], default=None)
    return best


def role_above(*, user: User, organization: Organization) -> str | None:
    """The strongest role the user holds on a strict ancestor of this organization."""
    if not organization.ancestor_ids:
        return None
    roles = Membership.objects.filter(
        tenant_id=organization.tenant_id, user=user, organization_id__in=organization.ancestor_ids
    ).values_list("role", flat=True)
    return max(roles, key=lambda r: ROLE_RANK[Membership.Role(r)], default=None)


def is_member(*, user: User, organization: Organization) -> bool:
    return Membership.objects.filter(user=user, organization=organization).exists()


def home_organization(*, user: User) -> Organization | None:
    m = (
        Membership.objects.select_related("organization")
        .filter(user=user, origin=Membership.Origin.CREATED_HERE)
        .first()
    )
    return m.organization if m else None


@dataclass(frozen=True)
class EligibleOrganization:
    """An organization a user may act for, and how."""

    organization: Organization
    via: Organization | None = None  # set when eligible through an acts-for link

    @property
    def acting_for(self) -> bool:
        return self.via is not None


def user_memberships(*, user: User) -> QuerySet[Membership]:
    if user.tenant_id is None:  # platform staff belong to no tenant, so to no organization
        return Membership.objects.none()
    return Membership.objects.filter(tenant_id=user.tenant_id, user=user).select_related("organization")


def user_organizations(*, user: User) -> list[Organization]:
    return [m.organization for m in user_memberships(user=user).order_by("organization__path")]


def user_eligible_organizations(*, user: User) -> list[EligibleOrganization]:
    """Memberships plus organizations reachable through acts-for links (two queries)."""
    if user.tenant_id is None:  # platform staff belong to no tenant, so to no organization
        return []
    own = user_organizations(user=user)
    own_ids = {o.pk for o in own}
    result = [EligibleOrganization(organization=o) for o in own]
    links = (
        ActsForLink.objects.filter(tenant_id=user.tenant_id, organization_id__in=own_ids)
        .select_related("organization", "on_behalf_of")
        .order_by("on_behalf_of__path")
    )
    seen: set[uuid.UUID] = set(own_ids)
    for link in links:
        if link.on_behalf_of_id in seen:
            continue
        seen.add(link.on_behalf_of_id)
        result.append(EligibleOrganization(organization=link.on_behalf_of, via=link.organization))
    return result


def organizations_by_ids(*, tenant: Tenant, ids: Iterable[uuid.UUID]) -> list[Organization]:
    return list(Organization.objects.filter(tenant=tenant, pk__in=list(ids)))
