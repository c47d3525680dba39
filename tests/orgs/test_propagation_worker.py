"""Propagation through the Redis broker and real worker processes, including a SIGKILL mid-job."""

from __future__ import annotations

import os
import signal
import time
import uuid

import pytest

from orgs.inheritance.models import EffectiveSettings, PropagationJob
from orgs.inheritance.selectors import effective_section
from orgs.inheritance.services import settings_override_set
from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.support.processes import spawn_celery_worker, stop_celery_worker, tasks_sent_to

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def build_tree(tenant: Tenant, *, top: int, per_top: int, deep: int = 0) -> list[Organization]:
    """``top`` top-level organizations with ``per_top`` children each, plus a chain ``deep`` levels long."""
    orgs: list[Organization] = []

    def make(parent: Organization | None, ident: str) -> Organization:
        o = Organization(tenant=tenant, identifier=ident, display_name=ident.upper(), parent=parent)
        o.depth = parent.depth + 1 if parent else 0
        o.path = (parent.path if parent else "") + o.id.hex + "/"
        orgs.append(o)
        return o

    for i in range(top):
        t = make(None, f"t{i}")
        for j in range(per_top):
            make(t, f"t{i}-c{j}")
    parent = None
    for d in range(deep):
        parent = make(parent, f"deep{d}")
    Organization.objects.bulk_create(orgs, batch_size=1000)
    return orgs


def wait_for_jobs(tenant: Tenant, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    active = [PropagationJob.Status.PENDING, PropagationJob.Status.RUNNING]
    while time.monotonic() < deadline:
        if not PropagationJob.objects.filter(tenant=tenant, status__in=active).exists():
            return
        time.sleep(0.2)
    raise AssertionError(f"jobs still active: {list(PropagationJob.objects.filter(tenant=tenant).values())}")


def test_a_root_change_reaches_every_descendant_with_provenance(real_broker: str) -> None:
    tenant = tenant_create(actor=SYSTEM, slug="prop-rt")
    orgs = build_tree(tenant, top=5, per_top=20, deep=12)
    mid = next(o for o in orgs if o.identifier == "deep3")
    settings_override_set(actor=SYSTEM, tenant=tenant, organization=mid, section="login", values={"lockout_minutes": 7})
    wait_for_jobs(tenant)

    job = settings_override_set(actor=SYSTEM, tenant=tenant, section="login", values={"lockout_minutes": 42})
    wait_for_jobs(tenant)

    job.refresh_from_db()
    assert job.status == PropagationJob.Status.DONE and job.processed == job.total == len(orgs)
    rows = {r.organization_id: r for r in EffectiveSettings.objects.filter(tenant=tenant, section="login")}
    assert len(rows) == len(orgs)
    under_mid = {o.pk for o in orgs if o.path.startswith(mid.path)}
    for o in orgs:
        row = rows[o.pk]
        if o.pk in under_mid:  # the override still wins below deep3
            assert (row.data["lockout_minutes"], row.sources["lockout_minutes"]) == (7, mid.pk.hex)
        else:
            assert (row.data["lockout_minutes"], row.sources["lockout_minutes"]) == (42, "root")
            assert row.version == job.version
    # The worker invalidated the cache: the login-path read agrees.
    leaf = next(o for o in orgs if o.identifier == "t4-c19")
    assert effective_section(tenant=tenant, organization=leaf, section="login")["lockout_minutes"] == 42


def test_two_quick_changes_end_with_the_last_one_everywhere(real_broker: str) -> None:
    tenant = tenant_create(actor=SYSTEM, slug="prop-twice")
    orgs = build_tree(tenant, top=10, per_top=30)
    first = settings_override_set(actor=SYSTEM, tenant=tenant, section="branding", values={"display_name": "First"})
    last = settings_override_set(actor=SYSTEM, tenant=tenant, section="branding", values={"display_name": "Last"})
    wait_for_jobs(tenant)

    first.refresh_from_db()
    last.refresh_from_db()
    assert last.status == PropagationJob.Status.DONE
    assert first.status in (PropagationJob.Status.DONE, PropagationJob.Status.SUPERSEDED)
    data = list(EffectiveSettings.objects.filter(tenant=tenant, section="branding").values_list("data", "version"))
    assert len(data) == len(orgs)
    assert {(d["display_name"], v) for d, v in data} == {("Last", last.version)}


def test_a_worker_killed_mid_job_converges_after_a_restart(celery_worker_process: str) -> None:
    """SIGKILL the worker running the job; a new worker resumes after the cursor; exact counts."""
    tenant = tenant_create(actor=SYSTEM, slug="prop-kill")
    orgs = build_tree(tenant, top=8, per_top=14)  # 120 organizations
    queue = f"canopy-kill-{uuid.uuid4().hex[:8]}"
    slow = {
        "CANOPY_PROPAGATION_BATCH_SIZE": "6",
        "CANOPY_PROPAGATION_BATCH_DELAY": "0.25",
        "CANOPY_PROPAGATION_LEASE_SECONDS": "2",
    }
    victim = spawn_celery_worker(queue, log_name="celery-worker-killed.log", extra_env=slow)
    try:
        with tasks_sent_to(queue):
            job = settings_override_set(actor=SYSTEM, tenant=tenant, section="login", values={"lockout_minutes": 99})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.processed >= 30:
                break
            time.sleep(0.05)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        stop_celery_worker(victim)
    job.refresh_from_db()
    assert job.status == PropagationJob.Status.RUNNING and 30 <= job.processed < job.total == len(orgs)
    stopped_at = job.processed
    assert (
        EffectiveSettings.objects.filter(tenant=tenant, section="login", data__lockout_minutes=99).count() == stopped_at
    )

    # A restarted worker resumes stalled jobs on start (worker_ready), once the dead run's lease expires.
    survivor = spawn_celery_worker(queue, log_name="celery-worker-restarted.log", extra_env=slow)
    try:
        wait_for_jobs(tenant, timeout=90)
    finally:
        stop_celery_worker(survivor)

    job.refresh_from_db()
    assert job.status == PropagationJob.Status.DONE
    assert job.attempts == 2
    assert job.processed == job.total == len(orgs)  # nothing counted twice
    assert job.written == len(orgs)  # every row written exactly once (the killed batch rolled back)
    rows = EffectiveSettings.objects.filter(tenant=tenant, section="login")
    assert rows.count() == len(orgs)  # nothing lost, nothing duplicated
    assert set(rows.values_list("data__lockout_minutes", "version")) == {(99, job.version)}
