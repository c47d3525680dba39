"""Shared fixtures: tenants, the demo data, a second tenant's world, admin clients."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from orgs.tree.models import ActsForLink, Membership, Organization, OrganizationDomain
from orgs.tree.services import acts_for_add, domain_add, membership_add, organization_create, organization_user_create
from tenants.actors import SYSTEM
from tenants.models import Tenant, User
from tenants.services import signing_keys_rotate, tenant_create, user_create
from tests.support.worlds import world_extensions

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def _fresh_cache_per_run() -> None:
    """The test database starts anew each run (ids restart); cached rows of an earlier run must not answer."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _fresh_process_caches() -> None:
    """Each test builds its tenants anew (new ids, same slugs): forget the previous test's."""
    from idp.oidc import jws
    from tenants.selectors import tenant_cache_clear

    tenant_cache_clear()
    jws.forget_active_keys()


@pytest.fixture
def demo(db: None) -> Tenant:
    """The quickstart's mightybank tenant."""
    call_command("quickstart", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Tenant.objects.get(slug="mightybank")


def org(tenant: Tenant, identifier: str) -> Organization:
    return Organization.objects.get(tenant=tenant, identifier=identifier)


def user(tenant: Tenant, username: str) -> User:
    return User.objects.get(tenant=tenant, username=username)


@dataclass
class World:
    """Every kind of tenant-owned row, in one tenant."""

    tenant: Tenant
    admin: User
    root: Organization
    child: Organization
    partner: Organization
    member: User
    membership: Membership
    domain: OrganizationDomain
    link: ActsForLink


def build_world(slug: str, *, username_prefix: str = "") -> World:
    tenant = tenant_create(actor=SYSTEM, slug=slug, display_name=slug.title())
    admin = user_create(
        actor=SYSTEM,
        tenant=tenant,
        username="sam",
        email=f"sam@{slug}.example",
        password="sam-demo-pass",
        is_tenant_admin_flag=True,
        validate_password_strength=False,
    )
    root = organization_create(actor=SYSTEM, tenant=tenant, identifier=f"{slug}-root", display_name=f"{slug} Root")
    child = organization_create(
        actor=SYSTEM, tenant=tenant, identifier=f"{slug}-child", display_name=f"{slug} Child", parent=root
    )
    partner = organization_create(actor=SYSTEM, tenant=tenant, identifier=f"{slug}-partner", display_name="Partner")
    member = organization_user_create(
        actor=SYSTEM,
        organization=root,
        username=f"{username_prefix}alice",
        email=f"alice@{slug}.example",
        password="alice-demo-pass",
        validate_password_strength=False,
    )
    membership = membership_add(actor=SYSTEM, organization=child, user=member)
    domain = domain_add(actor=SYSTEM, organization=child, domain=f"{slug}-corp.example", verified=True)
    link = acts_for_add(actor=SYSTEM, organization=partner, on_behalf_of=root)
    signing_keys_rotate(actor=SYSTEM, tenant=tenant)  # retired keys too
    for extend in world_extensions():
        extend(tenant=tenant, member=member, organization=root)
    return World(tenant, admin, root, child, partner, member, membership, domain, link)


@pytest.fixture
def world_a(db: None) -> World:
    return build_world("tenant-a")


@pytest.fixture
def world_b(db: None) -> World:
    return build_world("tenant-b")


@pytest.fixture
def platform_staff(db: None) -> User:
    return User.objects.create_superuser(username="root", email="root@canopy.example", password="root-demo-pass")


@pytest.fixture
def admin_client_for():
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


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


# --- A real Celery worker (moved here from test_celery_worker.py for every worker test) ----------


def spawn_celery_worker(queue: str, *, log_name: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``celery worker`` (solo pool) on ``queue`` against the test database; wait for its ping."""
    from django.conf import settings

    from idp.celery import app as celery_app

    assert settings.REDIS_URL, "the Celery tests need REDIS_URL (make test sets it)"
    name = f"{queue}-{uuid.uuid4().hex[:4]}@localhost"
    env = subprocess_env()
    env.update({"CANOPY_CELERY_EAGER": "0", "CANOPY_CELERY_QUEUE": queue, **(extra_env or {})})
    log = ROOT / "test-artifacts"
    log.mkdir(exist_ok=True)
    logfile = open(log / log_name, "w")  # noqa: SIM115 - closed with the process
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


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None, django_db_blocker) -> Iterator[str]:
    """A ``celery worker`` process on a queue of its own, using the test database."""
    queue = f"canopy-test-{uuid.uuid4().hex[:8]}"
    proc = spawn_celery_worker(queue, log_name="celery-worker.log")
    try:
        yield queue
    finally:
        stop_celery_worker(proc)


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


@pytest.fixture
def real_broker(celery_worker_process: str) -> Iterator[str]:
    """Send tasks to the broker instead of running them in-process."""
    with tasks_sent_to(celery_worker_process) as queue:
        yield queue


CHROMIUM = os.environ.get("CANOPY_CHROMIUM", "/usr/bin/chromium")
# Debian's Chromium, headless, with nothing that reaches outside this machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls in the tests are plain sync code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield chromium
            finally:
                chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def smtp(settings: Any) -> Iterator[Any]:
    """A real SMTP server on 127.0.0.1; Django sends to it; the test reads ``smtp.messages``."""
    import socket

    from aiosmtpd.controller import Controller

    from tests.support.mail import Inbox

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "canopy@mightybank.example"
    try:
        yield inbox
    finally:
        controller.stop()
