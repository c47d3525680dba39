"""Who performs a change: a signed-in user, or the system itself (CLI, jobs).

Services take ``actor`` as a required keyword so that a caller must say which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from tenants.models import Tenant, User


@dataclass(frozen=True)
class SystemActor:
    """Trusted in-process caller: management commands, quickstart, Celery jobs."""

    label: str = "system"


SYSTEM = SystemActor()
Actor = Union["User", SystemActor]


def actor_label(actor: Actor) -> str:
    if isinstance(actor, SystemActor):
        return actor.label
    return str(actor)


def is_platform_staff(actor: Actor) -> bool:
    return not isinstance(actor, SystemActor) and actor.is_active and actor.is_superuser and actor.tenant_id is None


def is_tenant_admin(actor: Actor, tenant: Tenant) -> bool:
    """System, platform staff, or an active tenant administrator of *this* tenant."""
    if isinstance(actor, SystemActor) or is_platform_staff(actor):
        return True
    return bool(actor.is_active and actor.is_tenant_admin and actor.tenant_id == tenant.pk)
