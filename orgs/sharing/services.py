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
another reason. Up to ``inline_limit()`` organizations (``CANOPY_SHARING_INLINE_LIMIT``,
default ``INLINE_LIMIT``) are shared or unshared in the write's transaction; more get a
``SharingJob`` (kind share/unshare, progress counts, errors) run by the Celery task
``orgs.tasks.run_sharing_job``, enqueued on commit. The job works in path order from its
cursor, one transaction per batch with its lease (``orgs.jobs``), so it is idempotent and
resumable; a newer job for the same user and organization supersedes an active older one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from orgs.jobs.leases import job_claim, job_enqueue, job_finish, job_locked_if_owned, job_renew
from orgs.jobs.models import JobStatus
from orgs.sharing.models import SharingJob, SharingPolicy
from orgs.tree import permissions
from orgs.tree.models import Membership, Organization
from orgs.tree.selectors import organization_descendants, organizations_changed
from tenants.actors import Actor, actor_label, is_tenant_admin
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant, User

INLINE_LIMIT = 500
BATCH = 1000
LEASE_SECONDS = 60


def inline_limit() -> int:
    """How many target organizations are (un)shared inline; beyond, a tracked job does it."""
    configured = getattr(settings, "CANOPY_SHARING_INLINE_LIMIT", None)
    return INLINE_LIMIT if configured is None else int(configured)


def _own_memberships(user: User) -> QuerySet[Membership]:
    """Where the profile lives (not where it was shared to)."""
    return Membership.objects.filter(user=user).exclude(origin=Membership.Origin.SHARED)


def is_tenant_level(user: User) -> bool:
    return not _own_memberships(user).exists()


def targets_of(*, tenant_id: int, organization: Organization | None, mode: str) -> QuerySet[Organization]:
    """The organizations a policy (or a job copied from one) covers."""
    if mode == SharingPolicy.Mode.ALL:
        return Organization.objects.filter(tenant_id=tenant_id)
    assert organization is not None
    if mode == SharingPolicy.Mode.WITH_CHILDREN:
        return organization_descendants(organization=organization, include_self=True)
    return Organization.objects.filter(pk=organization.pk)


def policy_targets(policy: SharingPolicy) -> QuerySet[Organization]:
    return targets_of(tenant_id=policy.tenant_id, organization=policy.organization, mode=policy.mode)


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
    policy, _job = sharing_policy_share(
        actor=actor, tenant=tenant, user=user, organization=organization, mode=mode, role=role
    )
    return policy


def sharing_policy_share(
    *,
    actor: Actor,
    tenant: Tenant,
    user: User,
    organization: Organization | None,
    mode: str = SharingPolicy.Mode.SELECTED,
    role: str = Membership.Role.MEMBER,
) -> tuple[SharingPolicy, SharingJob | None]:
    """Like ``sharing_policy_set``; also returns the job when the set is too large to expand inline."""
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
    job = None
    with transaction.atomic():
        policy, created = SharingPolicy.objects.update_or_create(
            tenant=tenant, user=user, organization=organization, defaults={"mode": mode, "role": role}
        )
        total = policy_targets(policy).count()
        if total > inline_limit():
            job = _job_create(actor=actor, kind=SharingJob.Kind.SHARE, policy=policy, total=total)
        audit_record(
            actor=actor,
            tenant=tenant,
            action=AuditAction.SHARING_SET,
            target=policy,
            data={
                "user": user.pk,
                "organization": str(organization.pk) if organization else None,
                "mode": mode,
                "job": job.pk if job else None,
            },
        )
        if job is None:
            sharing_expand(policy_id=policy.pk)
    return policy, job


