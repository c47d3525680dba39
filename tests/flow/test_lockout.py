"""Rate limits on the password step: per identifier (and tenant), per client IP; clearing a lockout."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from django.urls import reverse

from idp.flow.services import client_ip
from tenants.models import AuditEvent, Tenant
from tests.support.login import MSG_INVALID, MSG_LOCKED, fail, sign_in, without_csrf
from tests.support.lookups import user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_after_max_failures_the_right_password_is_refused(demo: Tenant) -> None:
    client = Client()
    responses = fail(client, "alice", 5)
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    assert MSG_INVALID in responses[3].content.decode()
    assert MSG_LOCKED in responses[4].content.decode()
    response = sign_in(client, "alice", "alice-demo-pass")
    assert response.status_code == 429 and MSG_LOCKED in response.content.decode()
    assert not signed_in(client)
    # Another browser, same identifier (any case): still locked. Another user is not.
    assert sign_in(Client(), "ALICE", "alice-demo-pass").status_code == 429
    assert sign_in(Client(), "bob", "bob-demo-pass").status_code == 303


def test_an_unknown_identifier_locks_out_the_same_way(demo: Tenant) -> None:
    known, unknown = Client(), Client()
    fail(known, "alice", 5)
    fail(unknown, "nobody", 5)
    a = sign_in(known, "alice", "alice-demo-pass")
    b = sign_in(unknown, "nobody", "alice-demo-pass")
    assert a.status_code == b.status_code == 429
    assert without_csrf(a.content.decode()).replace("alice", "X") == without_csrf(b.content.decode()).replace(
        "nobody", "X"
    )


def test_the_lockout_is_per_tenant(world_a, world_b) -> None:
    fail(Client(), "alice", 5, slug="tenant-a")
    assert sign_in(Client(), "alice", "alice-demo-pass", slug="tenant-a").status_code == 429
    assert sign_in(Client(), "alice", "alice-demo-pass", slug="tenant-b").status_code == 303


def test_a_successful_sign_in_resets_the_count(demo: Tenant) -> None:
    client = Client()
    fail(client, "alice", 4)
    assert sign_in(client, "alice", "alice-demo-pass").status_code == 303
    client = Client()
    assert [r.status_code for r in fail(client, "alice", 4)] == [200] * 4


def test_the_limits_come_from_settings(demo: Tenant, settings) -> None:
    settings.CANOPY_LOGIN_MAX_FAILURES = 2
    settings.CANOPY_LOGIN_LOCKOUT_SECONDS = 60
    client = Client()
    assert [r.status_code for r in fail(client, "alice", 2)] == [200, 429]
    assert sign_in(client, "alice", "alice-demo-pass").status_code == 429


def test_the_per_ip_limit(demo: Tenant) -> None:
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(19):
        assert sign_in(attacker, f"guess{i}", "password1").status_code == 200
    assert sign_in(attacker, "guess19", "password1").status_code == 429
    # From that address even the right password is refused; from another one it works.
    response = sign_in(attacker, "alice", "alice-demo-pass")
    assert response.status_code == 429 and MSG_LOCKED in response.content.decode()
    assert not signed_in(attacker)
    elsewhere = Client(REMOTE_ADDR="198.51.100.1")
    assert sign_in(elsewhere, "alice", "alice-demo-pass").status_code == 303
    # An operator can lift it.
    call_command("clear_lockout", "--tenant", "mightybank", "--ip", "203.0.113.7", stdout=io.StringIO())
    assert sign_in(attacker, "alice", "alice-demo-pass").status_code == 303


def test_client_ip_behind_trusted_proxies(settings) -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 192.0.2.9")
    assert client_ip(request) == "10.0.0.2"  # no trusted proxy: X-Forwarded-For is ignored
    settings.CANOPY_TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "192.0.2.9"  # the address our proxy saw, not what the client claimed


def test_clear_lockout_command_lets_the_user_in(demo: Tenant) -> None:
    client = Client()
    fail(client, "alice@acme.example", 5)  # locked by email ...
    fail(client, "alice", 5)  # ... and by username
    out = io.StringIO()
    call_command("clear_lockout", "alice", "--tenant", "mightybank", stdout=out)
    assert "Cleared the sign-in lockout for 'alice' in tenant mightybank (it was locked out)." in out.getvalue()
    assert sign_in(client, "alice@acme.example", "alice-demo-pass").status_code == 303
    event = AuditEvent.objects.get(action="login.lockout_clear")
    assert event.tenant == demo and event.actor_label == "system"


def test_clear_lockout_command_works_for_any_identifier_string(demo: Tenant) -> None:
    fail(Client(), "nobody", 5)
    out = io.StringIO()
    call_command("clear_lockout", "--tenant", "mightybank", "NOBODY", stdout=out)
    assert "(it was locked out)" in out.getvalue()
    assert sign_in(Client(), "nobody", "x").status_code == 200
    with pytest.raises(CommandError, match="no tenant"):
        call_command("clear_lockout", "--tenant", "no-such-tenant", "alice", stdout=io.StringIO())
    with pytest.raises(CommandError, match="Name a username"):
        call_command("clear_lockout", "--tenant", "mightybank", stdout=io.StringIO())


def test_clear_lockout_admin_action_as_sam(demo: Tenant, admin_client_for) -> None:
    fail(Client(), "alice", 5)
    sam = admin_client_for(user(demo, "sam"))
    alice = user(demo, "alice")
    changelist = reverse("admin:tenants_user_changelist")
    assert "Clear login lockout" in sam.get(changelist).content.decode()
    response = sam.post(changelist, {"action": "clear_login_lockout", "_selected_action": [alice.pk]}, follow=True)
    assert "Cleared the sign-in lockout of 1 user(s); 1 were locked out." in response.content.decode()
    assert sign_in(Client(), "alice", "alice-demo-pass").status_code == 303
    assert AuditEvent.objects.filter(action="login.lockout_clear", actor=user(demo, "sam")).exists()


def test_the_admin_action_cannot_reach_another_tenant(world_a, world_b, admin_client_for) -> None:
    fail(Client(), "alice", 5, slug="tenant-b")
    sam_a = admin_client_for(world_a.admin)
    sam_a.post(
        reverse("admin:tenants_user_changelist"),
        {"action": "clear_login_lockout", "_selected_action": [world_b.member.pk]},
    )
    assert sign_in(Client(), "alice", "alice-demo-pass", slug="tenant-b").status_code == 429


def test_the_tenant_root_login_settings_set_the_lockout_policy(demo: Tenant) -> None:
    from orgs.inheritance.propagation import job_run
    from orgs.inheritance.services import settings_override_set
    from tenants.actors import SYSTEM
    from tenants.lockout import counted_for

    job = settings_override_set(
        actor=SYSTEM, tenant=demo, section="login", values={"lockout_max_attempts": 2, "lockout_minutes": 1}
    )
    job_run(job.pk)  # organizations below the root inherit it once propagated
    cache.clear()
    for name in ("sam", "alice", "nobody"):  # no home organization; one inheriting the root; no account
        responses = fail(Client(), name, 2)
        assert responses[-1].status_code == 429, name  # locked after two failures instead of five
        lock_key = counted_for(tenant=demo, identifier=name).lock_key
        ttl = cache._cache.get_client().ttl(cache.make_and_validate_key(lock_key))  # type: ignore[attr-defined]
        assert 0 < ttl <= 60  # one minute, as set at the root, not the deployment's fifteen
