"""Celery jobs for organizations: settings propagation, sharing, invitation mail. They take ids and are safe to repeat.

Celery's autodiscovery imports this module, so every task of ``orgs`` is named here; the
invitation mail is defined in ``orgs.invitations`` (it enqueues itself without importing this
module) under its name ``orgs.tasks.send_invitation_email``.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from orgs.invitations import send_invitation_email  # noqa: F401 - defined beside its feature; registered here too
from orgs.propagation import job_run, stalled_jobs

log = logging.getLogger(__name__)


@shared_task(bind=True, name="orgs.tasks.propagate_settings")
def propagate_settings(self: Any, job_id: int) -> str:
    """Recompute one section over a subtree (see orgs.propagation). Older or finished jobs are no-ops."""
    owner = f"{self.request.id or 'local'}:{uuid.uuid4().hex[:8]}"
    return job_run(job_id, owner)


@shared_task(name="orgs.tasks.resume_stalled_propagation_jobs")
def resume_stalled_propagation_jobs() -> list[int]:
    """Re-enqueue jobs whose run died (expired lease); check again when live leases expire."""
    due, wait = stalled_jobs()
    for job_id in due:
        propagate_settings.delay(job_id)
    if wait is not None:
        resume_stalled_propagation_jobs.apply_async(countdown=wait + 1)
    return due


@worker_ready.connect
def _resume_on_worker_start(sender: Any = None, **kwargs: Any) -> None:
    try:
        resume_stalled_propagation_jobs.delay()
        resume_stalled_sharing_jobs.delay()
    except Exception:  # noqa: BLE001 - a worker must start even if the broker hiccups
        log.exception("could not enqueue the resumers of stalled jobs")


@shared_task(bind=True, name="orgs.tasks.run_sharing_job")
def run_sharing_job(self: Any, job_id: int) -> str:
    """Share or unshare a large set (see orgs.sharing.sharing_job_run). Finished jobs are no-ops."""
    from orgs.sharing import sharing_job_run

    owner = f"{self.request.id or 'local'}:{uuid.uuid4().hex[:8]}"
    return sharing_job_run(job_id, owner)


@shared_task(name="orgs.tasks.resume_stalled_sharing_jobs")
def resume_stalled_sharing_jobs() -> list[int]:
    """Re-enqueue sharing jobs whose run died (expired lease); check again when live leases expire."""
    from orgs.jobs import stalled
    from orgs.models import SharingJob

    due, wait = stalled(SharingJob)
    for job_id in due:
        run_sharing_job.delay(job_id)
    if wait is not None:
        resume_stalled_sharing_jobs.apply_async(countdown=wait + 1)
    return due


@shared_task(name="orgs.tasks.expand_sharing_policy")
def expand_sharing_policy(policy_id: int) -> int:
    """Insert the missing shared memberships of a policy (idempotent; messages from before sharing jobs)."""
    from orgs.sharing import sharing_expand

    return sharing_expand(policy_id=policy_id)
