"""Celery tasks of inherited settings: recompute a section over a subtree, resume stalled runs.

Task names keep the ``orgs.tasks.`` prefix they were published under (beat and messages in
flight refer to them); ``orgs.tasks`` imports this module so autodiscovery registers them.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import shared_task
from celery.signals import worker_ready

from orgs.inheritance.propagation import job_run, stalled_jobs

log = logging.getLogger(__name__)


@shared_task(bind=True, name="orgs.tasks.propagate_settings")
def propagate_settings(self: Any, job_id: int) -> str:
    """Recompute one section over a subtree (see orgs.inheritance.propagation). Older or finished jobs are no-ops."""
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
    except Exception:  # noqa: BLE001 - a worker must start even if the broker hiccups
        log.exception("could not enqueue the resumer of stalled propagation jobs")
