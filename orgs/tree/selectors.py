"""Reads on organizations. Protocol code reads organizations only through here."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.db.models.signals import post_delete, post_save

from orgs.tree.delegation import administered_organizations
from orgs.tree.models import ROLE_RANK, ActsForLink, Membership, Organization, OrganizationDomain
from tenants.actors import Actor
from tenants.audit import AuditAction
from tenants.models import AuditEvent, Tenant, User
from tenants.version_tokens import version_token, version_token_replace


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


# --- eligible organizations, cached per process ------------------------------------------------
# Every sign-in (OIDC authorize and token, SAML SSO) reads the user's eligible organizations:
# two queries and a few model instances. Each process keeps the answer per user, tagged with
# the tenant's *organization version*, a random token in the shared cache that every write
# which can change an answer replaces (signals below). A read costs one cache GET, so a change
# is seen by every process on its next request; ELIGIBLE_CACHE_SECONDS bounds what no signal
# reports (raw SQL, a cache flush racing a write).
ELIGIBLE_CACHE_SECONDS = 60
ELIGIBLE_CACHE_SIZE = 4096
_eligible: dict[int, tuple[str, float, list[EligibleOrganization]]] = {}


def organizations_version_key(tenant_id: int) -> str:
    """The shared-cache key of the tenant's organization version (for callers batching cache reads)."""
    return f"orgs:eligible-version:{tenant_id}"


_version_key = organizations_version_key


def organizations_version(*, tenant_id: int) -> str:
    """The tenant's current organization version (created on first use)."""
    return version_token(_version_key(tenant_id))


def organizations_changed(*, tenant_id: int) -> None:
    """Invalidate every process's cached eligible organizations of this tenant.

    Now (so the writer's own next read is fresh, tests included) and again once the
    transaction commits (so no reader caches the pre-commit rows under the new version).
    """
    version_token_replace(_version_key(tenant_id))


def user_eligible_organizations(*, user: User, version: str | None = None) -> list[EligibleOrganization]:
    """Memberships plus organizations reachable through acts-for links (cached; see above).

    ``version``: the tenant's organization version if the caller read it already this request.
    The list is the caller's; the organizations in it are shared and must not be changed.
    """
    if user.tenant_id is None:  # platform staff belong to no tenant, so to no organization
        return []
    version = version or organizations_version(tenant_id=user.tenant_id)
    now = time.monotonic()
    hit = _eligible.get(user.pk)
    if hit is not None and hit[0] == version and hit[1] > now:
        return list(hit[2])
    result = user_eligible_organizations_uncached(user=user)
    if len(_eligible) >= ELIGIBLE_CACHE_SIZE:
        _eligible.clear()
    _eligible[user.pk] = (version, now + ELIGIBLE_CACHE_SECONDS, result)
    return list(result)


def eligible_cache_clear() -> None:
    _eligible.clear()


def user_eligible_organizations_uncached(*, user: User) -> list[EligibleOrganization]:
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


def organizations_by_ids(*, tenant: Tenant, ids: Iterable[uuid.UUID | str]) -> list[Organization]:
    return list(Organization.objects.filter(tenant=tenant, pk__in=list(ids)))


def organization_by_id(*, tenant: Tenant, pk: uuid.UUID | str) -> Organization | None:
    """This tenant's organization ``pk``; None for another tenant's or none (the same answer)."""
    return Organization.objects.filter(tenant=tenant, pk=pk).first()


def home_organization_id(*, user: User) -> uuid.UUID | None:
    """The id of the organization the account was created in (no row read beyond the membership)."""
    return (
        Membership.objects.filter(user=user, origin=Membership.Origin.CREATED_HERE)
        .values_list("organization_id", flat=True)
        .first()
    )


def memberships_of(*, user: User, tenant: Tenant) -> QuerySet[Membership]:
    """The user's memberships in this tenant, with their organizations, in tree order."""
    return (
        Membership.objects.filter(user=user, organization__tenant=tenant)
        .select_related("organization")
        .order_by("organization__path")
    )


# --- what invalidates the cache ----------------------------------------------------------------
# Connected by OrgsConfig.ready() (connect_cache_signals), in every process (web, Celery, commands).
_ORG_FIELDS = {"identifier", "display_name", "path", "parent", "depth", "tenant"}
# The audited actions after which who may act for which organization can have changed (a closed
# set of tenants.audit.AuditAction members; invitations only create memberships when accepted).
ELIGIBILITY_EVENTS = frozenset(
    {
        AuditAction.ORGANIZATION_CREATE,
        AuditAction.ORGANIZATION_DELETE,
        AuditAction.ORGANIZATION_MOVE,
        AuditAction.ORGANIZATION_UPDATE,
        AuditAction.MEMBERSHIP_ADD,
        AuditAction.MEMBERSHIP_REMOVE,
        AuditAction.MEMBERSHIP_SET_ROLE,
        AuditAction.ACTS_FOR_ADD,
        AuditAction.ACTS_FOR_REMOVE,
        AuditAction.SHARING_SET,
        AuditAction.SHARING_REMOVE,
        AuditAction.INVITATION_ACCEPT,
        AuditAction.INVITATION_REGISTER,
    }
)


