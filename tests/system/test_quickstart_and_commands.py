"""quickstart and the scripting commands."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orgs.tree.models import ActsForLink, Membership, Organization, OrganizationDomain
from tenants.models import AuditEvent, SigningKey, Tenant, User
from tests.support.processes import subprocess_env

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def snapshot() -> dict[str, Any]:
    return {
        "tenants": sorted(Tenant.objects.values_list("slug", "display_name")),
        "orgs": sorted(
            (o.identifier, o.display_name, o.parent.identifier if o.parent else None, str(o.pk))
            for o in Organization.objects.select_related("parent")
        ),
        "users": sorted(User.objects.values_list("username", "email", "is_tenant_admin", "password")),
        "memberships": sorted(
            Membership.objects.values_list("user__username", "organization__identifier", "role", "origin")
        ),
        "acts_for": sorted(ActsForLink.objects.values_list("organization__identifier", "on_behalf_of__identifier")),
        "domains": sorted(OrganizationDomain.objects.values_list("domain", "organization__identifier", "verified")),
        "keys": sorted(SigningKey.objects.values_list("kid", "status")),
        "audit": AuditEvent.objects.count(),
    }


def test_quickstart_yields_exactly_the_demo_data_and_is_idempotent() -> None:
    out = io.StringIO()
    call_command("quickstart", stdout=out)
    assert "alice-demo-pass" in out.getvalue() and "/admin/" in out.getvalue()
    first = snapshot()
    assert first["tenants"] == [("mightybank", "MightyBank")]
    assert {(i, n, p) for i, n, p, _ in first["orgs"]} == {
        ("mightybank-americas", "MightyBank Americas", None),
        ("acme-bank", "Acme Bank", "mightybank-americas"),
        ("mexbanco", "MexBanco", "mightybank-americas"),
        ("contractor", "Services Contractor", None),
        ("my-corporation", "My Corporation", None),
    }
    assert first["memberships"] == sorted(
        [
            ("alice", "mightybank-americas", "member", "created-here"),
            ("alice", "acme-bank", "member", "direct"),
            ("bob", "mexbanco", "member", "created-here"),
            ("carol", "contractor", "member", "created-here"),
            ("alma", "mightybank-americas", "owner", "created-here"),
            ("barbara", "mightybank-americas", "admin", "created-here"),
        ]
    )
    assert first["acts_for"] == [("contractor", "my-corporation")]
    users = {u.username: u for u in User.objects.all()}
    assert set(users) == {"sam", "alma", "barbara", "alice", "bob", "carol"}
    assert users["sam"].is_tenant_admin and users["sam"].is_staff
    assert not any(u.is_tenant_admin for name, u in users.items() if name != "sam")
    assert users["alice"].email == "alice@acme.example" and users["alice"].check_password("alice-demo-pass")
    assert users["carol"].email == "carol@contractor.example"

    out = io.StringIO()
    call_command("quickstart", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert snapshot() == first


def test_quickstart_password_option() -> None:
    call_command("quickstart", "--password", "another-pass-123", stdout=io.StringIO())
    assert User.objects.get(username="bob").check_password("another-pass-123")


def test_create_commands_script_a_setup() -> None:
    out = io.StringIO()
    call_command("create_tenant", "acme", "--name", "Acme Inc", stdout=out)
    call_command("create_org", "emea", "--tenant", "acme", "--name", "Acme EMEA", stdout=out)
    call_command("create_org", "emea-fr", "--tenant", "acme", "--parent", "emea", stdout=out)
    call_command(
        "create_user",
        "zoe",
        "--tenant",
        "acme",
        "--email",
        "zoe@acme.example",
        "--password",
        "zoe-pass-12345",
        "--org",
        "emea",
        "--role",
        "owner",
        "--member-of",
        "emea-fr:admin",
        stdout=out,
    )
    call_command("create_user", "root", "--tenant", "acme", "--no-password", "--tenant-admin", stdout=out)
    zoe = User.objects.get(username="zoe")
    assert sorted(Membership.objects.filter(user=zoe).values_list("organization__identifier", "role")) == [
        ("emea", "owner"),
        ("emea-fr", "admin"),
    ]
    assert User.objects.get(username="root").is_tenant_admin


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create_org", "x", "--tenant", "nope"], "tenant: no tenant with slug 'nope'"),
        (["create_org", "Bad Name", "--tenant", "acme"], "identifier:"),
        (["create_org", "child", "--tenant", "acme", "--parent", "ghost"], "parent: no organization 'ghost'"),
        (["create_tenant", "acme"], "slug: A tenant with slug 'acme' already exists."),
        (
            ["create_user", "u", "--tenant", "acme", "--password", "u-pass-12345", "--org", "ghost"],
            "org: no organization 'ghost'",
        ),
        (["create_user", "u", "--tenant", "acme", "--password", "short"], "password:"),
    ],
)
def test_commands_fail_clearly_and_write_nothing(args: list[str], message: str) -> None:
    call_command("create_tenant", "acme", stdout=io.StringIO())
    before = (Organization.objects.count(), User.objects.count(), Tenant.objects.count())
    with pytest.raises(CommandError, match=message):
        call_command(*args, stdout=io.StringIO())
    assert (Organization.objects.count(), User.objects.count(), Tenant.objects.count()) == before


def test_rotate_keys_command() -> None:
    call_command("create_tenant", "acme", stdout=io.StringIO())
    out, err = io.StringIO(), io.StringIO()
    call_command("rotate_keys", "--tenant", "acme", stdout=out, stderr=err)
    assert "Rotated 2 key(s) in 1 tenant(s)" in out.getvalue()
    assert SigningKey.objects.filter(status="retired").count() == 2


@pytest.mark.parametrize("command", ["create_tenant", "create_org", "create_user", "rotate_keys", "quickstart"])
def test_commands_have_help(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", command, "--help"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_a_failing_command_exits_non_zero_with_the_message_on_stderr() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "create_org", "x", "--tenant", "no-such-tenant"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=subprocess_env(),
    )
    assert result.returncode == 1
    assert "tenant: no tenant with slug 'no-such-tenant'" in result.stderr
