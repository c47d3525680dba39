"""A Celery round trip through the real Redis broker and a worker subprocess."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from idp.celery import app as celery_app
from tenants.actors import SYSTEM
from tenants.models import SigningKey
from tenants.services import tenant_create
from tenants.tasks import rotate_tenant_keys
from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.celery_worker


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None, django_db_blocker) -> Iterator[str]:
    """A ``celery worker`` process on a queue of its own, using the test database."""
    assert settings.REDIS_URL, "the Celery tests need REDIS_URL (make test sets it)"
    queue = f"canopy-test-{uuid.uuid4().hex[:8]}"
    name = f"{queue}@localhost"
    env = subprocess_env()
    env.update({"CANOPY_CELERY_EAGER": "0", "CANOPY_CELERY_QUEUE": queue})
    log = ROOT / "test-artifacts"
    log.mkdir(exist_ok=True)
    logfile = open(log / "celery-worker.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "idp",
            "worker",
            "--pool=solo",
            "-Q",
            queue,
            "-n",
            name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"the worker exited with {proc.returncode}; see test-artifacts/celery-worker.log")
            if celery_app.control.ping(destination=[name], timeout=1.0):
                break
        else:
            raise RuntimeError("the worker did not answer a ping within 60 s")
        yield queue
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        logfile.close()


@pytest.fixture
def real_broker(celery_worker_process: str) -> Iterator[str]:
    """Send tasks to the broker instead of running them in-process."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_default_queue
    conf.task_always_eager, conf.task_default_queue = False, celery_worker_process
    try:
        yield celery_worker_process
    finally:
        conf.task_always_eager, conf.task_default_queue = saved


@pytest.mark.django_db(transaction=True)
def test_key_rotation_round_trips_through_redis_and_a_worker_process(real_broker: str) -> None:
    tenant = tenant_create(actor=SYSTEM, slug="celery-rt")
    old = set(SigningKey.objects.filter(tenant=tenant).values_list("kid", flat=True))

    result = rotate_tenant_keys.apply_async(args=(tenant.pk,), queue=real_broker)
    new_kids = result.get(timeout=60)

    # The worker, another process, wrote to the same database.
    assert len(new_kids) == 2 and not set(new_kids) & old
    assert set(SigningKey.objects.filter(tenant=tenant, status="active").values_list("kid", flat=True)) == set(new_kids)
    assert set(SigningKey.objects.filter(tenant=tenant, status="retired").values_list("kid", flat=True)) == old
    assert result.successful()


@pytest.mark.django_db(transaction=True)
def test_a_job_for_a_vanished_tenant_is_a_harmless_no_op(real_broker: str) -> None:
    result = rotate_tenant_keys.apply_async(args=(987654321,), queue=real_broker)
    assert result.get(timeout=60) == []
