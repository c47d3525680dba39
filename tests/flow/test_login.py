"""The browser login journey: identifier first, password, next, current_auth, logout, CSRF."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.http import HttpRequest
from django.test import Client

from idp.flow import steps
from idp.flow.session import SESSION_AUTH, SESSION_LOGIN, current_auth, login_url
from tenants.models import Tenant, User
from tests.support.login import MSG_INVALID, flow_url, request_for, sign_in, submit_identifier, without_csrf
from tests.support.lookups import user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()  # the rate-limit counters live in the (Redis) cache
    yield
    cache.clear()


def test_identifier_then_password_signs_in_and_records_how(demo: Tenant) -> None:
    client = Client()
    page = client.get(flow_url("login", next="/t/mightybank/somewhere"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'name="identifier"' in html and 'type="password"' not in html  # identifier only
    assert '<meta name="referrer" content="same-origin">' in html and "csrfmiddlewaretoken" in html
    assert 'value="/t/mightybank/somewhere"' in html and "MightyBank" in html
    assert "no-store" in page["Cache-Control"]

    response = submit_identifier(client, "alice", next_url="/t/mightybank/somewhere")
    assert response.status_code == 303
    assert response["Location"] == flow_url("password", next="/t/mightybank/somewhere")
    page = client.get(response["Location"])
    html = page.content.decode()
    assert "<strong>alice</strong>" in html and "Not you?" in html and 'type="password"' in html

    session_before = client.cookies["sessionid"].value
    before = int(time.time())
    response = client.post(flow_url("password"), {"password": "alice-demo-pass", "next": "/t/mightybank/somewhere"})
    assert response.status_code == 303 and response["Location"] == "/t/mightybank/somewhere"
    assert client.cookies["sessionid"].value != session_before  # a new session key after login
    session = client.session
    alice = user(demo, "alice")
    assert session["_auth_user_id"] == str(alice.pk)
    auth = session[SESSION_AUTH]
    assert auth["tenant_id"] == demo.pk and auth["user_id"] == alice.pk
    assert before <= auth["auth_time"] <= int(time.time()) and isinstance(auth["auth_time"], int)
    assert auth["amr"] == ["pwd"] and auth["acr"] == "urn:canopy:acr:pwd"
    assert SESSION_LOGIN not in session

    home = client.get(flow_url("home"))
    assert home.status_code == 200
    assert "Signed in to MightyBank as <strong>alice</strong>" in home.content.decode()
    assert 'action="/t/mightybank/logout/"' in home.content.decode()


@pytest.mark.parametrize("identifier", ["alice@acme.example", "Alice@Acme.Example", "ALICE"])
def test_login_by_email_or_any_case(demo: Tenant, identifier: str) -> None:
    client = Client()
    response = sign_in(client, identifier, "alice-demo-pass")
    assert response.status_code == 303
    assert client.session["_auth_user_id"] == str(user(demo, "alice").pk)


def test_wrong_password_shows_the_generic_message_and_does_not_sign_in(demo: Tenant) -> None:
    client = Client()
    response = sign_in(client, "alice", "not-her-password")
    assert response.status_code == 200
    assert MSG_INVALID in response.content.decode()
    assert "_auth_user_id" not in client.session and SESSION_AUTH not in client.session
    assert client.get(flow_url("home"))["Location"] == flow_url("login")


def test_an_empty_password_asks_for_one_without_counting(demo: Tenant) -> None:
    client = Client()
    submit_identifier(client, "alice")
    response = client.post(flow_url("password"), {"password": ""})
    assert response.status_code == 200 and "Enter your password." in response.content.decode()


def test_an_unknown_user_gets_the_same_pages_and_message_as_a_wrong_password(demo: Tenant) -> None:
    known, unknown = Client(), Client()
    first_known = submit_identifier(known, "alice", next_url="/t/mightybank/x")
    first_unknown = submit_identifier(unknown, "nobody", next_url="/t/mightybank/x")
    assert first_known.status_code == first_unknown.status_code == 303
    assert first_known["Location"] == first_unknown["Location"]

    page_known = known.get(first_known["Location"]).content.decode()
    page_unknown = unknown.get(first_unknown["Location"]).content.decode()
    assert without_csrf(page_known).replace("alice", "X") == without_csrf(page_unknown).replace("nobody", "X")

    wrong = known.post(flow_url("password"), {"password": "wrong-password", "next": "/t/mightybank/x"})
    missing = unknown.post(flow_url("password"), {"password": "wrong-password", "next": "/t/mightybank/x"})
    assert wrong.status_code == missing.status_code == 200
    assert MSG_INVALID in missing.content.decode()
    assert without_csrf(wrong.content.decode()).replace("alice", "X") == without_csrf(missing.content.decode()).replace(
        "nobody", "X"
    )


def test_the_password_page_without_an_identifier_goes_back_to_the_identifier_page(demo: Tenant) -> None:
    client = Client()
    response = client.get(flow_url("password", next="/t/mightybank/x"))
    assert response.status_code == 302 and response["Location"] == flow_url("login", next="/t/mightybank/x")
    response = client.post(flow_url("password"), {"password": "alice-demo-pass"})
    assert response.status_code == 303 and "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "evil",
    [
        "https://evil.example/",
        "//evil.example",
        "///evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "https:/evil.example",
        "javascript:alert(1)",
        "/t/other-tenant/authorize",
        "/t/mightybankx/",
        "/t/mightybank/../other-tenant/",
        "/t/mightybank/%2e%2e/other-tenant/",
        "/t/mightybank/\n/evil",
        "mightybank/",
        "http://testserver/t/mightybank/",
    ],
)
def test_next_open_redirect_attempts_fall_back_to_the_tenant_home(demo: Tenant, evil: str) -> None:
    client = Client()
    page = client.get(flow_url("login", next=evil))
    assert 'name="next" value=""' in page.content.decode()  # dropped: home afterwards
    response = sign_in(client, "alice", "alice-demo-pass", next_url=evil)
    assert response.status_code == 303 and response["Location"] == "/t/mightybank/"
    # Already signed in: the login page sends on at once, still not to the evil target.
    assert client.get(flow_url("login", next=evil))["Location"] == "/t/mightybank/"


def test_a_next_inside_the_tenant_is_followed_with_its_query(demo: Tenant) -> None:
    target = "/t/mightybank/authorize?client_id=abc&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&state=x"
    response = sign_in(Client(), "alice", "alice-demo-pass", next_url=target)
    assert response["Location"] == target


def test_a_session_skips_the_login_page_unless_prompt_login(demo: Tenant) -> None:
    client = Client()
    sign_in(client, "alice", "alice-demo-pass")
    first_time = client.session[SESSION_AUTH]["auth_time"]
    assert client.get(flow_url("login", next="/t/mightybank/a"))["Location"] == "/t/mightybank/a"

    forced = login_url(demo, "/t/mightybank/a", prompt_login=True)
    assert forced == "/t/mightybank/login/?next=%2Ft%2Fmightybank%2Fa&prompt=login"
    page = client.get(forced)
    html = page.content.decode()
    assert page.status_code == 200 and 'value="alice"' in html and 'name="prompt" value="login"' in html
    response = client.post(forced, {"identifier": "alice", "next": "/t/mightybank/a", "prompt": "login"})
    assert response.status_code == 303
    assert "prompt=login" in client.get(response["Location"]).content.decode()  # "not you?" keeps the flag
    time.sleep(1)
    response = client.post(flow_url("password"), {"password": "alice-demo-pass", "next": "/t/mightybank/a"})
    assert response["Location"] == "/t/mightybank/a"
    assert client.session[SESSION_AUTH]["auth_time"] > first_time
    assert login_url(demo, "") == "/t/mightybank/login/"


def test_current_auth_is_none_for_a_session_of_another_tenant(world_a, world_b) -> None:
    client = Client()
    assert sign_in(client, "alice", "alice-demo-pass", slug="tenant-a").status_code == 303
    alice_a = world_a.member
    request = request_for(client, alice_a)
    state = current_auth(request, world_a.tenant)
    assert state is not None and state.user == alice_a and state.tenant_id == world_a.tenant.pk
    assert state.amr == ["pwd"] and state.acr == "urn:canopy:acr:pwd" and state.auth_time > 0
    assert current_auth(request, world_b.tenant) is None
    # Tenant B's pages see nobody signed in.
    assert client.get(flow_url("home", "tenant-b"))["Location"] == flow_url("login", "tenant-b")
    assert client.get(flow_url("login", "tenant-b")).status_code == 200


def test_current_auth_needs_the_flow_record_not_just_a_django_login(demo: Tenant) -> None:
    client = Client()
    alice = user(demo, "alice")
    client.force_login(alice)  # e.g. a Django admin session
    assert current_auth(request_for(client, alice), demo) is None
    alice.is_active = False
    alice.save()
    client = Client()
    assert sign_in(client, "alice", "alice-demo-pass").status_code == 200


def test_signing_in_to_another_tenant_replaces_the_session(world_a, world_b) -> None:
    client = Client()
    sign_in(client, "alice", "alice-demo-pass", slug="tenant-a")
    sign_in(client, "alice", "alice-demo-pass", slug="tenant-b")
    request = request_for(client, User.objects.get(pk=client.session["_auth_user_id"]))
    assert current_auth(request, world_b.tenant) is not None
    assert current_auth(request, world_a.tenant) is None


def test_logout_confirms_then_clears_the_session(demo: Tenant) -> None:
    client = Client()
    sign_in(client, "alice", "alice-demo-pass")
    client.session  # noqa: B018
    page = client.get(flow_url("logout"))
    assert page.status_code == 200 and "Sign out?" in page.content.decode()
    assert "_auth_user_id" in client.session  # GET changes nothing
    response = client.post(flow_url("logout"))
    assert response.status_code == 303 and response["Location"] == flow_url("logout") + "?done=1"
    assert not [k for k in client.session.keys() if k.startswith("canopy.") or k.startswith("_auth")]
    assert "You have signed out" in client.get(response["Location"]).content.decode()
    assert client.get(flow_url("home"))["Location"] == flow_url("login")


def test_logout_follows_a_safe_next_only(demo: Tenant) -> None:
    client = Client()
    sign_in(client, "alice", "alice-demo-pass")
    response = client.post(flow_url("logout"), {"next": "/t/mightybank/login/"})
    assert response["Location"] == "/t/mightybank/login/"
    sign_in(client, "alice", "alice-demo-pass")
    response = client.post(flow_url("logout"), {"next": "https://evil.example/"})
    assert response["Location"] == flow_url("logout") + "?done=1"


def test_posts_without_a_csrf_token_are_refused(demo: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(flow_url("login"), {"identifier": "alice"}).status_code == 403
    assert SESSION_LOGIN not in client.session
    # With the token from the page, the same request goes through.
    client.get(flow_url("login"))
    token = client.cookies["csrftoken"].value
    response = client.post(flow_url("login"), {"identifier": "alice", "csrfmiddlewaretoken": token})
    assert response.status_code == 303
    assert client.post(flow_url("password"), {"password": "alice-demo-pass"}).status_code == 403
    assert "_auth_user_id" not in client.session
    response = client.post(flow_url("password"), {"password": "alice-demo-pass", "csrfmiddlewaretoken": token})
    assert response.status_code == 303
    assert client.post(flow_url("logout")).status_code == 403
    assert "_auth_user_id" in client.session


def test_unknown_tenant_is_404(db: None) -> None:
    assert Client().get(flow_url("login", "no-such-tenant")).status_code == 404


def test_the_step_registry_chooses_the_next_step(demo: Tenant) -> None:
    @steps.register_step("test-upstream")
    class UpstreamStep(steps.Step):
        priority = 10

        @classmethod
        def applies(cls, *, request: HttpRequest, tenant: Tenant, identifier: str) -> bool:
            return identifier.lower().endswith("@upstream.example")

        @classmethod
        def url(cls, *, request: HttpRequest, tenant: Tenant, next_url: str) -> str:
            return f"/t/{tenant.slug}/upstream-test/?{urlencode({'next': next_url})}"

    try:
        # Other apps register theirs too (idp.federation: "upstream"); only ours is new here.
        assert {"password", "test-upstream"} <= set(steps.registered_steps())
        with pytest.raises(ValueError, match="already registered"):
            steps.register_step("test-upstream")(type("Other", (steps.Step,), {}))
        client = Client()
        response = submit_identifier(client, "Someone@Upstream.example", next_url="/t/mightybank/x")
        assert response["Location"] == "/t/mightybank/upstream-test/?next=%2Ft%2Fmightybank%2Fx"
        assert client.session[SESSION_LOGIN]["step"] == "test-upstream"
        # The password step refuses an identifier the registry sent elsewhere.
        assert client.get(flow_url("password"))["Location"] == flow_url("login")
        response = submit_identifier(client, "alice@acme.example")
        assert response["Location"] == flow_url("password")
    finally:
        steps.unregister_step("test-upstream")
    assert "test-upstream" not in steps.registered_steps() and "password" in steps.registered_steps()
