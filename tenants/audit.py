"""The audit trail: every service that changes state records one event."""

from __future__ import annotations

from typing import Any

from django.db import models

from tenants.actors import Actor, SystemActor, actor_label
from tenants.models import AuditEvent, Tenant


def audit_record(
    *,
    actor: Actor,
    tenant: Tenant | None,
    action: str,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=None if isinstance(actor, SystemActor) else actor,
        actor_label=actor_label(actor)[:200],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
    )
