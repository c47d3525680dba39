"""The account page: who may see it, sessions, linked accounts, passkeys, and verified contact changes.

Mail goes through a real SMTP server (the ``smtp`` fixture); SMS through the console gateway's file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from idp.account.models import SessionRecord
from idp.federation.models import UpstreamIdentity
from idp.passkeys.models import PasskeyCredential
from orgs.inheritance.propagation import invalidate, job_run
from orgs.inheritance.services import settings_override_set
from orgs.profiles.services import profile_value_set, resolved_profile
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant, User
from tests.support.login import password_step
from tests.support.lookups import org, user
from tests.support.mail import Inbox, code_in
from tests.support.oidc import sign_in
from tests.support.worlds import World

pytestmark = pytest.mark.django_db
ACCOUNT = "/t/mightybank/account/"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def account_url(tenant: Tenant, name: str = "home", **kwargs: Any) -> str:
    return reverse(f"account:{name}", kwargs={"tenant_slug": tenant.slug, **kwargs})


def signed_in_client(tenant: Tenant, who: User) -> Client:
    client = Client()
    sign_in(client, tenant, who)
    return client


def messages_on(client: Client, tenant: Tenant) -> str:
    return client.get(account_url(tenant)).content.decode()


def test_visitors_are_sent_to_sign_in_and_back(demo: Tenant) -> None:
    page = Client().get(ACCOUNT)
    assert page.status_code == 302 and page["Location"] == "/t/mightybank/login/?next=%2Ft%2Fmightybank%2Faccount%2F"
    client = Client()
    back = password_step(client, ACCOUNT, username="alice")
    assert back.status_code == 303 and back["Location"] == ACCOUNT
    html = client.get(ACCOUNT).content.decode()
    assert "Your account" in html and "alice" in html and "csrfmiddlewaretoken" in html


def test_another_tenants_session_or_rows_are_not_reachable(world_a: World, world_b: World) -> None:
    b_client = signed_in_client(world_b.tenant, world_b.member)
    # Signed in at B only: A's page asks to sign in, as for a visitor.
    page = b_client.get(account_url(world_a.tenant))
    assert page.status_code == 302 and urlsplit(page["Location"]).path == f"/t/{world_a.tenant.slug}/login/"
    a_client = signed_in_client(world_a.tenant, world_a.member)
    theirs_passkey = PasskeyCredential.objects.get(tenant=world_b.tenant)
    theirs_identity = UpstreamIdentity.objects.get(tenant=world_b.tenant)
    theirs_session = SessionRecord.objects.filter(tenant=world_b.tenant).first()
    assert theirs_session is not None
    for name, pk in (
        ("passkey_revoke", theirs_passkey.pk),
        ("passkey_rename", theirs_passkey.pk),
        ("unlink", theirs_identity.pk),
        ("session_end", theirs_session.pk),
    ):
        response = a_client.post(account_url(world_a.tenant, name, pk=pk), {"name": "mine now"})
        assert response.status_code == 404, name
    # And at B's own URLs, A's session is not a sign-in either.
    refused = a_client.post(account_url(world_b.tenant, "passkey_revoke", pk=theirs_passkey.pk))
    assert refused.status_code == 303 and "/login/" in refused["Location"]
    assert PasskeyCredential.objects.filter(pk=theirs_passkey.pk, name=theirs_passkey.name).exists()
    assert UpstreamIdentity.objects.filter(pk=theirs_identity.pk).exists()
    assert SessionRecord.objects.filter(pk=theirs_session.pk).exists()
    # Not another user's rows of the same tenant either.
    sam = signed_in_client(world_a.tenant, world_a.admin)
    mine = PasskeyCredential.objects.get(tenant=world_a.tenant)
    assert sam.post(account_url(world_a.tenant, "passkey_revoke", pk=mine.pk)).status_code == 404


def test_other_sessions_are_listed_and_signed_out(demo: Tenant) -> None:
    alice = user(demo, "alice")
    laptop, phone, tablet = (signed_in_client(demo, alice) for _ in range(3))
    html = laptop.get(ACCOUNT).content.decode()
    assert html.count("<strong>This browser</strong>") == 1 and html.count("Another browser") == 2
    assert SessionRecord.objects.filter(tenant=demo, user=alice).count() == 3
    # One other session, by its button.
    phone_record = SessionRecord.objects.get(session_key=phone.session.session_key)
    ended = laptop.post(account_url(demo, "session_end", pk=phone_record.pk))
    assert ended.status_code == 303
    assert phone.get(ACCOUNT).status_code == 302  # signed out there
    # This browser's own record cannot be ended from the list (the sign-out button does that).
    mine = SessionRecord.objects.get(session_key=laptop.session.session_key)
    assert laptop.post(account_url(demo, "session_end", pk=mine.pk)).status_code == 404
    # All the others.
    done = laptop.post(account_url(demo, "sessions_end_others"))
    assert done.status_code == 303
    assert tablet.get(ACCOUNT).status_code == 302
    assert "Signed out of 1 other session." in laptop.get(ACCOUNT).content.decode()
    assert list(SessionRecord.objects.filter(user=alice).values_list("session_key", flat=True)) == [
        laptop.session.session_key
    ]
    actions = set(AuditEvent.objects.filter(tenant=demo, target_id=str(alice.pk)).values_list("action", flat=True))
    assert {"account.session.end", "account.session.end_others"} <= actions


def test_an_upstream_identity_is_listed_and_unlinked(world_a: World) -> None:
    client = signed_in_client(world_a.tenant, world_a.member)
    identity = UpstreamIdentity.objects.get(tenant=world_a.tenant, user=world_a.member)
    html = client.get(account_url(world_a.tenant)).content.decode()
    assert identity.idp.name in html and "Unlink" in html
    response = client.post(account_url(world_a.tenant, "unlink", pk=identity.pk))
    assert response.status_code == 303
    assert not UpstreamIdentity.objects.filter(pk=identity.pk).exists()
    assert "is no longer linked" in client.get(account_url(world_a.tenant)).content.decode()
    assert AuditEvent.objects.filter(tenant=world_a.tenant, action="federation.identity.unlink").exists()


def test_passkeys_are_listed_renamed_and_removed(world_a: World) -> None:
    client = signed_in_client(world_a.tenant, world_a.member)
    row = PasskeyCredential.objects.get(tenant=world_a.tenant, user=world_a.member)
    assert row.name in client.get(account_url(world_a.tenant)).content.decode()
    client.post(account_url(world_a.tenant, "passkey_rename", pk=row.pk), {"name": "  Phone  "})
    row.refresh_from_db()
    assert row.name == "Phone"
    too_long = client.post(account_url(world_a.tenant, "passkey_rename", pk=row.pk), {"name": "x" * 101})
    assert too_long.status_code == 303
    row.refresh_from_db()
    assert row.name == "Phone"
    assert "at most 100 characters" in client.get(account_url(world_a.tenant)).content.decode()
    client.post(account_url(world_a.tenant, "passkey_revoke", pk=row.pk))
    assert not PasskeyCredential.objects.filter(pk=row.pk).exists()
    assert "You have no passkeys yet." in client.get(account_url(world_a.tenant)).content.decode()


def test_the_name_is_saved_and_audited(demo: Tenant) -> None:
    alice = user(demo, "alice")
    client = signed_in_client(demo, alice)
    client.post(account_url(demo, "profile"), {"given_name": " Alicia ", "family_name": "Smith"})
    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name) == ("Alicia", "Smith")
    assert AuditEvent.objects.filter(tenant=demo, action="account.profile.update").exists()


@pytest.mark.setting("user_attributes.shared_value_sources")
def test_values_an_organization_sets_are_shown_read_only(demo: Tenant) -> None:
    alice = user(demo, "alice")
    settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        section="user_attributes",
        values={"shared_value_sources": {"given_name": "from-shared-profile"}},
    )
    invalidate(tenant_id=demo.pk, organization_ids=[None], section="user_attributes")
    profile_value_set(
        actor=SYSTEM, organization=org(demo, "acme-bank"), user=alice, attribute="given_name", value="Ally"
    )
    client = signed_in_client(demo, alice)
    html = client.get(ACCOUNT).content.decode()
    assert "What your organizations show instead" in html and "given_name = Ally" in html
    assert (
        'value="Ally"' not in html and 'id="given_name" name="given_name" value="Alice"' in html
    )  # only the own value is a field
    client.post(account_url(demo, "profile"), {"given_name": "Alicia", "family_name": "Archer"})
    alice.refresh_from_db()
    assert alice.first_name == "Alicia"
    assert resolved_profile(user=alice, organization=org(demo, "acme-bank"))["given_name"] == "Ally"


def test_an_email_change_is_verified_by_a_mailed_code_and_the_old_address_is_told(demo: Tenant, smtp: Inbox) -> None:
    alice = user(demo, "alice")
    client = signed_in_client(demo, alice)
    started = client.post(account_url(demo, "contact"), {"attribute": "email", "value": "alice.new@acme.example"})
    assert started.status_code == 303
    alice.refresh_from_db()
    assert alice.email == "alice@acme.example"  # the old value stays until verified
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "alice.new@acme.example"
    code = code_in(smtp.messages[0])
    assert code not in json.dumps(dict(client.session.items()), default=str)  # only its keyed hash is kept
    html = client.get(ACCOUNT).content.decode()
    assert "We sent a code to your new email address" in html and "alice.new@acme.example" in html

    wrong = "000000" if code != "000000" else "111111"
    client.post(account_url(demo, "confirm"), {"code": wrong})
    alice.refresh_from_db()
    assert alice.email == "alice@acme.example"
    assert "That code is not right" in client.get(ACCOUNT).content.decode()

    client.post(account_url(demo, "confirm"), {"code": code})
    alice.refresh_from_db()
    assert alice.email == "alice.new@acme.example"
    assert "Your email address was changed." in client.get(ACCOUNT).content.decode()
    notice = smtp.messages[-1]
    assert len(smtp.messages) == 2 and notice["To"] == "alice@acme.example"
    assert "was just changed" in notice.get_payload(decode=True).decode()  # type: ignore[union-attr]
    # The code worked once.
    client.post(account_url(demo, "confirm"), {"code": code})
    assert "no change waiting for a code" in client.get(ACCOUNT).content.decode()
    assert not any(code in str(e.data) for e in AuditEvent.objects.filter(tenant=demo))
    assert AuditEvent.objects.filter(tenant=demo, action="account.email.change", data__verified=True).exists()


def test_too_many_wrong_codes_drop_the_change(demo: Tenant, smtp: Inbox) -> None:
    alice = user(demo, "alice")
    client = signed_in_client(demo, alice)
    client.post(account_url(demo, "contact"), {"attribute": "email", "value": "alice.other@acme.example"})
    code = code_in(smtp.messages[0])
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        client.post(account_url(demo, "confirm"), {"code": wrong})
    client.post(account_url(demo, "confirm"), {"code": code})
    alice.refresh_from_db()
    assert alice.email == "alice@acme.example"


def test_an_address_taken_in_the_tenant_is_refused(demo: Tenant, smtp: Inbox) -> None:
    client = signed_in_client(demo, user(demo, "alice"))
    client.post(account_url(demo, "contact"), {"attribute": "email", "value": "BOB@mexbanco.example"})
    assert "Another account already uses that email address." in client.get(ACCOUNT).content.decode()
    assert smtp.messages == []


def mexbanco_verification(tenant: Tenant, **values: bool) -> None:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=org(tenant, "mexbanco"),
        section="attribute_verification",
        values=values,
    )
    job_run(job.pk)
    cache.clear()


@pytest.mark.setting("attribute_verification.verify_email")
def test_without_verification_the_change_is_immediate_and_notified(demo: Tenant, smtp: Inbox) -> None:
    bob = user(demo, "bob")  # home organization: MexBanco
    mexbanco_verification(demo, verify_email=False)
    client = signed_in_client(demo, bob)
    client.post(account_url(demo, "contact"), {"attribute": "email", "value": "robert@mexbanco.example"})
    bob.refresh_from_db()
    assert bob.email == "robert@mexbanco.example"
    assert [m["To"] for m in smtp.messages] == ["bob@mexbanco.example"]  # only the notice, to the old address


@pytest.mark.setting("attribute_verification.notify_on_change")
def test_without_the_notice_setting_the_old_address_is_not_told(demo: Tenant, smtp: Inbox) -> None:
    bob = user(demo, "bob")  # home organization: MexBanco
    mexbanco_verification(demo, verify_email=False, notify_on_change=False)
    signed_in_client(demo, bob).post(
        account_url(demo, "contact"), {"attribute": "email", "value": "rob@mexbanco.example"}
    )
    bob.refresh_from_db()
    assert bob.email == "rob@mexbanco.example" and smtp.messages == []


@pytest.mark.setting("attribute_verification.verify_mobile")
@pytest.mark.setting("templates.sms_verification")
def test_a_mobile_change_is_verified_by_sms_when_the_settings_say_so(
    demo: Tenant, settings: Any, tmp_path: Any, smtp: Inbox
) -> None:
    settings.CANOPY_SMS_GATEWAY = "console"
    settings.CANOPY_SMS_FILE = str(tmp_path / "sms.jsonl")
    job = settings_override_set(
        actor=SYSTEM, tenant=demo, organization=None, section="attribute_verification", values={"verify_mobile": True}
    )
    job_run(job.pk)
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=None,
        section="templates",
        values={"sms_verification": {"en": "{tenant} number check: {code} ({minutes} min)"}},
    )
    job_run(job.pk)
    cache.clear()
    alice = user(demo, "alice")
    client = signed_in_client(demo, alice)
    bad = client.post(account_url(demo, "contact"), {"attribute": "mobile", "value": "call me"})
    assert bad.status_code == 303 and "international form" in client.get(ACCOUNT).content.decode()
    client.post(account_url(demo, "contact"), {"attribute": "mobile", "value": "+44 7700 900123"})
    alice.refresh_from_db()
    assert alice.phone_number != "+447700900123"
    sent = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert sent[-1]["to"] == "+447700900123"
    found = re.fullmatch(r"MightyBank number check: (\d{6}) \(10 min\)", sent[-1]["text"])
    assert found, sent[-1]["text"]
    client.post(account_url(demo, "confirm"), {"code": found.group(1)})
    alice.refresh_from_db()
    assert alice.phone_number == "+447700900123"


def test_forms_need_csrf(demo: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    sign_in(client, demo, user(demo, "alice"))
    assert client.post(account_url(demo, "sessions_end_others")).status_code == 403
    assert client.post(account_url(demo, "contact"), {"attribute": "email", "value": "x@y.example"}).status_code == 403
