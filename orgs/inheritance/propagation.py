"""Materializing effective settings, and the propagation job that recomputes a subtree.

How a job runs (``job_run``), and why a crash converges:

- The job covers one section of one subtree (or the whole tenant), in path order. Each batch
  (``CANOPY_PROPAGATION_BATCH_SIZE`` organizations, default 1000) is computed in memory, then
  written together with the job's new cursor, counts and lease *in one transaction*: a crash
  loses at most an uncommitted batch, and a restart continues after the cursor, so nothing is
  lost and nothing is counted twice.
- Each write is guarded by version (``INSERT … ON CONFLICT … WHERE version <= new``): a job
  carrying an older version than a row's never overwrites it. Values are always computed from
  the overrides as they are when the batch runs, so the last change wins everywhere.
- A run holds a lease on the job (``lease_owner``/``lease_until``, renewed every batch;
  ``CANOPY_PROPAGATION_LEASE_SECONDS``, default 30). Another run (a redelivered message, the
  resumer) may take the job only once the lease has expired, so two runs never interleave.
- Resuming: tasks are acks-late, but Redis redelivers an unacknowledged message only after
  the broker's visibility timeout (an hour by default). So a worker, when it starts
  (``worker_ready``), enqueues ``resume_stalled_propagation_jobs``, which re-enqueues every
  pending or running job whose lease has expired and re-schedules itself while live leases
  remain. The same task can run from beat or by hand; a duplicate run is a no-op.
- A job is *superseded* (stops early) when a newer job of the same section covers its scope.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from psycopg.types.json import Jsonb

from orgs.inheritance.compute import Effective, cache_key, lineage_effective, number_setting, root_effective
from orgs.inheritance.models import EffectiveSettings, PropagationJob, SettingsOverride
from orgs.inheritance.schema import SECTIONS, Section, merge
from orgs.jobs import leases as jobs
from orgs.tree.models import PATH_SEGMENT_LENGTH, Organization


def batch_size() -> int:
    return int(number_setting("CANOPY_PROPAGATION_BATCH_SIZE", 1000))


def lease_seconds() -> float:
    return number_setting("CANOPY_PROPAGATION_LEASE_SECONDS", 30)


def invalidate(*, tenant_id: int, organization_ids: Iterable[uuid.UUID | None], section: str) -> None:
    keys = [cache_key(tenant_id=tenant_id, organization_id=o, section=section) for o in organization_ids]
    if keys:
        cache.delete_many(keys)


# --- computing (the lineage rules: orgs.inheritance.compute) -----------------------


class SubtreeComputer:
    """Computes effective values in path order, remembering each organization's result for its children."""

    def __init__(self, *, tenant_id: int, section: Section) -> None:
        self.tenant_id = tenant_id
        self.section = section
        self.known: dict[str, Effective] = {}

    def parent_effective(self, path: str) -> Effective:
        parent_path = path[:-PATH_SEGMENT_LENGTH]
        if parent_path in self.known:
            return self.known[parent_path]
        if not parent_path:
            eff = root_effective(tenant_id=self.tenant_id, section=self.section)
        else:
            eff = lineage_effective(tenant_id=self.tenant_id, section=self.section, path=parent_path)
        self.known[parent_path] = eff
        return eff

    def compute(self, orgs: list[tuple[uuid.UUID, str]]) -> list[tuple[uuid.UUID, dict[str, Any], dict[str, str]]]:
        """``orgs`` = (id, path) sorted by path. One query for the batch's own overrides."""
        own = dict(
            SettingsOverride.objects.filter(
                tenant_id=self.tenant_id, section=self.section.key, organization_id__in=[o[0] for o in orgs]
            ).values_list("organization_id", "values")
        )
        out = []
        for org_id, path in orgs:
            eff = merge(self.section, self.parent_effective(path), own.get(org_id), org_id.hex, is_root=False)
            self.known[path] = eff
            out.append((org_id, eff[0], eff[1]))
        return out


def write_rows(
    *, tenant_id: int, section: str, rows: list[tuple[uuid.UUID, dict[str, Any], dict[str, str]]], version: int
) -> int:
    """Upsert effective rows unless a row already carries a newer version. Returns rows written."""
    if not rows:
        return 0
    now = timezone.now()
    if connection.vendor == "postgresql":
        table = EffectiveSettings._meta.db_table
        sql = f"""
            INSERT INTO {table} (tenant_id, organization_id, section, data, sources, version, computed_at)
            SELECT %s, o, %s, d, s, %s, %s FROM unnest(%s::uuid[], %s::jsonb[], %s::jsonb[]) AS t(o, d, s)
            ON CONFLICT (organization_id, section) DO UPDATE
               SET data = EXCLUDED.data, sources = EXCLUDED.sources,
                   version = EXCLUDED.version, computed_at = EXCLUDED.computed_at
             WHERE {table}.version <= EXCLUDED.version
        """  # noqa: S608 - the table name is ours, every value is a parameter
        with connection.cursor() as cur:
            cur.execute(
                sql,
                [
                    tenant_id,
                    section,
                    version,
                    now,
                    [r[0] for r in rows],
                    [Jsonb(r[1]) for r in rows],
                    [Jsonb(r[2]) for r in rows],
                ],
            )
            return cur.rowcount
    # Other databases (the embedded SQLite default): row by row, same rule.
    written = 0
    existing = dict(
        EffectiveSettings.objects.filter(organization_id__in=[r[0] for r in rows], section=section).values_list(
            "organization_id", "version"
        )
    )
    for org_id, data, sources in rows:
        if org_id in existing and existing[org_id] > version:
            continue
        EffectiveSettings.objects.update_or_create(
            organization_id=org_id,
            section=section,
            defaults={"tenant_id": tenant_id, "data": data, "sources": sources, "version": version, "computed_at": now},
        )
        written += 1
    return written


