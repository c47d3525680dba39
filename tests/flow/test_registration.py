"""Self-registration: open per organization, verified by an emailed code (a real local SMTP server),
the effective password policy and username rule, no duplicate accounts, rate limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow.registration import SESSION_REGISTER
from idp.flow.session import SESSION_AUTH
from orgs.tree.models import Membership
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant, User
from tests.support.login import authorize_next, id_token_after
from tests.support.lookups import org
from tests.support.mail import Inbox, body_of, signup_code_in
from tests.support.registration import GOOD_PASSWORD, configure, form, open_signup
from tests.support.worlds import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


@pytest.mark.setting("login.self_registration")
def test_login_page_offers_sign_up_only_where_open(demo: Tenant) -> None:
    open_signup(demo)
    client = Client()
    acme = client.get("/t/mightybank/login/?org=acme-bank").content.decode()
    assert "Create an account" in acme and "/t/mightybank/register/?org=acme-bank" in acme
    assert "Create an account" not in client.get("/t/mightybank/login/?org=mexbanco").content.decode()
    assert "Create an account" not in client.get("/t/mightybank/login/").content.decode()


def test_sign_up_with_code_continues_the_authorization_with_org_claims(demo: Tenant, smtp: Inbox) -> None:
    open_signup(demo)
    url, verifier = authorize_next(demo, "acme-bank")
    client = Client()
    r = client.post("/t/mightybank/register/", {**form(), "next": url})
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/register/verify/"
    assert not User.objects.filter(username="dora").exists()  # nothing before the address is proved
    assert "Correct-Horse" not in str(client.session[SESSION_REGISTER])  # only the hash waits
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "dora@acme.example"
    code = signup_code_in(smtp.messages[0])
    wrong = client.post("/t/mightybank/register/verify/", {"code": "0" * len(code) if code[0] != "0" else "1" * 6})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    done = client.post("/t/mightybank/register/verify/", {"code": code})
    assert done.status_code == 303 and done["Location"] == url
    dora = User.objects.get(tenant=demo, username="dora")
    assert dora.check_password(GOOD_PASSWORD) and dora.first_name == "Dora" and dora.email == "dora@acme.example"
    membership = Membership.objects.get(user=dora)
    assert membership.organization == org(demo, "acme-bank") and membership.origin == Membership.Origin.CREATED_HERE
    assert client.session[SESSION_AUTH]["user_id"] == dora.pk
    claims = id_token_after(client, url, verifier)
    assert claims["org_id"] == str(org(demo, "acme-bank").pk) and claims["org_ids"] == [str(membership.organization_id)]
    assert AuditEvent.objects.filter(tenant=demo, action="user.register", target_id=str(dora.pk)).exists()
    # The code is single-use: the same one again finds nothing to confirm.
    again = client.post("/t/mightybank/register/verify/", {"code": code})
    assert again.status_code == 400 and User.objects.filter(tenant=demo, email="dora@acme.example").count() == 1


def test_the_emailed_link_confirms_in_the_same_browser(demo: Tenant, smtp: Inbox, settings: Any) -> None:
    settings.CANOPY_BASE_URL = "http://testserver"
    open_signup(demo)
    client = Client()
    client.post("/t/mightybank/register/?org=acme-bank", {**form(), "next": "/t/mightybank/"})
    link = re.search(r"http://testserver(/t/mightybank/register/verify/\?code=\d+)", body_of(smtp.messages[0]))
    assert link, body_of(smtp.messages[0])
    assert Client().get(link.group(1)).status_code == 400  # another browser has no pending sign-up
    opened = client.get(link.group(1))
    assert opened.status_code == 303 and opened["Location"] == "/t/mightybank/"
    assert User.objects.filter(tenant=demo, username="dora").exists()


def test_closed_organization_refuses_with_a_message_and_creates_nothing(demo: Tenant, smtp: Inbox) -> None:
    open_signup(demo)  # acme-bank only
    page = Client().get("/t/mightybank/register/?org=mexbanco")
    assert page.status_code == 403 and "You cannot create an account here" in page.content.decode()
    post = Client().post("/t/mightybank/register/?org=mexbanco", form())
    assert post.status_code == 403 and not User.objects.filter(username="dora").exists()
    configure(demo, "acme-bank", "flows", self_registration={"enabled": False, "steps": [], "options": {}})
    assert Client().get("/t/mightybank/register/?org=acme-bank").status_code == 403
    assert smtp.messages == []


def test_existing_email_gets_a_notice_not_a_second_account(demo: Tenant, smtp: Inbox) -> None:
    open_signup(demo)
    client = Client()
    r = client.post("/t/mightybank/register/?org=acme-bank", form(email="Alice@Acme.example", username="alice2"))
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/register/verify/"  # same answer
    assert "already have an account" in smtp.messages[0]["Subject"] and "code=" not in body_of(smtp.messages[0])
    for _ in range(5):
        answer = client.post("/t/mightybank/register/verify/", {"code": "123456"})
    assert answer.status_code == 429 and "Too many wrong codes" in answer.content.decode()
    assert User.objects.filter(tenant=demo, email__iexact="alice@acme.example").count() == 1
    assert not User.objects.filter(username="alice2").exists()


@pytest.mark.setting("login.password_min_length")
@pytest.mark.setting("login.password_require_digit")
def test_bad_password_and_taken_username_are_field_errors_and_nothing_is_created(demo: Tenant, smtp: Inbox) -> None:
    open_signup(demo, password_min_length=14, password_require_digit=True)
    client = Client()
    short = client.post("/t/mightybank/register/?org=acme-bank", form(password="Short-pass", confirm="Short-pass"))
    html = short.content.decode()
    assert short.status_code == 400 and "Use at least 14 characters." in html and "Include at least one digit" in html
    assert 'id="password-error"' in html and 'value="dora@acme.example"' in html and "Short-pass" not in html
    mismatch = client.post("/t/mightybank/register/?org=acme-bank", form(confirm="Other-Horse-Battery-9"))
    assert mismatch.status_code == 400 and "The two passwords are not the same" in mismatch.content.decode()
    taken = client.post("/t/mightybank/register/?org=acme-bank", form(username="Alice"))
    assert taken.status_code == 400 and "That username is taken" in taken.content.decode()
    assert not User.objects.filter(email="dora@acme.example").exists() and smtp.messages == []


@pytest.mark.setting("flows.self_registration")
@pytest.mark.setting("login.username_rule")
def test_email_username_rule_and_no_verification_step(demo: Tenant, smtp: Inbox) -> None:
    open_signup(demo, username_rule="email")
    configure(demo, "acme-bank", "flows", self_registration={"enabled": True, "steps": ["password"], "options": {}})
    client = Client()
    page = client.get("/t/mightybank/register/?org=acme-bank").content.decode()
    assert 'name="username"' not in page and 'name="first_name"' not in page
    r = client.post("/t/mightybank/register/?org=acme-bank", form(username="", first_name="", last_name=""))
    assert r.status_code == 303 and r["Location"] == "/t/mightybank/"
    assert User.objects.get(tenant=demo, username="dora@acme.example").email == "dora@acme.example"
    assert smtp.messages == []


def test_sign_up_is_rate_limited_per_address(demo: Tenant, smtp: Inbox) -> None:
    open_signup(demo)
    statuses = []
    for i in range(4):
        client = Client()
        statuses.append(client.post("/t/mightybank/register/?org=acme-bank", form(username=f"dora{i}")).status_code)
    assert statuses == [303, 303, 303, 429]
    assert len(smtp.messages) == 3


def test_an_organization_of_another_tenant_is_not_a_context(demo: Tenant) -> None:
    other = build_world("tenant-b")
    configure(other.tenant, other.root.identifier, "login", self_registration=True)
    answer = Client().get(f"/t/mightybank/register/?org={other.root.pk}")
    assert answer.status_code == 403  # unknown here: the mightybank root, which is closed
    assert Client().get(f"/t/tenant-b/register/?org={other.root.pk}").status_code == 200


# --- invited registration (client level; the browser journey is in test_registration_browser.py) ---


def invite(tenant: Tenant, email: str, identifier: str = "mexbanco") -> str:
    from orgs.invitations.services import invitation_create, invitation_token

    invitation = invitation_create(actor=SYSTEM, organization=org(tenant, identifier), email=email)
    return f"/t/mightybank/invitations/accept/?token={invitation_token(invitation)}"


@pytest.mark.setting("login.password_require_symbol")
def test_invited_new_address_registers_once_with_the_policy(demo: Tenant) -> None:
    configure(demo, "mexbanco", "login", password_require_symbol=True)
    url = invite(demo, "gail@newcomer.example")
    client = Client()
    page = client.get(url)
    assert page.status_code == 200 and "Create your account for" in page.content.decode()
    token = page.context["token"]
    weak = client.post(
        url,
        {
            "token": token,
            "username": "gail",
            "first_name": "G",
            "last_name": "L",
            "password": "NoSymbolsHere2024",
            "confirm": "NoSymbolsHere2024",
        },
    )
    assert weak.status_code == 400 and "Include at least one symbol" in weak.content.decode()
    assert not User.objects.filter(username="gail").exists()
    good = {
        "token": token,
        "username": "gail",
        "first_name": "G",
        "last_name": "L",
        "password": GOOD_PASSWORD,
        "confirm": GOOD_PASSWORD,
    }
    # The invited flow's default steps include ``terms``: refused until the box is ticked.
    unticked = client.post(url, good)
    assert unticked.status_code == 400 and "accept the terms of use" in unticked.content.decode()
    assert not User.objects.filter(username="gail").exists()
    done = client.post(url, {**good, "accept_terms": "on"})
    assert done.status_code == 200 and "You are now a member of MexBanco" in done.content.decode()
    gail = User.objects.get(tenant=demo, username="gail")
    assert gail.terms_accepted_at is not None
    assert client.session[SESSION_AUTH]["user_id"] == gail.pk
    assert Membership.objects.get(user=gail).organization.identifier == "mexbanco"
    assert AuditEvent.objects.filter(tenant=demo, action="invitation.register").exists()
    again = Client().post(
        url,
        {
            "token": token,
            "username": "gail2",
            "password": GOOD_PASSWORD,
            "confirm": GOOD_PASSWORD,
            "first_name": "G",
            "last_name": "L",
        },
    )
    assert again.status_code == 400 and "already used" in again.content.decode()
    assert not User.objects.filter(username="gail2").exists()


@pytest.mark.setting("flows.invited_registration")
def test_the_inviting_organization_s_invited_flow_shapes_the_form_or_closes_it(demo: Tenant) -> None:
    configure(demo, "mexbanco", "flows", invited_registration={"enabled": True, "steps": ["password"], "options": {}})
    url = invite(demo, "ines@newcomer.example")
    client = Client()
    page = client.get(url).content.decode()
    assert 'name="first_name"' not in page and "accept_terms" not in page  # no profile, no terms step
    done = client.post(
        url, {"token": query_token(url), "username": "ines", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD}
    )
    assert done.status_code == 200 and "You are now a member of MexBanco" in done.content.decode()
    assert User.objects.get(tenant=demo, username="ines").terms_accepted_at is None

    configure(demo, "mexbanco", "flows", invited_registration={"enabled": False, "steps": ["password"], "options": {}})
    closed_url = invite(demo, "jon@newcomer.example")
    closed = Client().post(
        closed_url,
        {"token": query_token(closed_url), "username": "jon", "password": GOOD_PASSWORD, "confirm": GOOD_PASSWORD},
    )
    assert closed.status_code == 403 and "does not create accounts from invitations" in closed.content.decode()
    assert not User.objects.filter(username="jon").exists()


def query_token(url: str) -> str:
    return url.split("token=", 1)[1]


def test_expired_invitation_to_a_new_address_is_refused(demo: Tenant) -> None:
    from django.utils import timezone

    from orgs.invitations.models import Invitation

    url = invite(demo, "hal@newcomer.example")
    Invitation.objects.update(expires_at=timezone.now())
    answer = Client().get(url)
    assert answer.status_code == 400 and "has expired" in answer.content.decode()
    assert not User.objects.filter(email="hal@newcomer.example").exists()


def test_invitation_of_another_tenant_is_not_valid_here(demo: Tenant) -> None:
    url = invite(demo, "ida@newcomer.example")
    build_world("tenant-b")
    other = Client().get(url.replace("/t/mightybank/", "/t/tenant-b/"))
    assert other.status_code == 400 and not User.objects.filter(email="ida@newcomer.example").exists()


def test_admin_invites_an_address_without_an_account(demo: Tenant, smtp: Inbox, admin_client_for) -> None:
    from orgs.invitations.models import Invitation
    from tests.support.lookups import user as user_of

    sam = admin_client_for(user_of(demo, "sam"))
    form = sam.get("/admin/orgs/invitation/add/")
    assert form.status_code == 200 and 'name="email"' in form.content.decode()
    acme = org(demo, "acme-bank")
    added = sam.post(
        "/admin/orgs/invitation/add/", {"organization": acme.pk, "email": "Jo@Newcomer.example", "role": "member"}
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    invitation = Invitation.objects.get(email="jo@newcomer.example")
    assert invitation.organization == acme and invitation.invited_by == user_of(demo, "sam")
    assert AuditEvent.objects.filter(tenant=demo, action="invitation.create").exists()
    member = sam.post(
        "/admin/orgs/invitation/add/", {"organization": acme.pk, "email": "alice@acme.example", "role": "member"}
    )
    assert member.status_code == 200 and "already a member" in member.content.decode()
    other = build_world("tenant-b")
    foreign = sam.post(
        "/admin/orgs/invitation/add/", {"organization": other.root.pk, "email": "x@y.example", "role": "member"}
    )
    assert foreign.status_code == 200 and not Invitation.objects.filter(email="x@y.example").exists()


def test_verification_uses_the_effective_template_and_resend_has_a_cool_down(demo: Tenant, smtp: Inbox) -> None:
    open_signup(demo)
    configure(
        demo,
        "acme-bank",
        "templates",
        email_verification={"en": {"subject": "Welcome to Acme", "body": "Code {code} for {email}: {link}"}},
    )
    client = Client()
    client.post("/t/mightybank/register/?org=acme-bank", form())
    first = smtp.messages[0]
    assert first["Subject"] == "Welcome to Acme" and "for dora@acme.example" in body_of(first)
    assert "Or type this code" not in body_of(first)  # the template places {code} itself
    soon = client.post("/t/mightybank/register/verify/", {"action": "resend"})
    assert soon.status_code == 429 and "before asking for another code" in soon.content.decode()
    session = client.session
    pending = session[SESSION_REGISTER]
    pending["challenge"]["sent_at"] = 0  # the cool-down passes
    session[SESSION_REGISTER] = pending
    session.save()
    again = client.post("/t/mightybank/register/verify/", {"action": "resend"})
    assert again.status_code == 200 and len(smtp.messages) == 2
    new_code = signup_code_in(smtp.messages[1])
    if new_code != signup_code_in(first):
        assert client.post("/t/mightybank/register/verify/", {"code": signup_code_in(first)}).status_code == 400
    assert client.post("/t/mightybank/register/verify/", {"code": new_code}).status_code == 303
