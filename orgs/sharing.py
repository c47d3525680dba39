"""User sharing: a profile that lives in one organization gets ``shared`` memberships below it.

Three ways in (the seed's product behaviour, in Canopy's words):

1. a tenant-level user (no home organization) who creates an organization and asks to
   administer it is shared into it (``sharing_share_creator``, used by the API's create);
2. an invitation (``orgs.invitations``) makes an ``invited`` membership in one organization;
3. an administrator sets a ``SharingPolicy`` through the API (``sharing_policy_set``).

A policy is *selected* (one organization), *with-children* (an organization and its
existing and future descendants) or *all* (every organization of the tenant, existing
and future; only for tenant-level users). Expansion creates missing memberships with
origin ``shared`` and the policy's role, never touching memberships that exist for
another reason. Up to ``INLINE_LIMIT`` organizations are expanded in the write's
transaction; more are expanded by the Celery task ``orgs.tasks.expand_sharing_policy``
(enqueued on commit, idempotent: it only inserts what is missing).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from orgs import permissions
from orgs.models import Membership, Organization, SharingPolicy
from orgs.selectors import organization_descendants
from tenants.actors import Actor, is_tenant_admin
from tenants.audit import audit_record
from tenants.models import Tenant, User

INLINE_LIMIT = 500
BATCH = 1000


def _own_memberships(user: User) -> QuerySet[Membership]:
    """Where the profile lives (not where it was shared to)."""
    return Membership.objects.filter(user=user).exclude(origin=Membership.Origin.SHARED)


def is_tenant_level(user: User) -> bool:
    return not _own_memberships(user).exists()


def policy_targets(policy: SharingPolicy) -> QuerySet[Organization]:
    if policy.mode == SharingPolicy.Mode.ALL:
        return Organization.objects.filter(tenant_id=policy.tenant_id)
    assert policy.organization is not None
    if policy.mode == SharingPolicy.Mode.WITH_CHILDREN:
        return organization_descendants(organization=policy.organization, include_self=True)
    return Organization.objects.filter(pk=policy.organization.pk)


def sharing_validate(*, user: User, organization: Organization | None, mode: str, tenant: Tenant) -> None:
    errors: dict[str, list[str]] = {}
    if mode not in SharingPolicy.Mode.values:
        errors["mode"] = [f"Unknown mode '{mode}'. Use one of: {', '.join(SharingPolicy.Mode.values)}."]
    elif user.tenant_id != tenant.pk:
        errors["user"] = ["The user belongs to another tenant."]
    elif mode == SharingPolicy.Mode.ALL:
        if organization is not None:
            errors["organization"] = ["Sharing with all organizations names no organization."]
        elif not is_tenant_level(user):
            errors["mode"] = ["Only tenant-level users (without a home organization) can be shared with all."]
    elif organization is None:
        errors["organization"] = ["Name the organization to share with."]
    elif not is_tenant_level(user):
        # At or below an organization the profile lives in (its own memberships, not shared ones).
        if not _own_memberships(user).filter(organization_id__in=organization.lineage_ids).exists():
            errors["organization"] = [
                f"'{user.username}' can only be shared with organizations below one they belong to."
            ]
    if errors:
        raise ValidationError(errors)


def sharing_policy_set(
    *,
    actor: Actor,
    tenant: Tenant,
    user: User,
    organization: Organization | None,
    mode: str = SharingPolicy.Mode.SELECTED,
    role: str = Membership.Role.MEMBER,
) -> SharingPolicy:
    """Create or replace the user's policy for this organization (or for "all"), then expand it."""
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'."]})
    if organization is None:
        if not is_tenant_admin(actor, tenant):
            raise PermissionDenied("Only tenant administrators share users with all organizations.")
    elif not permissions.can_manage_members(actor, organization) or not permissions.can_grant_role(
        actor, organization, role
    ):
        raise PermissionDenied(f"You may not share users into '{organization.identifier}' with the role '{role}'.")
    sharing_validate(user=user, organization=organization, mode=mode, tenant=tenant)
    with transaction.atomic():
        policy, created = SharingPolicy.objects.update_or_create(
            tenant=tenant, user=user, organization=organization, defaults={"mode": mode, "role": role}
        )
        audit_record(
            actor=actor,
            tenant=tenant,
            action="sharing.set",
            target=policy,
            data={"user": user.pk, "organization": str(organization.pk) if organization else None, "mode": mode},
        )
        if policy_targets(policy).count() <= INLINE_LIMIT:
            sharing_expand(policy_id=policy.pk)
        else:
            from orgs.tasks import expand_sharing_policy

            transaction.on_commit(lambda: expand_sharing_policy.delay(policy.pk))
    return policy


