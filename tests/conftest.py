"""Shared fixtures: tenants, the demo data, a second tenant's world, admin clients, a Celery worker, Chromium, SMTP.

Helpers they use (and tests import) live in ``tests/support/``; nothing imports this module.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from tenants.models import Tenant, User
from tests.support.processes import spawn_celery_worker, stop_celery_worker, tasks_sent_to
from tests.support.worlds import World, build_world


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


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None, django_db_blocker) -> Iterator[str]:
    """A ``celery worker`` process on a queue of its own, using the test database."""
    queue = f"canopy-test-{uuid.uuid4().hex[:8]}"
    proc = spawn_celery_worker(queue, log_name="celery-worker.log")
    try:
        yield queue
    finally:
        stop_celery_worker(proc)


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