def _insert_shared(*, tenant_id: int, user_id: int, role: str, organization_ids: list[uuid.UUID]) -> int:
    """Create the missing shared memberships in these organizations; returns how many."""
    have = set(
        Membership.objects.filter(user_id=user_id, organization_id__in=organization_ids).values_list(
            "organization_id", flat=True
        )
    )
    rows = [
        Membership(
            tenant_id=tenant_id, user_id=user_id, organization_id=org_id, role=role, origin=Membership.Origin.SHARED
        )
        for org_id in organization_ids
        if org_id not in have
    ]
    Membership.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def sharing_expand(*, policy_id: int) -> int:
    """Insert the missing shared memberships of one policy, in batches. Safe to repeat."""
    policy = SharingPolicy.objects.select_related("organization").filter(pk=policy_id).first()
    if policy is None:
        return 0
    added = 0
    ids = list(policy_targets(policy).order_by("path").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        with transaction.atomic():
            added += _insert_shared(
                tenant_id=policy.tenant_id,
                user_id=policy.user_id,
                role=policy.role,
                organization_ids=ids[start : start + BATCH],
            )
    return added


def _still_covered(
    *, user_id: int, organization_ids: Iterable[uuid.UUID], exclude_policy: int | None
) -> set[uuid.UUID]:
    """Which of these organizations another policy of the user still shares it with."""
    ids = list(organization_ids)
    others = SharingPolicy.objects.filter(user_id=user_id).select_related("organization")
    if exclude_policy is not None:
        others = others.exclude(pk=exclude_policy)
    still: set[uuid.UUID] = set()
    for other in others:
        still |= set(policy_targets(other).filter(pk__in=ids).values_list("pk", flat=True))
    return still


def _remove_shared(
    *, tenant_id: int, user_id: int, organization_ids: list[uuid.UUID], exclude_policy: int | None
) -> int:
    """Delete the shared memberships no other policy keeps, as one bulk DELETE.

    ``QuerySet.delete()`` would load every row to send its ``post_delete`` signal (one cache
    write per row for the eligible-organization version); nothing references a membership, so
    the rows go in one statement and the tenant's organization version is bumped once.
    """
    keep = _still_covered(user_id=user_id, organization_ids=organization_ids, exclude_policy=exclude_policy)
    rows = Membership.objects.filter(
        tenant_id=tenant_id,
        user_id=user_id,
        origin=Membership.Origin.SHARED,
        organization_id__in=set(organization_ids) - keep,
    )
    gone = int(rows._raw_delete(rows.db))  # noqa: SLF001 - Django's own fast delete, without per-row signals
    if gone:
        organizations_changed(tenant_id=tenant_id)
    return gone


def sharing_policy_remove(*, actor: Actor, policy: SharingPolicy) -> int:
    """Delete the policy and the shared memberships only it accounted for. Returns how many went."""
    gone, _job = sharing_policy_unshare(actor=actor, policy=policy)
    return gone


def sharing_policy_unshare(*, actor: Actor, policy: SharingPolicy) -> tuple[int, SharingJob | None]:
    """Like ``sharing_policy_remove``; a large set is unshared by a job (then 0 are gone yet)."""
    if policy.organization is None:
        if not is_tenant_admin(actor, policy.tenant):
            raise PermissionDenied("Only tenant administrators manage sharing with all organizations.")
    elif not permissions.can_manage_members(actor, policy.organization):
        raise PermissionDenied(f"You may not manage sharing in '{policy.organization.identifier}'.")
    job = None
    gone = 0
    with transaction.atomic():
        targets = policy_targets(policy)
        total = targets.count()
        if total > inline_limit():
            job = _job_create(actor=actor, kind=SharingJob.Kind.UNSHARE, policy=policy, total=total)
        else:
            gone = _remove_shared(
                tenant_id=policy.tenant_id,
                user_id=policy.user_id,
                organization_ids=list(targets.values_list("pk", flat=True)),
                exclude_policy=policy.pk,
            )
        audit_record(
            actor=actor,
            tenant=policy.tenant,
            action=AuditAction.SHARING_REMOVE,
            target=policy.organization,
            data={
                "user": policy.user_id,
                "mode": policy.mode,
                "memberships_removed": gone,
                "job": job.pk if job else None,
            },
        )
        policy.delete()
    return gone, job


# --- Sharing jobs -------------------------------------------------------------------


def _job_create(*, actor: Actor, kind: str, policy: SharingPolicy, total: int) -> SharingJob:
    """Record a job (inside the caller's transaction), supersede older active ones, enqueue on commit."""
    active = SharingJob.objects.filter(
        tenant_id=policy.tenant_id,
        user_id=policy.user_id,
        organization=policy.organization,
        status__in=[JobStatus.PENDING, JobStatus.RUNNING],
    )
    active.update(status=JobStatus.SUPERSEDED, finished_at=timezone.now(), lease_until=None)
    job = SharingJob.objects.create(
        tenant_id=policy.tenant_id,
        kind=kind,
        policy=policy if kind == SharingJob.Kind.SHARE else None,
        user_id=policy.user_id,
        organization=policy.organization,
        mode=policy.mode,
        role=policy.role,
        total=total,
        requested_by=actor_label(actor)[:200],
    )
    transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def _enqueue(job_id: int) -> None:
    job_enqueue(SharingJob, job_id)  # orgs.tasks.run_sharing_job (registered in OrgsConfig.ready)


def _job_batch(job: SharingJob, organization_ids: list[uuid.UUID]) -> int:
    if job.kind == SharingJob.Kind.SHARE:
        return _insert_shared(
            tenant_id=job.tenant_id, user_id=job.user_id, role=job.role, organization_ids=organization_ids
        )
    return _remove_shared(
        tenant_id=job.tenant_id, user_id=job.user_id, organization_ids=organization_ids, exclude_policy=None
    )


def sharing_job_run(job_id: int, owner: str | None = None) -> str:
    """Run (or resume) a sharing job to its end. Returns its final status, or "skipped"/"lost-lease"."""
    owner = owner or uuid.uuid4().hex
    job = job_claim(SharingJob, job_id, owner, lease_seconds=LEASE_SECONDS)
    if job is None:
        return "skipped"
    organization = Organization.objects.filter(pk=job.organization_id).first() if job.organization_id else None
    scope = targets_of(tenant_id=job.tenant_id, organization=organization, mode=job.mode).order_by("path")
    cursor = job.cursor
    try:
        while True:
            batch = list((scope.filter(path__gt=cursor) if cursor else scope).values_list("pk", "path")[:BATCH])
            if not batch:
                break
            with transaction.atomic():
                current = job_locked_if_owned(SharingJob, job.pk, owner)
                if current is None:  # superseded, resumed elsewhere, or deleted
                    return "lost-lease"
                changed = _job_batch(current, [pk for pk, _ in batch])
                cursor = batch[-1][1]
                current.cursor = cursor
                current.processed += len(batch)
                current.changed += changed
                job_renew(current, lease_seconds=LEASE_SECONDS)
                current.save(update_fields=["cursor", "processed", "changed", "lease_until"])
    except Exception as exc:
        job_finish(SharingJob, job.pk, JobStatus.FAILED, owner, f"{type(exc).__name__}: {exc}")
        raise
    job_finish(SharingJob, job.pk, JobStatus.DONE, owner)
    return JobStatus.DONE


def sharing_apply_to_new_organization(*, organization: Organization) -> int:
    """Hook of ``organization_create`` (``orgs.tree.hooks``): "with-children" and "all" policies cover the newcomer."""
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
