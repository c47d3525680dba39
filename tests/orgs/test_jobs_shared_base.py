"""Propagation jobs use the same leased-job functions as sharing jobs (orgs/jobs/leases.py), the admin's
resume action included; unsharing deletes shared memberships in bulk with one version bump."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db.models.signals import post_delete
from django.test import override_settings
from django.utils import timezone

from orgs.inheritance import propagation
from orgs.inheritance.models import PropagationJob
from orgs.jobs.models import JobStatus
from orgs.sharing.models import SharingPolicy
from orgs.sharing.services import sharing_job_run, sharing_policy_share, sharing_policy_unshare
from orgs.tree.models import Membership
from orgs.tree.selectors import organizations_version, user_eligible_organizations
from orgs.tree.services import organization_create
from tenants.actors import SYSTEM
from tenants.models import AuditEvent
from tenants.services import tenant_create, user_create
from tests.support.worlds import World

pytestmark = pytest.mark.django_db


def make_job(world: World, **fields: Any) -> PropagationJob:
    # Versions above any the fixture world's own settings writes made (so only our jobs compete).
    values: dict[str, Any] = {
        "tenant": world.tenant,
        "organization": world.root,
        "section": "branding",
        "version": 10**6,
    }
    return PropagationJob.objects.create(**{**values, **fields})


def test_a_newer_covering_job_supersedes_at_claim_through_the_shared_claim(world_a: World) -> None:
    old = make_job(world_a, version=10**6)
    make_job(world_a, version=10**6 + 1)
    assert propagation.job_claim(old.pk, "run-1") is None
    old.refresh_from_db()
    assert old.status == JobStatus.SUPERSEDED and old.finished_at is not None and old.attempts == 0


def test_a_live_lease_keeps_other_runs_out_and_an_expired_one_lets_them_in(world_a: World) -> None:
    job = make_job(world_a)
    claimed = propagation.job_claim(job.pk, "run-1")
    assert claimed is not None and claimed.status == JobStatus.RUNNING and claimed.attempts == 1
    assert propagation.job_claim(job.pk, "run-2") is None
    PropagationJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert propagation.stalled_jobs()[0] == [job.pk]
    assert propagation.job_run(job.pk, "run-2") == JobStatus.DONE
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 2 and job.lease_until is None


def test_the_admin_resume_action_uses_job_resume(world_a: World, admin_client_for: Any) -> None:
    failed = make_job(world_a, status=JobStatus.FAILED)
    alive = make_job(
        world_a,
        section="login_policy",
        status=JobStatus.RUNNING,
        lease_owner="someone",
        lease_until=timezone.now() + timedelta(minutes=5),
    )
    client = admin_client_for(world_a.admin)
    page = client.post(
        "/admin/orgs/propagationjob/",
        {"action": "resume_jobs", "_selected_action": [failed.pk, alive.pk]},
        follow=True,
    )
    text = page.content.decode()
    assert "Resumed 1 job(s)." in text and f"job {alive.pk}: Only failed jobs" in text
    failed.refresh_from_db()
    alive.refresh_from_db()
    assert failed.status == JobStatus.PENDING and failed.lease_owner == ""
    assert alive.status == JobStatus.RUNNING and alive.lease_owner == "someone"
    event = AuditEvent.objects.get(action="propagationjob.resume")
    assert event.tenant_id == world_a.tenant.pk and event.data["job"] == failed.pk


@override_settings(CANOPY_SHARING_INLINE_LIMIT=3)
def test_unsharing_a_large_set_is_one_bulk_delete_and_seen_at_once() -> None:
    cache.clear()
    tenant = tenant_create(actor=SYSTEM, slug="bulk-unshare")
    top = organization_create(actor=SYSTEM, tenant=tenant, identifier="top", display_name="Top")
    for i in range(12):
        organization_create(actor=SYSTEM, tenant=tenant, identifier=f"o{i}", display_name=f"O{i}", parent=top)
    user = user_create(actor=SYSTEM, tenant=tenant, username="pat", email="pat@bulk.example")
    policy, job = sharing_policy_share(actor=SYSTEM, tenant=tenant, user=user, organization=top, mode="with-children")
    assert job is not None
    sharing_job_run(job.pk)
    shared = Membership.objects.filter(user=user, origin=Membership.Origin.SHARED)
    assert shared.count() == 13
    assert len(user_eligible_organizations(user=user)) == 13  # cached in this process now
    version = organizations_version(tenant_id=tenant.pk)

    deleted_rows: list[Any] = []

    def count(sender: Any, instance: Any, **kwargs: Any) -> None:
        deleted_rows.append(instance)

    post_delete.connect(count, sender=Membership, dispatch_uid="test-count-membership-deletes")
    try:
        gone, unshare_job = sharing_policy_unshare(actor=SYSTEM, policy=SharingPolicy.objects.get(pk=policy.pk))
        assert gone == 0 and unshare_job is not None  # above the inline limit: a job does it
        assert sharing_job_run(unshare_job.pk) == JobStatus.DONE
    finally:
        post_delete.disconnect(dispatch_uid="test-count-membership-deletes", sender=Membership)
    assert deleted_rows == []  # no row-by-row delete
    assert not shared.exists()
    assert organizations_version(tenant_id=tenant.pk) != version
    assert user_eligible_organizations(user=user) == []  # the cached answer was dropped
    unshare_job.refresh_from_db()
    assert unshare_job.changed == 13
