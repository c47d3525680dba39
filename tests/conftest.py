"""Shared fixtures: tenants, the demo data, a second tenant's world, admin clients, a Celery worker, Chromium, SMTP.

Helpers they use (and tests import) live in ``tests/support/``; nothing imports this module.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from idp.federation.backchannel import backchannel_logout_uri
from idp.federation.logout import logout_return_url
from idp.federation.models import UpstreamIdP
from idp.federation.services import domain_set_verified, upstream_idp_create
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant, User
from tests.support.federation import make_idp
from tests.support.federation_saml import SP_PATH
from tests.support.partners import (
    DNSServer,
    PartnerIdP,
    PartnerOP,
    start_dns_server,
    start_partner_idp,
    start_partner_op,
)
from tests.support.paths import ARTIFACTS
from tests.support.processes import spawn_celery_worker, stop_celery_worker, tasks_sent_to
from tests.support.push import SECRET, PushService
from tests.support.saml import register_independent_sp
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


# --- Push approval (tests/flow/test_push.py, the passkey step-up) --------------------------------------


@pytest.fixture
def push_service() -> Iterator[PushService]:
    """A local push service; Canopy's webhooks go to it once ``push_tenant`` configures the deployment."""
    found = PushService()
    yield found
    found.server.shutdown()


@pytest.fixture
def push_tenant(live_server: Any, settings: Any, push_service: PushService) -> Tenant:
    """The demo tenant with push on at the root; the push service configured for the deployment."""
    settings.CANOPY_BASE_URL = live_server.url
    settings.CANOPY_PUSH_WEBHOOK_URL = push_service.url
    settings.CANOPY_PUSH_WEBHOOK_SECRET = SECRET
    cache.clear()
    call_command("quickstart", stdout=open("/dev/null", "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="mightybank")
    for section, values in (
        ("connections", {"push": {"enabled": True, "timeout_seconds": 30}}),
        ("login", {"authenticators": ["password", "push"]}),
    ):
        job_run(
            settings_override_set(actor=SYSTEM, tenant=tenant, organization=None, section=section, values=values).pk
        )
    cache.clear()
    return tenant


# --- Live servers -------------------------------------------------------------------------------------


@pytest.fixture
def live_canopy(live_server: Any, settings: Any) -> str:
    """A live Canopy on http://localhost:<port> (a secure context for WebAuthn) with the demo tenant; its URL."""
    settings.CANOPY_BASE_URL = live_server.url
    assert urlsplit(live_server.url).hostname == "localhost"
    cache.clear()
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    ARTIFACTS.mkdir(exist_ok=True)
    return str(live_server.url)


# --- SAML: Canopy's IdP with the independent SP (tests/support/saml.py) --------------------------------


@pytest.fixture
def idp(demo: Tenant, settings: Any, tmp_path: Path) -> dict[str, Any]:
    """The demo tenant with the independent SP registered from its own metadata (signing key included)."""
    return register_independent_sp(demo, settings, tmp_path)


# --- Federation partners (tests/support/partners/): processes, and the upstreams that use them ----------


@pytest.fixture(scope="module")
def partner() -> Iterator[PartnerOP]:
    """The independent OIDC OP process, one per test module."""
    yield from start_partner_op()


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    """A DNS server on 127.0.0.1 answering the TXT records the test puts in ``dns_server.records``."""
    yield from start_dns_server()


@pytest.fixture(scope="module")
def partner_idp() -> Iterator[PartnerIdP]:
    """The partner SAML IdP process, one per test module, for Canopy's SP of the upstream ``partner-saml``."""
    base = django_settings.CANOPY_BASE_URL
    yield from start_partner_idp(f"{base}{SP_PATH}/metadata", f"{base}{SP_PATH}/acs")


@pytest.fixture
def saml_idp(world_a: World, partner_idp: PartnerIdP) -> Iterator[UpstreamIdP]:
    """The partner SAML IdP as the upstream ``partner-saml`` of world A, claiming partner.example (verified)."""
    partner_idp.control(mode="ok")
    metadata = requests.get(f"{partner_idp.url}/metadata", timeout=10).text
    idp = upstream_idp_create(
        actor=SYSTEM,
        tenant=world_a.tenant,
        slug="partner-saml",
        name="Partner SAML",
        kind=UpstreamIdP.Kind.SAML,
        saml_metadata=metadata,
        jit_organizations=[world_a.partner],
        jit_claim="department",
        jit_claim_map={"labs": world_a.root.identifier},
        domains=["partner.example"],
    )
    domain_set_verified(actor=SYSTEM, domain=idp.domains.get(), verified=True)
    yield idp
    partner_idp.control(mode="ok")


@pytest.fixture
def strict_partner(saml_idp: UpstreamIdP, partner_idp: PartnerIdP) -> Iterator[PartnerIdP]:
    """The partner with Canopy's SP metadata: signed requests required, assertions encrypted."""
    metadata = Client().get(f"{SP_PATH}/metadata").content.decode()
    partner_idp.control(sp_metadata=metadata, want_authn_requests_signed=True, encrypt=True)
    yield partner_idp
    partner_idp.control(sp_metadata="", want_authn_requests_signed=False, encrypt=False, mode="ok")


@pytest.fixture
def backchannel_upstream(world_a: World, partner: PartnerOP, live_server: Any, settings: Any) -> UpstreamIdP:
    """The partner OP as world A's upstream, with its logout and back-channel logout URIs at the live server."""
    settings.CANOPY_BASE_URL = live_server.url  # the published URI is the one the partner reaches
    partner.control(mode="ok")
    idp = make_idp(world_a, partner)
    partner.control(
        post_logout_redirect_uris=[logout_return_url(idp)], backchannel_logout_uri=backchannel_logout_uri(idp)
    )
    return idp
