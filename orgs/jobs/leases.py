"""Leases, resumption and status of background jobs (``LeasedJob`` models).

Shared by sharing jobs and the resume action of propagation jobs. The rules are the ones
``orgs.inheritance.propagation`` documents: a run takes a lease (renewed with every committed batch);
another run may take the job only once the lease has expired; progress and the lease are
committed together, so a crash loses at most one batch and a resumed run continues after
the cursor. A failed or stale job is resumed by putting it back to pending and enqueueing it.

This module knows no job kind: each kind (its model, how to enqueue a run, who may resume it)
is registered in ``JOB_KINDS`` by ``orgs/apps.py``, and the features enqueue through
:func:`job_enqueue`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from orgs.jobs.models import JobStatus, LeasedJob
from orgs.tree.models import Organization
from tenants.actors import Actor, is_tenant_admin
from tenants.audit import AuditAction, audit_record
from tenants.registry import Registry

J = TypeVar("J", bound=LeasedJob)
MAX_ERRORS = 20


@dataclass(frozen=True)
class JobKind:
    """One kind of leased job."""

    enqueue: Callable[[int], object]  # the job's id -> its run is queued (callers call it after commit)
    may_resume: Callable[[Actor, Organization], bool]  # besides tenant administrators


JOB_KINDS: Registry[JobKind] = Registry("job kind")  # by model label


def job_kind_register(
    model: type[LeasedJob], *, enqueue: Callable[[int], object], may_resume: Callable[[Actor, Organization], bool]
) -> None:
    """Register (or replace) the kind of ``model``'s jobs; ``orgs/apps.py`` does it at ready()."""
    JOB_KINDS.register(JobKind(enqueue=enqueue, may_resume=may_resume), name=model._meta.label, replace=True)


def job_kind(model: type[LeasedJob]) -> JobKind:
    return JOB_KINDS[model._meta.label]


def job_enqueue(model: type[LeasedJob], job_id: int) -> None:
    """Queue a run of the job (call it from ``transaction.on_commit``)."""
    job_kind(model).enqueue(job_id)


def job_claim(
    model: type[J],
    job_id: int,
    owner: str,
    *,
    lease_seconds: float,
    superseded: Callable[[J], bool] | None = None,
) -> J | None:
    """Take the job's lease, or None: finished, gone, or another live run holds it.

    ``superseded`` (propagation jobs: a newer job covers this one) ends the job as superseded
    under the same lock instead of running it.
    """
    now = timezone.now()
    with transaction.atomic():
        job = model.objects.select_for_update(of=("self",)).filter(pk=job_id).first()  # type: ignore[attr-defined]
        if job is None or not job.is_active:
            return None
        if job.lease_owner and job.lease_owner != owner and job.lease_until and job.lease_until > now:
            return None
        if superseded is not None and superseded(job):
            job.status = JobStatus.SUPERSEDED
            job.finished_at = now
            job.lease_owner, job.lease_until = owner, None
            job.save(update_fields=["status", "finished_at", "lease_owner", "lease_until"])
            return None
        job.status = JobStatus.RUNNING
        job.lease_owner = owner
        job.lease_until = now + timedelta(seconds=lease_seconds)
        job.attempts += 1
        job.started_at = job.started_at or now
        job.save(update_fields=["status", "lease_owner", "lease_until", "attempts", "started_at"])
        return job  # type: ignore[no-any-return]


def job_locked_if_owned(model: type[J], job_id: int, owner: str) -> J | None:
    """Inside a batch's transaction: the job row, locked, if this run still holds its lease."""
    job = model.objects.select_for_update().filter(pk=job_id).first()  # type: ignore[attr-defined]
    if job is None or job.lease_owner != owner or job.status != JobStatus.RUNNING:
        return None
    return job  # type: ignore[no-any-return]


def job_renew(job: LeasedJob, *, lease_seconds: float) -> None:
    job.lease_until = timezone.now() + timedelta(seconds=lease_seconds)


def job_finish(model: type[LeasedJob], job_id: int, status: str, owner: str, error: str | None = None) -> None:
    """End the run that holds the lease (a lost lease leaves the job to its new owner)."""
    with transaction.atomic():
        job = model.objects.select_for_update().filter(pk=job_id).first()  # type: ignore[attr-defined]
        if job is None or job.lease_owner != owner:
            return
        job.status = status
        job.finished_at = timezone.now()
        job.lease_until = None
        if error:
            job.errors = [*job.errors, {"at": timezone.now().isoformat(), "error": error[:2000]}][-MAX_ERRORS:]
        job.save(update_fields=["status", "finished_at", "lease_until", "errors"])


def job_is_resumable(job: LeasedJob, *, now: Any = None) -> bool:
    """Failed, pending, or running with an expired lease (its run died)."""
    now = now or timezone.now()
    if job.status == JobStatus.FAILED:
        return True
    if job.status == JobStatus.PENDING:
        return True
    return job.status == JobStatus.RUNNING and (job.lease_until is None or job.lease_until <= now)


def _can_resume(actor: Actor, job: Any) -> bool:
    if is_tenant_admin(actor, job.tenant):
        return True
    if job.organization is None:
        return False
    return job_kind(type(job)).may_resume(actor, job.organization)


def job_resume(*, actor: Actor, job: J) -> J:
    """Put a failed or stale job back to pending and enqueue it (the admin's "resume" action).

    Refused (field error) for a finished job or one whose run is alive; the run starts after
    commit and continues from the job's cursor.
    """
    if not _can_resume(actor, job):
        raise PermissionDenied("Your role does not allow resuming this job.")
    model = type(job)
    with transaction.atomic():
        locked = model.objects.select_for_update().get(pk=job.pk)  # type: ignore[attr-defined]
        if not job_is_resumable(locked):
            raise ValidationError(
                {
                    "status": [
                        f"Only failed jobs, or running ones whose worker stopped, resume (this one is {locked.status})."
                    ]
                }
            )
        locked.status = JobStatus.PENDING
        locked.lease_owner = ""
        locked.lease_until = None
        locked.finished_at = None
        locked.save(update_fields=["status", "lease_owner", "lease_until", "finished_at"])
        audit_record(
            actor=actor,
            tenant=locked.tenant,
            action=AuditAction(f"{model._meta.model_name}.resume"),
            target=locked,
            data={"job": locked.pk, "cursor_set": bool(locked.cursor), "processed": locked.processed},
        )
        transaction.on_commit(lambda: job_enqueue(model, locked.pk))
    return locked  # type: ignore[no-any-return]


def stalled(model: type[LeasedJob], *, now: Any = None) -> tuple[list[int], float | None]:
    """Jobs to (re-)enqueue, and the seconds until the next live lease expires (if any)."""
    now = now or timezone.now()
    active = model.objects.filter(  # type: ignore[attr-defined]
        status__in=[JobStatus.PENDING, JobStatus.RUNNING]
    ).values_list("pk", "status", "lease_until", "created_at")
    due: list[int] = []
    wait: float | None = None
    for pk, status, lease_until, created_at in active:
        if lease_until is not None and lease_until > now:
            left = (lease_until - now).total_seconds()
            wait = left if wait is None else min(wait, left)
        elif status == JobStatus.RUNNING or (now - created_at).total_seconds() > 5:
            due.append(pk)  # a dead run, or a pending job whose message may be lost
    return due, wait
