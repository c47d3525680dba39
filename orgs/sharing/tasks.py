"""Celery tasks of sharing: run a large share/unshare job, resume stalled runs, expand a policy.

Task names keep the ``orgs.tasks.`` prefix they were published under; ``orgs.tasks`` imports
this module so autodiscovery registers them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from orgs.jobs.leases import stalled
from orgs.sharing.models import SharingJob
from orgs.sharing.services import sharing_expand, sharing_job_run

log = logging.getLogger(__name__)


@shared_task(bind=True, name="orgs.tasks.run_sharing_job")
def run_sharing_job(self: Any, job_id: int) -> str:
    """Share or unshare a large set (see orgs.sharing.services.sharing_job_run). Finished jobs are no-ops."""
    owner = f"{self.request.id or 'local'}:{uuid.uuid4().hex[:8]}"
    return sharing_job_run(job_id, owner)


@shared_task(name="orgs.tasks.resume_stalled_sharing_jobs")
def resume_stalled_sharing_jobs() -> list[int]:
    """Re-enqueue sharing jobs whose run died (expired lease); check again when live leases expire."""
    due, wait = stalled(SharingJob)
    for job_id in due:
        run_sharing_job.delay(job_id)
    if wait is not None:
        resume_stalled_sharing_jobs.apply_async(countdown=wait + 1)
    return due


@shared_task(name="orgs.tasks.expand_sharing_policy")
def expand_sharing_policy(policy_id: int) -> int:
    """Insert the missing shared memberships of a policy (idempotent; messages from before sharing jobs)."""
    return sharing_expand(policy_id=policy_id)


@worker_ready.connect
def _resume_on_worker_start(sender: Any = None, **kwargs: Any) -> None:
    try:
        resume_stalled_sharing_jobs.delay()
    except Exception:  # noqa: BLE001 - a worker must start even if the broker hiccups
        log.exception("could not enqueue the resumer of stalled sharing jobs")
