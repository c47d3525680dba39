"""The reach of a delegated administrator: the organizations an actor may administer.

Tenant administrators (and the system) reach every organization of their tenant. An
owner or admin of an organization reaches it and its whole subtree (never its parent,
siblings or another tenant). Members reach nothing. The API and the admin use this to
decide what exists for the caller (anything outside answers 404); what the caller may
*do* there stays with ``orgs.tree.permissions`` and the services.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from orgs.tree.models import Membership, Organization
from tenants.actors import Actor, SystemActor, is_tenant_admin
from tenants.models import Tenant, User

ADMIN_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def administered_roots(*, actor: Actor, tenant: Tenant) -> list[Organization]:
    """The organizations where the actor holds owner/admin directly (tops of their subtrees)."""
    if isinstance(actor, SystemActor) or not actor.is_active or actor.tenant_id != tenant.pk:
        return []
    return list(
        Organization.objects.filter(tenant=tenant, memberships__user=actor, memberships__role__in=ADMIN_ROLES).order_by(
            "path"
        )
    )


def administered_organizations(*, actor: Actor, tenant: Tenant) -> QuerySet[Organization]:
    qs = Organization.objects.filter(tenant=tenant)
    if is_tenant_admin(actor, tenant):
        return qs
    roots = administered_roots(actor=actor, tenant=tenant)
    if not roots:
        return qs.none()
    reach = Q()
    for root in roots:
        reach |= Q(path__startswith=root.path)
    return qs.filter(reach)


def is_delegated_admin(*, user: User) -> bool:
    """An active tenant user who owns or administers at least one organization."""
    return bool(
        user.is_active
        and user.tenant_id is not None
        and Membership.objects.filter(tenant_id=user.tenant_id, user=user, role__in=ADMIN_ROLES).exists()
    )


def administered_memberships(*, actor: Actor, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(
        tenant=tenant, organization__in=administered_organizations(actor=actor, tenant=tenant)
    )


def administered_users(*, actor: Actor, tenant: Tenant) -> QuerySet[User]:
    """Users who are members somewhere in the actor's reach."""
    if is_tenant_admin(actor, tenant):
        return User.objects.filter(tenant=tenant)
    return User.objects.filter(
        tenant=tenant,
        pk__in=administered_memberships(actor=actor, tenant=tenant).values("user_id"),
    )
