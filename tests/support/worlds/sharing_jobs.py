"""Sharing-job rows for the fixture world (see tests/support/worlds/__init__.py; after world_sharing)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """A finished share job of the world's sharing policy (as a large share would leave it)."""
    from django.utils import timezone

    from orgs.jobs.models import JobStatus
    from orgs.sharing.models import SharingJob, SharingPolicy

    policy = SharingPolicy.objects.get(tenant=tenant, organization=organization)
    SharingJob.objects.create(
        tenant=tenant,
        kind=SharingJob.Kind.SHARE,
        policy=policy,
        user_id=policy.user_id,
        organization=organization,
        mode=policy.mode,
        role=policy.role,
        status=JobStatus.DONE,
        total=2,
        processed=2,
        changed=2,
        attempts=1,
        requested_by=str(SYSTEM.label),
        finished_at=timezone.now(),
    )
