"""``login.session_lifetime_minutes`` ends sessions: at sign-in from the organization in context,
the home organization or the root; shortened by ``limit_lifetime``; kept across a step-up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow.session import SESSION_AUTH, current_auth, limit_lifetime, sign_in
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.login import flow_url, request_for
from tests.support.login import sign_in as journey_sign_in
from tests.support.lookups import org, user
from tests.support.oidc import DEMO_WEB, demo_web_authorize

pytestmark = [pytest.mark.django_db, pytest.mark.setting("login.session_lifetime_minutes")]
MINUTE = 60


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def lifetime_set(tenant: Tenant, organization: Organization | None, minutes: int) -> None:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=organization,
        section="login",
        values={"session_lifetime_minutes": minutes},
    )
    job_run(job.pk)
    cache.clear()


def record(client: Client) -> dict[str, Any]:
    return dict(client.session[SESSION_AUTH])


def age(client: Client, seconds: int) -> None:
    """As if the sign-in happened ``seconds`` earlier: move the recorded times back."""
    session = client.session
    data = dict(session[SESSION_AUTH])
    data["auth_time"] -= seconds
    data["expires"] -= seconds
    session[SESSION_AUTH] = data
    session.save()


def signed_in(username: str, tenant: Tenant) -> Client:
    client = Client()
    assert journey_sign_in(client, username, f"{username}-demo-pass", slug=tenant.slug).status_code == 303
    return client


def test_the_default_lifetime_is_eight_hours_and_django_s_session_ends_with_it(demo: Tenant) -> None:
    client = signed_in("alice", demo)
    auth = record(client)
    assert auth["expires"] == auth["auth_time"] + 480 * MINUTE
    assert abs(client.session.get_expiry_date().timestamp() - auth["expires"]) < 1
    assert 0 < client.cookies["sessionid"]["max-age"] <= 480 * MINUTE


def test_past_its_lifetime_a_session_is_signed_out_everywhere(demo: Tenant) -> None:
    client = signed_in("alice", demo)
    path, _ = demo_web_authorize(demo, scope="openid", state="s", nonce="n")
    assert client.get(path)["Location"].startswith(DEMO_WEB[2])  # still signed in: a code
    assert client.get(flow_url("home")).status_code == 200
    age(client, 480 * MINUTE - 5)
    assert client.get(flow_url("home")).status_code == 200  # five seconds left
    age(client, 5)
    authorize = client.get(path)
    assert authorize.status_code == 302 and authorize["Location"].startswith("/t/mightybank/login/")
    assert client.get(flow_url("home"))["Location"] == flow_url("login")
    account = client.get("/t/mightybank/account/")
    assert account.status_code == 302 and account["Location"].startswith("/t/mightybank/login/")
    assert client.get(flow_url("login")).status_code == 200  # the login page asks again
    assert current_auth(request_for(client, user(demo, "alice")), demo) is None


def test_signing_in_again_after_expiry_starts_a_new_login_session(demo: Tenant) -> None:
    client = signed_in("alice", demo)
    before = record(client)
    age(client, 480 * MINUTE)
    assert journey_sign_in(client, "alice", "alice-demo-pass").status_code == 303
    after = record(client)
    assert after["sid"] != before["sid"] and after["expires"] == after["auth_time"] + 480 * MINUTE
    assert client.get(flow_url("home")).status_code == 200


def test_the_root_s_lifetime_applies_to_a_user_without_a_home_organization(demo: Tenant) -> None:
    lifetime_set(demo, None, 30)
    auth = record(signed_in("sam", demo))
    assert auth["expires"] == auth["auth_time"] + 30 * MINUTE


def test_the_home_organization_s_lifetime_applies(demo: Tenant) -> None:
    lifetime_set(demo, None, 30)
    lifetime_set(demo, org(demo, "mightybank-americas"), 90)  # alice's home; bob's (mexbanco) inherits it
    lifetime_set(demo, org(demo, "acme-bank"), 10)  # alice is only a member there
    alice = record(signed_in("alice", demo))
    assert alice["expires"] == alice["auth_time"] + 90 * MINUTE
    bob = record(signed_in("bob", demo))
    assert bob["expires"] == bob["auth_time"] + 90 * MINUTE
    sam = record(signed_in("sam", demo))
    assert sam["expires"] == sam["auth_time"] + 30 * MINUTE


def test_the_organization_in_context_at_sign_in_wins(demo: Tenant) -> None:
    lifetime_set(demo, org(demo, "acme-bank"), 10)
    client = Client()
    client.force_login(user(demo, "alice"))
    request = request_for(client, user(demo, "alice"))
    state = sign_in(
        request,
        user=user(demo, "alice"),
        tenant=demo,
        amr=["pwd"],
        acr="urn:canopy:acr:pwd",
        backend="tenants.backends.TenantModelBackend",
        organization=org(demo, "acme-bank").pk,
    )
    assert state.expires == state.auth_time + 10 * MINUTE
    assert request.session[SESSION_AUTH]["expires"] == state.expires
    assert abs(request.session.get_expiry_date().timestamp() - state.expires) < 1


def test_limit_lifetime_shortens_and_never_lengthens(demo: Tenant) -> None:
    client = signed_in("alice", demo)
    alice = user(demo, "alice")
    request = request_for(client, alice)
    auth_time = request.session[SESSION_AUTH]["auth_time"]
    limit_lifetime(request, demo, 60)
    assert request.session[SESSION_AUTH]["expires"] == auth_time + 60 * MINUTE
    assert abs(request.session.get_expiry_date().timestamp() - (auth_time + 60 * MINUTE)) < 1
    limit_lifetime(request, demo, 600)  # a longer one does not lengthen it
    assert request.session[SESSION_AUTH]["expires"] == auth_time + 60 * MINUTE
    limit_lifetime(request, demo, 20)  # a second, shorter organization: the shortest wins
    assert request.session[SESSION_AUTH]["expires"] == auth_time + 20 * MINUTE
    request.session.save()
    age(client, 20 * MINUTE)
    assert client.get(flow_url("home"))["Location"] == flow_url("login")


def test_limit_lifetime_leaves_other_tenants_and_signed_out_browsers_alone(world_a, world_b) -> None:
    client = signed_in("alice", world_a.tenant)
    request = request_for(client, world_a.member)
    before = dict(request.session[SESSION_AUTH])
    limit_lifetime(request, world_b.tenant, 5)
    assert request.session[SESSION_AUTH] == before
    anonymous = Client()
    anonymous.get(flow_url("login", world_a.tenant.slug))
    from django.contrib.auth.models import AnonymousUser

    nobody = request_for(anonymous, AnonymousUser())
    limit_lifetime(nobody, world_a.tenant, 5)
    assert SESSION_AUTH not in nobody.session


def test_a_step_up_keeps_the_shortest_limit_of_the_session(demo: Tenant) -> None:
    client = signed_in("alice", demo)
    request = request_for(client, user(demo, "alice"))
    limit_lifetime(request, demo, 15)  # a token for an organization with 15 minutes
    request.session.save()
    first = record(client)
    age(client, 10 * MINUTE)
    # Re-authentication (prompt=login): the same login session, the 15 minutes still apply.
    forced = flow_url("login", prompt="login")
    assert client.post(forced, {"identifier": "alice", "prompt": "login"}).status_code == 303
    assert client.post(flow_url("password"), {"password": "alice-demo-pass"}).status_code == 303
    again = record(client)
    assert again["sid"] == first["sid"]
    assert again["auth_time"] >= first["auth_time"] and again["expires"] == again["auth_time"] + 15 * MINUTE
    assert again["expires"] < again["auth_time"] + 480 * MINUTE
    assert abs(client.session.get_expiry_date().timestamp() - again["expires"]) < 1
    age(client, 15 * MINUTE)
    assert client.get(flow_url("home"))["Location"] == flow_url("login")


def test_a_record_from_before_lifetimes_ends_after_the_lifetime(demo: Tenant) -> None:
    from tests.support.oidc import sign_in as session_sign_in

    client = Client()
    session_sign_in(client, demo, user(demo, "bob"), auth_time=int(time.time()) - 479 * MINUTE)
    assert client.get(flow_url("home")).status_code == 200
    session_sign_in(client, demo, user(demo, "bob"), auth_time=int(time.time()) - 481 * MINUTE)
    assert client.get(flow_url("home"))["Location"] == flow_url("login")


def test_a_token_for_an_organization_shortens_the_session_to_its_lifetime(demo: Tenant) -> None:
    """Alice signs in (her home organization's 8 hours), then gets a token for Acme Bank (30 minutes):
    the session now ends 30 minutes after sign-in; a later token for a longer organization keeps that."""
    from tests.support.oidc import DEMO_WEB, demo_web_authorize

    lifetime_set(demo, Organization.objects.get(tenant=demo, identifier="acme-bank"), 30)
    client = signed_in("alice", demo)
    before = record(client)
    assert before["expires"] - before["auth_time"] > 30 * 60
    for identifier in ("acme-bank", "mightybank-americas"):
        authorize, _ = demo_web_authorize(
            demo, scope="openid organization", state="s", nonce="n", organization=identifier
        )
        assert client.get(authorize)["Location"].startswith(DEMO_WEB[2])
        after = record(client)
        assert after["expires"] - after["auth_time"] == 30 * 60
    age(client, 31 * 60)
    authorize, _ = demo_web_authorize(demo, scope="openid", state="s", nonce="n")
    assert client.get(authorize)["Location"].startswith("/t/mightybank/login/")
