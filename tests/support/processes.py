"""Child processes that use the test database: ``manage.py`` commands and a real Celery worker."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from tests.support.paths import ARTIFACTS, ROOT


def subprocess_env() -> dict[str, str]:
    """Environment for a child process (manage.py, a Celery worker) that uses the test database."""
    import os

    from django.db import connection

    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    cfg = connection.settings_dict
    if cfg["ENGINE"].endswith("postgresql"):
        user = cfg.get("USER") or "postgres"
        password = f":{cfg['PASSWORD']}" if cfg.get("PASSWORD") else ""
        env["DATABASE_URL"] = (
            f"postgres://{user}{password}@{cfg.get('HOST') or '127.0.0.1'}:{cfg.get('PORT') or 5432}/{cfg['NAME']}"
        )
    else:
        env["DATABASE_URL"] = ""
        env["SQLITE_PATH"] = str(cfg["NAME"])
    return env


def spawn_celery_worker(queue: str, *, log_name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``celery worker`` (solo pool) on ``queue`` against the test database; wait for its ping."""
    from django.conf import settings

    from idp.celery import app as celery_app

    assert settings.REDIS_URL, "the Celery tests need REDIS_URL (make test sets it)"
    name = f"{queue}-{uuid.uuid4().hex[:4]}@localhost"
    env = subprocess_env()
    env.update({"CANOPY_CELERY_EAGER": "0", "CANOPY_CELERY_QUEUE": queue, **(extra_env or {})})
    ARTIFACTS.mkdir(exist_ok=True)
    logfile = open(ARTIFACTS / log_name, "w")  # noqa: SIM115 - closed with the process
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
    proc.canopy_logfile = logfile  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}; see test-artifacts/{log_name}")
        if celery_app.control.ping(destination=[name], timeout=1.0):
            return proc
    proc.kill()
    raise RuntimeError("the worker did not answer a ping within 60 s")


def stop_celery_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    proc.canopy_logfile.close()  # type: ignore[attr-defined]


@contextmanager
def tasks_sent_to(queue: str) -> Iterator[str]:
    """Send tasks to the broker (on ``queue``) instead of running them in-process."""
    from idp.celery import app as celery_app

    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_default_queue
    conf.task_always_eager, conf.task_default_queue = False, queue
    try:
        yield queue
    finally:
        conf.task_always_eager, conf.task_default_queue = saved
