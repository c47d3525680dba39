"""``login.identifier_first`` off: the identifier and the password on one page, one POST signs in.

The same rules as the two-step journey (``idp.flow.services.password_attempt``: the generic
message, the lockout; the organization's second factors; no password where the organization
allows none), through the Django test client with CSRF on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow.session import SESSION_AUTH
from idp.flow.views import MSG_INVALID, MSG_LOCKED
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.login import id_token_after, require_email_otp, start_authorize
from tests.support.lookups import org, user
from tests.support.mail import Inbox, code_in

pytestmark = [pytest.mark.django_db, pytest.mark.setting("login.identifier_first")]
LOGIN = "/t/mightybank/login/"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def set_login(tenant: Tenant, identifier: str | None, **values: Any) -> None:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=org(tenant, identifier) if identifier else None,
        section="login",
        values=values,
    )
    job_run(job.pk)
    cache.clear()


def csrf_client() -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True)
    client.get(LOGIN)
    return client, client.cookies["csrftoken"].value


def test_one_page_sign_in_where_the_organization_turns_identifier_first_off(demo: Tenant) -> None:
    set_login(demo, "acme-bank", identifier_first=False)
    client, token = csrf_client()
    page = client.get(f"{LOGIN}?org=acme-bank").content.decode()
    assert 'name="identifier"' in page and 'type="password"' in page and 'autocomplete="current-password"' in page
    assert f'name="org" value="{org(demo, "acme-bank").pk}"' in page and "csrfmiddlewaretoken" in page
    assert "Forgot your password?" in page
    # Without the CSRF token the one POST is refused like every other form.
    refused = client.post(LOGIN, {"identifier": "alice", "password": "alice-demo-pass", "org": "acme-bank"})
    assert refused.status_code == 403 and SESSION_AUTH not in client.session

    done = client.post(
        LOGIN,
        {"identifier": "alice", "password": "alice-demo-pass", "org": "acme-bank", "csrfmiddlewaretoken": token},
    )
    assert done.status_code == 303 and done["Location"] == "/t/mightybank/"
    auth = client.session[SESSION_AUTH]
    assert auth["user_id"] == user(demo, "alice").pk and auth["amr"] == ["pwd"]


def test_elsewhere_the_journey_stays_identifier_first(demo: Tenant) -> None:
    set_login(demo, "acme-bank", identifier_first=False)
    client = Client()
    for url in (LOGIN, f"{LOGIN}?org=mexbanco"):  # the tenant root, and another organization
        page = client.get(url).content.decode()
        assert 'name="identifier"' in page and 'type="password"' not in page, url
    r = client.post(LOGIN, {"identifier": "alice", "password": "alice-demo-pass", "org": "mexbanco"})
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/password/"
    assert SESSION_AUTH not in client.session  # a password sent along is not used by the two-step page


def test_the_organization_in_the_authorize_request_decides_and_tokens_follow(demo: Tenant) -> None:
    set_login(demo, "acme-bank", identifier_first=False)
    client = Client()
    url, verifier = start_authorize(client, demo, "acme-bank")
    login_page = client.get(url)["Location"]  # the authorization request sends the browser to sign in
    assert urlsplit(login_page).path == LOGIN
    assert 'type="password"' in client.get(login_page).content.decode()
    r = client.post(LOGIN, {"identifier": "alice", "password": "alice-demo-pass", "next": url})
    assert r.status_code == 303 and r["Location"] == url
    claims = id_token_after(client, url, verifier)
    assert claims["amr"] == ["pwd"] and claims["org_name"] in ("acme-bank", "Acme Bank")


def test_a_wrong_password_gets_the_generic_message_and_counts_towards_the_lockout(demo: Tenant) -> None:
    set_login(demo, None, identifier_first=False)  # at the tenant root: every page without an organization
    client = Client()
    wrong = client.post(LOGIN, {"identifier": "alice", "password": "nope"})
    html = wrong.content.decode()
    assert wrong.status_code == 200 and MSG_INVALID in html and 'value="alice"' in html and 'type="password"' in html
    assert SESSION_AUTH not in client.session
    empty = client.post(LOGIN, {"identifier": "alice", "password": ""})
    assert empty.status_code == 200 and "Enter your password." in empty.content.decode()
    statuses = [client.post(LOGIN, {"identifier": "alice", "password": "nope"}).status_code for _ in range(10)]
    assert 429 in statuses
    locked = client.post(LOGIN, {"identifier": "alice", "password": "alice-demo-pass"})
    assert locked.status_code == 429 and MSG_LOCKED in locked.content.decode()
    assert SESSION_AUTH not in client.session  # the right password does not get through a lockout


def test_the_organizations_second_factor_follows_the_one_post(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, "acme-bank")
    set_login(demo, "acme-bank", identifier_first=False)
    client = Client()
    r = client.post(LOGIN, {"identifier": "alice", "password": "alice-demo-pass", "org": "acme-bank"})
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/email-code/"
    assert SESSION_AUTH not in client.session and len(smtp.messages) == 1
    done = client.post(r["Location"], {"code": code_in(smtp.messages[0])})
    assert done.status_code == 303
    assert client.session[SESSION_AUTH]["amr"] == ["pwd", "otp"]


def test_where_no_password_is_allowed_the_one_page_form_asks_none(demo: Tenant, smtp: Inbox) -> None:
    set_login(demo, "mexbanco", identifier_first=False, authenticators=["email_otp"])
    client = Client()
    page = client.get(f"{LOGIN}?org=mexbanco").content.decode()
    assert 'name="identifier"' in page and 'type="password"' not in page
    r = client.post(LOGIN, {"identifier": "alice", "password": "alice-demo-pass", "org": "mexbanco"})
    assert r.status_code == 303 and urlsplit(r["Location"]).path == "/t/mightybank/login/email-code/"
    assert SESSION_AUTH not in client.session  # the password sent along proved nothing
    done = client.post(r["Location"], {"code": code_in(smtp.messages[0])})
    assert done.status_code == 303 and client.session[SESSION_AUTH]["amr"] == ["otp"]