def section_clock(*, tenant_id: int) -> dict[str, int]:
    return dict(
        SettingsOverride.objects.filter(tenant_id=tenant_id, organization__isnull=True).values_list("section", "clock")
    )


def materialize_subtree(*, organization: Organization, limit: int | None = None) -> int:
    """Compute every section for an organization and its descendants now (new or moved organizations).

    Uses each section's current version. With ``limit``, stops after that many organizations
    (the caller then enqueues jobs for the rest). Returns how many organizations were done.
    """
    clocks = section_clock(tenant_id=organization.tenant_id)
    qs = Organization.objects.filter(tenant_id=organization.tenant_id, path__startswith=organization.path).order_by(
        "path"
    )
    orgs = list(qs.values_list("id", "path")[: limit or None])
    if not orgs:
        orgs = [(organization.pk, organization.path)]
    for key, section in SECTIONS.items():
        computer = SubtreeComputer(tenant_id=organization.tenant_id, section=section)
        size = batch_size()
        for i in range(0, len(orgs), size):
            chunk = orgs[i : i + size]
            write_rows(
                tenant_id=organization.tenant_id,
                section=key,
                rows=computer.compute(chunk),
                version=clocks.get(key, 0),
            )
        ids = [o[0] for o in orgs]
        transaction.on_commit(
            lambda ids=ids, key=key: invalidate(  # type: ignore[misc]
                tenant_id=organization.tenant_id, organization_ids=ids, section=key
            )
        )
    return len(orgs)


# --- jobs -------------------------------------------------------------------


def job_scope(job: PropagationJob) -> Any:
    qs = Organization.objects.filter(tenant_id=job.tenant_id)
    if job.organization_id is not None:
        qs = qs.filter(path__startswith=job.organization.path)  # type: ignore[union-attr]
    return qs


def _newer_covering_job_exists(job: PropagationJob) -> bool:
    covering = Q(organization__isnull=True)
    if job.organization_id is not None:
        path = job.organization.path  # type: ignore[union-attr]
        prefixes = [path[: i + PATH_SEGMENT_LENGTH] for i in range(0, len(path), PATH_SEGMENT_LENGTH)]
        covering |= Q(organization__path__in=prefixes)
    return (
        PropagationJob.objects.filter(
            tenant_id=job.tenant_id,
            section=job.section,
            version__gt=job.version,
            status__in=[PropagationJob.Status.PENDING, PropagationJob.Status.RUNNING, PropagationJob.Status.DONE],
        )
        .filter(covering)
        .exists()
    )


def _finish(job_id: int, status: str, owner: str, error: str | None = None) -> None:
    jobs.job_finish(PropagationJob, job_id, status, owner, error)


def job_claim(job_id: int, owner: str) -> PropagationJob | None:
    """Take the job's lease (``orgs.jobs.leases.job_claim``); a job a newer one covers ends as superseded."""
    return jobs.job_claim(
        PropagationJob, job_id, owner, lease_seconds=lease_seconds(), superseded=_newer_covering_job_exists
    )


def job_run(job_id: int, owner: str | None = None) -> str:
    """Run (or resume) a propagation job to its end. Returns the job's final status, or "skipped"."""
    owner = owner or uuid.uuid4().hex
    job = job_claim(job_id, owner)
    if job is None:
        return "skipped"
    section = SECTIONS.get(job.section)
    if section is None:
        _finish(job.pk, PropagationJob.Status.FAILED, owner, f"unknown section {job.section!r}")
        return PropagationJob.Status.FAILED
    computer = SubtreeComputer(tenant_id=job.tenant_id, section=section)
    scope = job_scope(job).order_by("path")
    cursor = job.cursor
    delay = number_setting("CANOPY_PROPAGATION_BATCH_DELAY", 0)  # a throttle for crash tests; 0 in production
    size = batch_size()
    try:
        while True:
            batch_qs = scope.filter(path__gt=cursor) if cursor else scope
            orgs = list(batch_qs.values_list("id", "path")[:size])
            if not orgs:
                break
            rows = computer.compute(orgs)
            with transaction.atomic():
                current = jobs.job_locked_if_owned(PropagationJob, job.pk, owner)
                if current is None:  # the organization (and so the job) was deleted, or another run took it
                    return "lost-lease" if PropagationJob.objects.filter(pk=job.pk).exists() else "gone"
                if _newer_covering_job_exists(current):
                    current.status = PropagationJob.Status.SUPERSEDED
                    current.finished_at = timezone.now()
                    current.lease_until = None
                    current.save(update_fields=["status", "finished_at", "lease_until"])
                    return PropagationJob.Status.SUPERSEDED
                written = write_rows(tenant_id=job.tenant_id, section=job.section, rows=rows, version=job.version)
                cursor = orgs[-1][1]
                current.cursor = cursor
                current.processed += len(orgs)
                current.written += written
                current.batches += 1
                jobs.job_renew(current, lease_seconds=lease_seconds())
                current.save(update_fields=["cursor", "processed", "written", "batches", "lease_until"])
            invalidate(tenant_id=job.tenant_id, organization_ids=[o[0] for o in orgs], section=job.section)
            if delay:
                time.sleep(delay)
    except Exception as exc:
        _finish(job.pk, PropagationJob.Status.FAILED, owner, f"{type(exc).__name__}: {exc}")
        raise
    _finish(job.pk, PropagationJob.Status.DONE, owner)
    return PropagationJob.Status.DONE


def stalled_jobs(*, now: Any = None) -> tuple[list[int], float | None]:
    """Jobs to (re-)enqueue, and the seconds until the next live lease expires (``orgs.jobs.leases.stalled``)."""
    return jobs.stalled(PropagationJob, now=now)
