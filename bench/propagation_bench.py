"""Settings propagation and the login-path settings read; prints a markdown section to stdout.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_propbench \\
        .venv/bin/python bench/propagation_bench.py [--sizes 10000,100000] [--reads 2000]

What it does (bounded: fixed sizes, fixed read counts):
 1. drops and re-creates the bench database (it must be named *propbench*), migrates it;
 2. for each size and shape builds a tenant's tree with ``bulk_create`` (paths computed here):
    *wide* = one top-level organization, ~sqrt(n) children, each with ~sqrt(n) children;
    *deep* = one top-level organization with chains 39 levels below it (depth cap 40);
 3. changes one root branding field with ``settings_override_set`` and runs the propagation
    job **in-process** (``orgs.inheritance.propagation.job_run``, the body of the Celery task, in this one
    process; no broker hop), twice: the first run inserts every effective row, the second
    updates them (the steady state);
 4. reads ``effective_section`` (the login path) for random organizations at depths 1, 10 and
    39 (the model caps depth at 40, so 50 cannot exist): from Redis (warm) and with the key
    deleted before each read (one indexed row + a cache set).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/canopy_propbench"


def reset_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if "propbench" not in name:
        raise SystemExit(f"refusing to drop {name!r}: the bench database name must contain 'propbench'")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", DEFAULT_DB)
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("CANOPY_CACHE_URL", "redis://127.0.0.1:6379/5")
    os.environ.setdefault("CANOPY_CACHE_PREFIX", "canopy-propbench")
    os.environ["CANOPY_CELERY_EAGER"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")
    reset_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def build(tenant, n: int, shape: str):  # noqa: ANN001, ANN201
    from orgs.tree.models import Organization

    rows: list[Organization] = []

    def make(parent: Organization | None, ident: str) -> Organization:
        o = Organization(tenant=tenant, identifier=ident, display_name=ident, parent=parent)
        o.depth = parent.depth + 1 if parent else 0
        o.path = (parent.path if parent else "") + o.id.hex + "/"
        rows.append(o)
        return o

    top = make(None, f"{shape}-top")
    if shape == "wide":
        fan = math.ceil(math.sqrt(n))
        for i in range(fan):
            if len(rows) >= n:
                break
            mid = make(top, f"w{i}")
            for j in range(fan):
                if len(rows) >= n:
                    break
                make(mid, f"w{i}-{j}")
    else:
        chain = 0
        while len(rows) < n:
            parent = top
            for d in range(39):
                if len(rows) >= n:
                    break
                parent = make(parent, f"d{chain}-{d}")
            chain += 1
    Organization.objects.bulk_create(rows, batch_size=2000)
    return rows


class Worker:
    """One ``celery worker --pool=solo`` process on a queue of its own (Redis broker)."""

    def __init__(self, broker: str) -> None:
        import subprocess
        import uuid

        from idp.celery import app

        self.queue = f"propbench-{uuid.uuid4().hex[:8]}"
        self.name = f"{self.queue}@localhost"
        env = dict(os.environ, CANOPY_CELERY_EAGER="0", CANOPY_CELERY_QUEUE=self.queue, REDIS_URL=broker)
        env["CELERY_BROKER_URL"] = env["CELERY_RESULT_BACKEND"] = broker
        self.log = open("/tmp/propbench-worker.log", "w")  # noqa: SIM115, S108 - bench log
        self.proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "idp",
                "worker",
                "--pool=solo",
                "-Q",
                self.queue,
                "-n",
                self.name,
                "--without-gossip",
                "--without-mingle",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        app.conf.broker_url = broker
        app.conf.task_always_eager = False
        app.conf.task_default_queue = self.queue
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[self.name], timeout=1.0):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise SystemExit("the bench worker did not start; see /tmp/propbench-worker.log")

    def stop(self) -> None:
        from idp.celery import app

        app.conf.task_always_eager = True
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def propagate_via_worker(tenant, value: str) -> tuple[float, dict]:  # noqa: ANN001
    from orgs.inheritance.models import PropagationJob
    from orgs.inheritance.services import settings_override_set
    from tenants.actors import SYSTEM

    started = time.perf_counter()
    job = settings_override_set(actor=SYSTEM, tenant=tenant, section="branding", values={"display_name": value})
    deadline = time.monotonic() + 600
    while True:
        job = PropagationJob.objects.get(pk=job.pk)
        if job.status not in ("pending", "running"):
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"job {job.pk} did not finish in 600 s")
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    assert job.status == "done", job.status
    return elapsed, {"total": job.total, "processed": job.processed, "written": job.written, "batches": job.batches}


def propagate(tenant, value: str) -> tuple[float, dict]:  # noqa: ANN001
    from django.test.utils import CaptureQueriesContext  # noqa: F401 - keeps Django imported first

    from orgs.inheritance.models import PropagationJob
    from orgs.inheritance.propagation import job_run
    from orgs.inheritance.services import settings_override_set
    from tenants.actors import SYSTEM

    # The service enqueues on commit; with eager Celery that runs the job right here.
    started = time.perf_counter()
    job = settings_override_set(actor=SYSTEM, tenant=tenant, section="branding", values={"display_name": value})
    elapsed = time.perf_counter() - started
    job = PropagationJob.objects.get(pk=job.pk)
    if job.status != "done":  # not run at commit (should not happen): run it now, timed too
        started = time.perf_counter()
        job_run(job.pk)
        elapsed += time.perf_counter() - started
        job = PropagationJob.objects.get(pk=job.pk)
    return elapsed, {"total": job.total, "processed": job.processed, "written": job.written, "batches": job.batches}


def read_latencies(tenant, orgs, depth: int, count: int) -> tuple[list[float], list[float]]:  # noqa: ANN001
    from django.core.cache import cache

    from orgs.inheritance.compute import cache_key
    from orgs.inheritance.selectors import effective_section

    at = [o for o in orgs if o.depth == depth]
    rng = random.Random(depth)  # noqa: S311 - sampling, not secrets
    sample = [rng.choice(at) for _ in range(count)]
    for o in sample:  # fill the cache (and warm the connections)
        effective_section(tenant=tenant, organization=o.pk, section="branding")
    warm, cold = [], []
    for o in sample:
        t0 = time.perf_counter()
        effective_section(tenant=tenant, organization=o.pk, section="branding")
        warm.append((time.perf_counter() - t0) * 1000)
    for o in sample:
        cache.delete(cache_key(tenant_id=tenant.pk, organization_id=o.pk, section="branding"))
        t0 = time.perf_counter()
        effective_section(tenant=tenant, organization=o.pk, section="branding")
        cold.append((time.perf_counter() - t0) * 1000)
    return warm, cold


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--broker", default=os.environ.get("PROPBENCH_BROKER", "redis://127.0.0.1:6379/4"))
    args = parser.parse_args()
    setup_django()
    from orgs.inheritance.propagation import batch_size
    from tenants.actors import SYSTEM
    from tenants.services import tenant_create

    out = [
        "## Settings propagation and the effective-settings read",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, PostgreSQL + Redis on "
        f"127.0.0.1. The propagation job runs **in-process** (the Celery task's body, one process, batch size "
        f"{batch_size()}), then once more through one Celery worker (solo pool, Redis broker; time from the write "
        "to the job record saying done, polled every 50 ms). Times include the settings write and its commit. Command: "
        "`DATABASE_URL=postgres://postgres@127.0.0.1:5432/canopy_propbench .venv/bin/python "
        "bench/propagation_bench.py`.",
        "",
        "| descendants | shape | in-process, first run (inserts rows) s | in-process, steady (updates) s "
        "| orgs/s steady | one Celery worker, steady s | batches |",
        "|---|---|---|---|---|---|---|",
    ]
    worker = Worker(args.broker)
    deep_tree = None
    for n in [int(s) for s in args.sizes.split(",")]:
        for shape in ("wide", "deep"):
            tenant = tenant_create(actor=SYSTEM, slug=f"pb-{shape}-{n}")
            t0 = time.perf_counter()
            orgs = build(tenant, n, shape)
            built = time.perf_counter() - t0
            first, _ = propagate(tenant, "first")
            steady, counts = propagate(tenant, "second")
            assert counts["processed"] == counts["total"] == len(orgs), counts
            via_worker, wcounts = propagate_via_worker(tenant, "third")
            assert wcounts["processed"] == wcounts["total"] == len(orgs), wcounts
            out.append(
                f"| {len(orgs):,} | {shape} | {first:.1f} | {steady:.1f} | {len(orgs) / steady:,.0f} | "
                f"{via_worker:.1f} | {counts['batches']} |"
            )
            print(
                f"# {shape} {n}: built {built:.1f}s, first {first:.1f}s, steady {steady:.1f}s, "
                f"worker {via_worker:.1f}s",
                file=sys.stderr,
            )
            if shape == "deep":
                deep_tree = (tenant, orgs)
    worker.stop()
    out += [
        "",
        f"Read `orgs.inheritance.selectors.effective_section(..., section='branding')`, {args.reads} random "
        "organizations per depth, in the deep tree of the largest size (milliseconds):",
        "",
        "| depth | warm p50 | warm p99 | uncached p50 | uncached p99 |",
        "|---|---|---|---|---|",
    ]
    assert deep_tree is not None
    tenant, orgs = deep_tree
    for depth in (1, 10, 39):
        warm, cold = read_latencies(tenant, orgs, depth, args.reads)
        out.append(
            f"| {depth} | {statistics.median(warm):.3f} | {pct(warm, 99):.3f} | {statistics.median(cold):.3f} | "
            f"{pct(cold, 99):.3f} |"
        )
    out += [
        "",
        "Warm = the Redis hit every login page makes; uncached = the key deleted first, so one indexed row "
        "(organization, section) plus the cache set. Depth 50 cannot exist (the hierarchy is capped at 40 "
        "levels), so the deepest measured is 39.",
    ]
    print("\n".join(out))


if __name__ == "__main__":
    main()
