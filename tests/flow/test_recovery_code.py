"""Password recovery by the emailed code (the effective ``flows.password_recovery`` flow lists ``email_otp``):
right, wrong, reused and expired codes, the attempt limit, no enumeration, and the same reset guarantees."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow.recovery import SESSION_RECOVER_CODE
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.lookups import user
from tests.support.mail import Inbox, body_of, recovery_code_in

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Fresh-Recovery-Pass-42"
RECOVER = "/t/mightybank/recover/"
CODE = "/t/mightybank/recover/code/"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def ask(client: Client, identifier: str = "bob") -> None:
    r = client.post(RECOVER, {"identifier": identifier})
    assert r.status_code == 303 and r["Location"] == f"{RECOVER}?sent=1"


def other_code(code: str) -> str:
    return "0" * len(code) if code != "0" * len(code) else "1" * len(code)


def test_the_right_code_leads_to_the_reset_and_revokes_sessions(demo: Tenant, smtp: Inbox) -> None:
    elsewhere = Client()
    elsewhere.force_login(user(demo, "bob"))
    client = Client()
    ask(client)
    page = client.get(f"{RECOVER}?sent=1").content.decode()
    assert 'action="/t/mightybank/recover/code/"' in page and 'name="code"' in page
    message = smtp.messages[0]
    code = recovery_code_in(message)
    assert "/recover/reset/?" in body_of(message)  # the link is still there
    assert code not in str(client.session[SESSION_RECOVER_CODE])  # only its keyed hash
    ok = client.post(CODE, {"code": code})
    assert ok.status_code == 303 and ok["Location"] == "/t/mightybank/recover/reset/"
    done = client.post(ok["Location"], {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done["Location"] == "/t/mightybank/recover/reset/?done=1"
    bob = user(demo, "bob")
    assert bob.check_password(NEW_PASSWORD)
    assert elsewhere.get("/t/mightybank/")["Location"].startswith("/t/mightybank/login/")  # signed out
    actions = set(AuditEvent.objects.filter(tenant=demo).values_list("action", flat=True))
    assert {"password.recovery.code_verified", "password.reset"} <= actions
    # Reused: the challenge is gone.
    again = client.post(CODE, {"code": code})
    assert again.status_code == 400 and "expired or was already used" in again.content.decode()


def test_wrong_codes_then_the_attempt_limit(demo: Tenant, smtp: Inbox) -> None:
    client = Client()
    ask(client)
    code = recovery_code_in(smtp.messages[0])
    for _ in range(4):
        wrong = client.post(CODE, {"code": other_code(code)})
        assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    spent = client.post(CODE, {"code": other_code(code)})  # the fifth (lockout_max_attempts) ends it
    assert spent.status_code == 429 and "Too many wrong codes" in spent.content.decode()
    assert client.post(CODE, {"code": code}).status_code == 400  # even the right one now
    assert not user(demo, "bob").check_password(NEW_PASSWORD)


def test_a_code_is_only_good_in_its_tenant(demo: Tenant, smtp: Inbox) -> None:
    from tests.support.worlds import build_world

    other = build_world("tenant-b")
    client = Client()
    ask(client)
    code = recovery_code_in(smtp.messages[0])
    elsewhere = client.post(f"/t/{other.tenant.slug}/recover/code/", {"code": code})
    assert elsewhere.status_code == 400 and "recover/reset" not in elsewhere.get("Location", "")
    assert client.post(CODE, {"code": code})["Location"] == "/t/mightybank/recover/reset/"


def test_an_expired_code_is_refused(demo: Tenant, smtp: Inbox) -> None:
    client = Client()
    ask(client)
    session = client.session
    challenge = session[SESSION_RECOVER_CODE]
    challenge["expires"] = 0
    session[SESSION_RECOVER_CODE] = challenge
    session.save()
    expired = client.post(CODE, {"code": recovery_code_in(smtp.messages[0])})
    assert expired.status_code == 400 and "has expired" in expired.content.decode()


def test_unknown_accounts_see_the_same_code_form_and_no_code_matches(demo: Tenant, smtp: Inbox) -> None:
    client = Client()
    ask(client, "nobody-here")
    assert smtp.messages == []
    assert 'name="code"' in client.get(f"{RECOVER}?sent=1").content.decode()
    assert client.post(CODE, {"code": "123456"}).status_code == 400


def test_a_flow_without_the_code_step_sends_the_link_only(demo: Tenant, smtp: Inbox) -> None:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=None,
        section="flows",
        values={"password_recovery": {"enabled": True, "steps": ["identifier"], "options": {}}},
    )
    job_run(job.pk)
    cache.clear()
    client = Client()
    ask(client)
    assert "Or type this code" not in body_of(smtp.messages[0])
    assert 'name="code"' not in client.get(f"{RECOVER}?sent=1").content.decode()
    assert client.post(CODE, {"code": "123456"}).status_code == 400


def test_the_code_form_needs_csrf(demo: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(CODE, {"code": "123456"}).status_code == 403


def test_the_new_password_follows_the_root_policy(demo: Tenant, smtp: Inbox) -> None:
    job = settings_override_set(
        actor=SYSTEM, tenant=demo, organization=None, section="login", values={"password_min_length": 24}
    )
    job_run(job.pk)
    cache.clear()
    client = Client()
    ask(client)
    reset = client.post(CODE, {"code": recovery_code_in(smtp.messages[0])})["Location"]
    short = client.post(reset, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert short.status_code == 400 and "Use at least 24 characters." in short.content.decode()
    longer = NEW_PASSWORD + "-and-longer"
    assert client.post(reset, {"password": longer, "confirm": longer})["Location"].endswith("?done=1")
