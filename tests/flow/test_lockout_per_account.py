"""The sign-in lockout counts per account (username and email share it) with the thresholds of the
user's home organization; identifiers with no account keep their own counter with the root's.
The password step, the emailed codes, the passkey step and the admin sign-in share the counter."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from idp.flow import otp
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.lockout import counted_for, identifier_locked
from tenants.models import Tenant
from tests.support.login import MSG_LOCKED, fail, sign_in
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db
LOCKOUT_MAX = pytest.mark.setting("login.lockout_max_attempts")
LOCKOUT_MINUTES = pytest.mark.setting("login.lockout_minutes")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def login_set(tenant: Tenant, organization: Organization | None, **values: Any) -> None:
    job = settings_override_set(actor=SYSTEM, tenant=tenant, organization=organization, section="login", values=values)
    job_run(job.pk)
    cache.clear()


def statuses(responses: list[Any]) -> list[int]:
    return [r.status_code for r in responses]


def locked_until(tenant: Tenant, identifier: str) -> int:
    return int(cache.get(counted_for(tenant=tenant, identifier=identifier).lock_key) or 0)


def test_username_and_email_of_one_user_share_one_counter(demo: Tenant) -> None:
    client = Client()
    answers = [
        *fail(client, "alice", 2),
        *fail(client, "ALICE@acme.example", 1),
        *fail(client, "Alice@Acme.Example", 1),
        *fail(client, " Alice", 1),
    ]
    assert statuses(answers) == [200, 200, 200, 200, 429]
    for identifier in ("alice", "alice@acme.example", "ALICE"):
        refused = sign_in(Client(), identifier, "alice-demo-pass")
        assert refused.status_code == 429 and MSG_LOCKED in refused.content.decode()
    assert counted_for(tenant=demo, identifier="alice@acme.example") == counted_for(tenant=demo, identifier="ALICE")
    assert sign_in(Client(), "bob@mexbanco.example", "bob-demo-pass").status_code == 303  # others are not locked


def test_a_right_password_by_email_resets_the_username_s_failures(demo: Tenant) -> None:
    fail(Client(), "alice", 4)
    assert sign_in(Client(), "alice@acme.example", "alice-demo-pass").status_code == 303
    assert statuses(fail(Client(), "alice", 4)) == [200] * 4


@LOCKOUT_MAX
def test_an_organization_s_max_attempts_locks_its_member_and_root_users_need_the_root_s(demo: Tenant) -> None:
    login_set(demo, org(demo, "mexbanco"), lockout_max_attempts=3)  # bob's home organization
    assert statuses(fail(Client(), "bob", 3)) == [200, 200, 429]
    assert statuses(fail(Client(), "sam", 5)) == [200] * 4 + [429]  # no home: the root (deployment's 5)
    # alice's home is MexBanco's parent: the child's override does not reach her; nor an unknown name.
    assert statuses(fail(Client(), "alice", 5)) == [200] * 4 + [429]
    assert statuses(fail(Client(), "nobody", 5)) == [200] * 4 + [429]
    # The root sets 4: its users, the organizations inheriting it and unknown names follow; MexBanco keeps 3.
    cache.clear()
    login_set(demo, None, lockout_max_attempts=4)
    assert statuses(fail(Client(), "sam", 4)) == [200] * 3 + [429]
    assert statuses(fail(Client(), "alice", 4)) == [200] * 3 + [429]
    assert statuses(fail(Client(), "nobody", 4)) == [200] * 3 + [429]
    assert statuses(fail(Client(), "bob", 3)) == [200, 200, 429]


@LOCKOUT_MINUTES
def test_lockout_minutes_of_the_home_organization_take_effect(demo: Tenant) -> None:
    login_set(demo, org(demo, "mexbanco"), lockout_minutes=2)
    now = int(time.time())
    fail(Client(), "bob", 5)
    fail(Client(), "sam", 5)
    assert now + 120 <= locked_until(demo, "bob") <= int(time.time()) + 120
    assert now + 900 <= locked_until(demo, "sam") <= int(time.time()) + 900  # the deployment's fifteen
    # Two minutes later (the stored end moved back instead of waiting): bob is let in, sam is not.
    for name in ("bob", "sam"):
        counted = counted_for(tenant=demo, identifier=name)
        cache.set(counted.lock_key, cache.get(counted.lock_key) - 121, 900)
    assert sign_in(Client(), "bob", "bob-demo-pass").status_code == 303
    assert sign_in(Client(), "sam", "sam-demo-pass").status_code == 429


def test_wrong_codes_count_on_the_account_counter(demo: Tenant) -> None:
    alice = user(demo, "alice")
    nonce = "n" * 32
    state: dict[str, Any] = {
        "identifier": "alice@acme.example",
        "otp": {
            "factor": otp.EMAIL_OTP,
            "nonce": nonce,
            "hash": otp.code_hash(nonce, "123456"),
            "expires": int(time.time()) + 300,
            "attempts": 0,
        },
    }
    fail(Client(), "alice", 3)  # three wrong passwords by username

    def check(code: str) -> otp.Check:
        return otp.challenge_check(state=state, tenant=demo, organization=None, user=alice, code=code, ip="")

    assert check("000000") is otp.Check.WRONG
    assert check("000001") is otp.Check.LOCKED  # the fifth failure
    assert identifier_locked(tenant=demo, identifier="ALICE")
    assert sign_in(Client(), "alice", "alice-demo-pass").status_code == 429


def admin_login(identifier: str, password: str, *, tenant: str = "mightybank") -> Any:
    return Client().post(reverse("admin:login"), {"tenant": tenant, "username": identifier, "password": password})


def test_the_admin_sign_in_shares_the_account_counter(demo: Tenant) -> None:
    fail(Client(), "sam@mightybank.example", 4)  # four in the journey, by email
    locked = admin_login("SAM", "wrong-password")  # the fifth, at the admin
    assert locked.status_code == 200 and MSG_LOCKED in locked.content.decode()
    refused = admin_login("sam", "sam-demo-pass")
    assert refused.status_code == 200 and MSG_LOCKED in refused.content.decode()
    assert sign_in(Client(), "sam", "sam-demo-pass").status_code == 429
    # The other way round, and a right password at the admin resets the count.
    assert admin_login("barbara", "wrong-password").status_code == 200
    assert admin_login("barbara@mightybank.example", "barbara-demo-pass").status_code == 302
    assert statuses(fail(Client(), "barbara", 4)) == [200] * 4
    assert MSG_LOCKED in admin_login("barbara", "wrong-password").content.decode()
    assert sign_in(Client(), "barbara", "barbara-demo-pass").status_code == 429


def test_the_admin_sign_in_of_platform_staff_locks_too(platform_staff) -> None:
    for _ in range(4):
        assert MSG_LOCKED not in admin_login(platform_staff.username, "wrong", tenant="").content.decode()
    assert MSG_LOCKED in admin_login(platform_staff.username, "wrong", tenant="").content.decode()
    assert identifier_locked(tenant=None, identifier=platform_staff.username.upper())


def test_a_locked_account_is_refused_at_the_passkey_step_and_wrong_answers_count(demo: Tenant, settings) -> None:
    from tests.support.webauthn import BASE, SoftAuthenticator, enroll, url

    settings.CANOPY_BASE_URL = BASE
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=org(demo, "mexbanco"),
        section="login",
        values={"authenticators": ["passkey"]},
    )
    job_run(job.pk)
    cache.clear()
    key = enroll(demo, user(demo, "bob"))
    stranger = SoftAuthenticator(rp_id="localhost", origin=BASE)  # a passkey not registered here
    client = Client()

    def answer(authenticator: SoftAuthenticator) -> Any:
        assert client.post(
            "/t/mightybank/login/", {"identifier": "bob", "next": "/t/mightybank/?organization=mexbanco"}
        )
        options = client.post(
            url(demo, "authenticate_options"), json.dumps({"mode": "flow"}), "application/json"
        ).json()
        body = {"mode": "flow", "credential": authenticator.get(options)}
        return client.post(url(demo, "authenticate"), json.dumps(body), "application/json")

    fail(Client(), "bob@mexbanco.example", 3)  # at the root, where passwords are allowed
    assert answer(stranger).status_code == 400
    too_many = answer(stranger)  # the fifth failure of the account
    assert too_many.status_code == 429 and MSG_LOCKED in too_many.json()["error"]
    refused = answer(key)  # even the right passkey
    assert refused.status_code == 429 and MSG_LOCKED in refused.json()["error"]
    assert "canopy.auth" not in client.session
