"""What callers outside orgs need of leased jobs: their status choices."""

from __future__ import annotations

from orgs.jobs.models import JobStatus

LeasedJobStatus = JobStatus
