"""The resumable background job every feature's jobs extend: status, a path-ordered cursor, counts, a lease."""

from __future__ import annotations

from django.db import models

from orgs.tree.models import MAX_DEPTH, PATH_SEGMENT_LENGTH


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    SUPERSEDED = "superseded", "Superseded by a newer change"
    FAILED = "failed", "Failed"


class LeasedJob(models.Model):
    """A resumable background job: path-ordered cursor, counts, a lease, bounded error list.

    A run takes the lease (``orgs.jobs.leases.job_claim``), commits its progress with each batch and
    may be resumed after a crash once the lease has expired; see ``orgs.inheritance.propagation``.
    """

    Status = JobStatus

    status = models.CharField(max_length=12, choices=JobStatus.choices, default=JobStatus.PENDING)
    cursor = models.CharField(max_length=PATH_SEGMENT_LENGTH * MAX_DEPTH, blank=True, help_text="Last path done.")
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_owner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def progress(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.processed / self.total))

    @property
    def is_active(self) -> bool:
        return self.status in (JobStatus.PENDING, JobStatus.RUNNING)
