"""Writes on inherited settings and user stores (same pattern as orgs.tree.services).

A settings write changes one level's overrides for one section, takes the section's next
version (locking the tenant root row of that section), records a propagation job and
enqueues it on commit. New and moved organizations are materialized at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from orgs.inheritance.models import PropagationJob, SettingsOverride
from orgs.inheritance.propagation import invalidate, materialize_subtree
from orgs.inheritance.schema import SECTIONS, section_get, validate_overrides
from orgs.inheritance.selectors import settings_section_overrides
from orgs.jobs.leases import job_enqueue
from orgs.tree import permissions
from orgs.tree.models import Organization
from tenants.actors import Actor, actor_label, is_tenant_admin
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant
from tenants.preconditions import ExpectedETag

MOVE_SYNC_LIMIT = 2000  # a moved subtree up to this size is recomputed inside the move's transaction


def _check_power(actor: Actor, tenant: Tenant, organization: Organization | None) -> None:
    if organization is None:
        if not is_tenant_admin(actor, tenant):
            raise PermissionDenied("Only tenant administrators change the tenant's root settings.")
    elif not permissions.can_edit_organization(actor, organization):
        raise PermissionDenied(
            "Only an owner of this organization (or above) or a tenant administrator can change its settings."
        )


def _enqueue(job_id: int) -> None:
    job_enqueue(PropagationJob, job_id)  # orgs.tasks.propagate_settings (registered in OrgsConfig.ready)


def _write(
    *,
    actor: Actor,
    tenant: Tenant,
    organization: Organization | None,
    section: str,
    change: Callable[[dict[str, Any]], dict[str, Any]],
    action: AuditAction,
    data: dict[str, Any],
) -> PropagationJob:
    with transaction.atomic():
        root, _ = SettingsOverride.objects.get_or_create(tenant=tenant, organization=None, section=section)
        root = SettingsOverride.objects.select_for_update().get(pk=root.pk)  # serializes the section's writes
        root.clock += 1
        version = root.clock
        if organization is None:
            row = root
        else:
            row, _ = SettingsOverride.objects.get_or_create(tenant=tenant, organization=organization, section=section)
        row.values = change(dict(row.values))
        row.version = version
        row.updated_by = actor_label(actor)[:200]
        if organization is not None and not row.values:
            row.delete()  # nothing overridden any more: organizations store only overrides
            root.save(update_fields=["clock"])
        else:
            row.save()
            if row is not root:
                root.save(update_fields=["clock"])
        scope = Organization.objects.filter(tenant=tenant)
        if organization is not None:
            scope = scope.filter(path__startswith=organization.path)
        job = PropagationJob.objects.create(
            tenant=tenant,
            organization=organization,
            section=section,
            version=version,
            total=scope.count(),
            reason=f"{action} by {actor_label(actor)}"[:200],
        )
        audit_record(
            actor=actor,
            tenant=tenant,
            action=action,
            target=organization,
            data={"section": section, "version": version, "job": job.pk, **data},
        )
        if organization is None:
            # Now, so this writer's next read is fresh (the root's values are read from the override row),
            # and again at commit, so no reader caches the pre-commit row meanwhile.
            invalidate(tenant_id=tenant.pk, organization_ids=[None], section=section)
            transaction.on_commit(lambda: invalidate(tenant_id=tenant.pk, organization_ids=[None], section=section))
        transaction.on_commit(lambda: _enqueue(job.pk))
    return job


def settings_override_set(
    *, actor: Actor, tenant: Tenant, organization: Organization | None = None, section: str, values: dict[str, Any]
) -> PropagationJob:
    """Set fields of a section at the root (``organization=None``) or as an organization's overrides."""
    sect = section_get(section)
    if organization is not None and organization.tenant_id != tenant.pk:
        raise ValidationError({"organization": ["The organization belongs to another tenant."]})
    _check_power(actor, tenant, organization)
    cleaned = validate_overrides(sect, values, is_root=organization is None)
    if not cleaned:
        raise ValidationError({"section": ["Nothing to change."]})

    def change(current: dict[str, Any]) -> dict[str, Any]:
        current.update(cleaned)
        return current

    return _write(
        actor=actor,
        tenant=tenant,
        organization=organization,
        section=section,
        change=change,
        action=AuditAction.SETTINGS_OVERRIDE,
        data={"fields": sorted(cleaned)},
    )