def sharing_expand(*, policy_id: int) -> int:
    """Insert the missing shared memberships of one policy, in batches. Safe to repeat."""
    policy = SharingPolicy.objects.select_related("organization").filter(pk=policy_id).first()
    if policy is None:
        return 0
    added = 0
    ids = list(policy_targets(policy).order_by("path").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        with transaction.atomic():
            have = set(
                Membership.objects.filter(user_id=policy.user_id, organization_id__in=chunk).values_list(
                    "organization_id", flat=True
                )
            )
            rows = [
                Membership(
                    tenant_id=policy.tenant_id,
                    user_id=policy.user_id,
                    organization_id=org_id,
                    role=policy.role,
                    origin=Membership.Origin.SHARED,
                )
                for org_id in chunk
                if org_id not in have
            ]
            Membership.objects.bulk_create(rows, ignore_conflicts=True)
            added += len(rows)
    return added


def sharing_policy_remove(*, actor: Actor, policy: SharingPolicy) -> int:
    """Delete the policy and the shared memberships only it accounted for. Returns how many went."""
    if policy.organization is None:
        if not is_tenant_admin(actor, policy.tenant):
            raise PermissionDenied("Only tenant administrators manage sharing with all organizations.")
    elif not permissions.can_manage_members(actor, policy.organization):
        raise PermissionDenied(f"You may not manage sharing in '{policy.organization.identifier}'.")
    with transaction.atomic():
        targets = set(policy_targets(policy).values_list("pk", flat=True))
        others = SharingPolicy.objects.filter(user_id=policy.user_id).exclude(pk=policy.pk)
        still = set()
        for other in others.select_related("organization"):
            still |= set(policy_targets(other).values_list("pk", flat=True))
        gone, _ = Membership.objects.filter(
            user_id=policy.user_id, origin=Membership.Origin.SHARED, organization_id__in=targets - still
        ).delete()
        audit_record(
            actor=actor,
            tenant=policy.tenant,
            action="sharing.remove",
            target=policy.organization,
            data={"user": policy.user_id, "mode": policy.mode, "memberships_removed": gone},
        )
        policy.delete()
    return gone


def sharing_apply_to_new_organization(*, organization: Organization) -> int:
    """Called inside ``organization_create``: "with-children" and "all" policies cover the newcomer."""
    covering = SharingPolicy.objects.filter(tenant_id=organization.tenant_id).filter(
        Q(mode=SharingPolicy.Mode.ALL)
        | Q(mode=SharingPolicy.Mode.WITH_CHILDREN, organization_id__in=organization.ancestor_ids)
    )
    rows = [
        Membership(
            tenant_id=organization.tenant_id,
            user_id=p.user_id,
            organization=organization,
            role=p.role,
            origin=Membership.Origin.SHARED,
        )
        for p in covering
    ]
    Membership.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def sharing_share_creator(*, actor: Actor, organization: Organization, role: str = Membership.Role.ADMIN) -> None:
    """Way 1: a tenant-level user who created an organization becomes its administrator by sharing."""
    if not isinstance(actor, User) or actor.tenant_id != organization.tenant_id or not is_tenant_level(actor):
        raise ValidationError(
            {"become_admin": ["Only a tenant-level user becomes the administrator of what they create."]}
        )
    sharing_policy_set(
        actor=actor,
        tenant=organization.tenant,
        user=actor,
        organization=organization,
        mode=SharingPolicy.Mode.WITH_CHILDREN,
        role=role,
    )