def _on_row_change(sender: Any, instance: Any, **kwargs: Any) -> None:
    fields = kwargs.get("update_fields")
    if sender is Organization and fields is not None and not _ORG_FIELDS & set(fields):
        return
    if instance.tenant_id is not None:
        organizations_changed(tenant_id=instance.tenant_id)


def _on_audit(sender: Any, instance: AuditEvent, created: bool = False, **kwargs: Any) -> None:
    """Bulk writes (shared memberships, subtree moves) send no row signals; their audit event does."""
    if created and instance.tenant_id is not None and instance.action in ELIGIBILITY_EVENTS:
        organizations_changed(tenant_id=instance.tenant_id)


def connect_cache_signals() -> None:
    """Whoever writes, the eligible-organizations cache of the tenant is invalidated (idempotent)."""
    for model in (Membership, ActsForLink, Organization):
        post_save.connect(_on_row_change, sender=model, dispatch_uid=f"orgs-eligible-{model.__name__}-save")
        post_delete.connect(_on_row_change, sender=model, dispatch_uid=f"orgs-eligible-{model.__name__}-delete")
    post_save.connect(_on_row_change, sender="orgs.SharingJob", dispatch_uid="orgs-eligible-SharingJob-save")  # batches
    post_save.connect(_on_audit, sender=AuditEvent, dispatch_uid="orgs-eligible-audit")


# --- read by idp.api ---
# (also by idp.federation and the quickstart: code outside orgs that may not import orgs.models)

# The models' choice sets, for validating and documenting values outside orgs.
MembershipRole = Membership.Role
MembershipOrigin = Membership.Origin


def organization_list(
    *, actor: Actor, tenant: Tenant, parent: str | None = None, identifier: str | None = None
) -> QuerySet[Organization]:
    """The organizations ``actor`` administers, in tree order.

    ``parent``: an id or identifier (its children only), or "", "none", "null" (top-level ones);
    ``identifier``: that identifier only (case-insensitive).
    """
    qs = administered_organizations(actor=actor, tenant=tenant).order_by("path")
    if parent is not None:
        if parent.lower() in ("", "none", "null"):
            qs = qs.filter(parent__isnull=True)
        else:
            found = organization_get(tenant=tenant, key=parent)
            qs = qs.filter(parent=found) if found else qs.none()
    if identifier is not None:
        qs = qs.filter(identifier__iexact=identifier.strip())
    return qs


def organization_administered(*, actor: Actor, tenant: Tenant, organization: Organization) -> bool:
    """Whether ``organization`` is in ``actor``'s reach (``orgs.tree.delegation.administered_organizations``)."""
    return administered_organizations(actor=actor, tenant=tenant).filter(pk=organization.pk).exists()


def organization_identifiers(*, tenant_id: int) -> set[str]:
    """Every identifier of the tenant, lower-cased."""
    return {i.lower() for i in Organization.objects.filter(tenant_id=tenant_id).values_list("identifier", flat=True)}


def organizations_by_identifiers(*, tenant_id: int, identifiers: Iterable[str]) -> list[Organization]:
    """The tenant's organizations with one of ``identifiers`` (case-insensitive)."""
    wanted = {i.lower() for i in identifiers}
    return list(
        Organization.objects.filter(tenant_id=tenant_id).annotate(lower=Lower("identifier")).filter(lower__in=wanted)
    )


def organization_members(*, organization: Organization, role: str | None = None) -> QuerySet[Membership]:
    """The organization's memberships (with their users) by username; ``role``: that role only."""
    qs = Membership.objects.select_related("user").filter(organization=organization).order_by("user__username")
    return qs.filter(role=role) if role else qs


def organization_member(*, organization: Organization, user_id: int) -> Membership | None:
    return (
        Membership.objects.select_related("user", "organization", "organization__tenant")
        .filter(organization=organization, user_id=user_id)
        .first()
    )


def organization_domains(*, organization: Organization) -> QuerySet[OrganizationDomain]:
    return (
        OrganizationDomain.objects.select_related("organization__tenant")
        .filter(organization=organization)
        .order_by("domain")
    )


def domain_claimed(*, tenant: Tenant, domain: str) -> bool:
    """Whether an organization of the tenant claims ``domain`` (verified or not)."""
    return OrganizationDomain.objects.filter(tenant=tenant, domain=domain).exists()


def acts_for_links(*, organization: Organization) -> QuerySet[ActsForLink]:
    """The organization's acts-for links, by the represented organization's place in the tree."""
    return (
        ActsForLink.objects.select_related("organization__tenant", "on_behalf_of")
        .filter(organization=organization)
        .order_by("on_behalf_of__path")
    )


def acts_for_link_exists(*, organization: Organization, on_behalf_of: Organization) -> bool:
    return ActsForLink.objects.filter(organization=organization, on_behalf_of=on_behalf_of).exists()