def settings_override_revert(
    *, actor: Actor, tenant: Tenant, organization: Organization | None = None, section: str, fields: list[str]
) -> PropagationJob:
    """Forget this level's value of ``fields``: they inherit again (at the root: the built-in default)."""
    sect = section_get(section)
    if organization is not None and organization.tenant_id != tenant.pk:
        raise ValidationError({"organization": ["The organization belongs to another tenant."]})
    _check_power(actor, tenant, organization)
    unknown = [f for f in fields if f not in sect.by_name]
    if unknown or not fields:
        raise ValidationError({"section": [f"Unknown field(s) of {sect.label}: {', '.join(unknown) or '(none)'}."]})

    def change(current: dict[str, Any]) -> dict[str, Any]:
        for name in fields:
            current.pop(name, None)
        return current

    return _write(
        actor=actor,
        tenant=tenant,
        organization=organization,
        section=section,
        change=change,
        action=AuditAction.SETTINGS_REVERT,
        data={"fields": sorted(fields)},
    )


def settings_materialize_new(*, organization: Organization) -> None:
    """Hook of organization_create (``orgs.tree.hooks``): the new organization's effective settings, now."""
    materialize_subtree(organization=organization, limit=1)


def settings_materialize_moved(*, organization: Organization) -> None:
    """Hook of organization_move (``orgs.tree.hooks``): recompute the moved subtree (jobs beyond MOVE_SYNC_LIMIT)."""
    done = materialize_subtree(organization=organization, limit=MOVE_SYNC_LIMIT + 1)
    if done <= MOVE_SYNC_LIMIT:
        return
    for section in SECTIONS:
        with transaction.atomic():
            root, _ = SettingsOverride.objects.get_or_create(
                tenant_id=organization.tenant_id, organization=None, section=section
            )
            root = SettingsOverride.objects.select_for_update().get(pk=root.pk)
            root.clock += 1
            root.save(update_fields=["clock"])
            job = PropagationJob.objects.create(
                tenant_id=organization.tenant_id,
                organization=organization,
                section=section,
                version=root.clock,
                total=Organization.objects.filter(
                    tenant_id=organization.tenant_id, path__startswith=organization.path
                ).count(),
                reason="organization moved",
            )
            transaction.on_commit(lambda job_id=job.pk: _enqueue(job_id))  # type: ignore[misc]


def settings_section_change(
    *,
    actor: Actor,
    tenant: Tenant,
    organization: Organization | None,
    section: str,
    changes: dict[str, Any],
    replace: bool = False,
    expected_etag: ExpectedETag | None = None,
) -> PropagationJob | None:
    """Set the fields of ``changes`` in one section of one level (a None value: inherit again). Inheritance.

    ``replace``: the fields this level sets and ``changes`` does not name inherit again too.
    ``organization`` None is the tenant root. The section's root row is locked first (it
    serializes every write of the section), then ``expected_etag`` is checked against this
    level's current overrides of the section. Returns the last propagation job started; None
    when a replace changed nothing (otherwise nothing to change is refused).
    """
    sets = {name: value for name, value in changes.items() if value is not None}
    reverts = [name for name, value in changes.items() if value is None]
    job: PropagationJob | None = None
    with transaction.atomic():
        root = SettingsOverride.objects.select_for_update().filter(
            tenant=tenant, organization__isnull=True, section=section
        )
        list(root.values_list("pk", flat=True))
        current = settings_section_overrides(tenant=tenant, organization=organization, section=section)
        if expected_etag is not None:
            expected_etag.check(current)
        if replace:
            reverts += [name for name in current if name not in changes]
        where: dict[str, Any] = {"actor": actor, "tenant": tenant, "organization": organization, "section": section}
        if sets:
            job = settings_override_set(**where, values=sets)
        if reverts:
            job = settings_override_revert(**where, fields=reverts)
        if job is None and not replace:
            raise ValidationError({"section": ["Nothing to change."]})
    return job
