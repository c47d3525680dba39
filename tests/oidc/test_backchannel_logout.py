"""OpenID Connect Back-Channel Logout 1.0 with Canopy as the OP.

A real relying-party HTTP server on 127.0.0.1 receives the POSTed logout tokens; each token is
checked with joserfc (an independent library) against Canopy's published JWKS.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.account.models import SessionRecord
from idp.account.services import session_sign_out, sessions_sign_out_others
from idp.federation.models import UpstreamIdP
from idp.flow.revocation import revoke_everything
from idp.oidc.logout_token import LOGOUT_EVENT
from idp.oidc.models import Application, RefreshToken
from idp.oidc.services import application_create
from tenants.actors import SYSTEM
from tenants.audit import AuditEvent
from tenants.models import Tenant, User
from tests.support.api import client_for
from tests.support.federation import dana_signs_in, partner_signout
from tests.support.federation_saml import deliver, initiate, saml_login, session_index
from tests.support.oidc import authorize_url, basic, jwt_claims, jwt_header, pkce, query_of
from tests.support.partners import PartnerIdP, PartnerOP
from tests.support.worlds import World

pytestmark = pytest.mark.django_db(transaction=True)

CALLBACK = "http://127.0.0.1:8765/callback"
SECRET = "rp-secret-for-tests"  # noqa: S105 - a test client's secret


@dataclass
class RelyingParty:
    """A back-channel logout endpoint of a relying party: every POST, by path."""

    url: str
    received: list[tuple[str, dict[str, list[str]]]] = field(default_factory=list)
    status: int = 200

    def tokens(self, path: str) -> list[str]:
        return [form["logout_token"][0] for p, form in self.received if p == path]

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def rp() -> Iterator[RelyingParty]:
    party = RelyingParty(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            party.received.append((self.path, form))
            self.send_response(party.status)
            self.send_header("Cache-Control", "no-store")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    party.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield party
    server.shutdown()
    server.server_close()


@pytest.fixture
def canopy(live_server: Any, settings: Any) -> str:
    settings.CANOPY_BASE_URL = live_server.url  # the issuer and JWKS the RP checks against
    return str(live_server.url)


def make_client(tenant: Tenant, client_id: str, *, uri: str = "", session_required: bool = False) -> Application:
    app, _ = application_create(
        actor=SYSTEM,
        tenant=tenant,
        client_id=client_id,
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[CALLBACK],
        first_party=True,
        client_secret=SECRET,
        backchannel_logout_uri=uri,
        backchannel_logout_session_required=session_required,
    )
    return app


def password_sign_in(tenant: Tenant, user: User) -> Client:
    """A browser after a password sign-in, with the login session's sid as the journey records it."""
    client = Client()
    client.force_login(user)
    session = client.session
    session["canopy.auth"] = {
        "tenant_id": tenant.pk,
        "user_id": user.pk,
        "auth_time": int(time.time()),
        "amr": ["pwd"],
        "acr": "urn:canopy:acr:pwd",
        "sid": secrets.token_urlsafe(24),
    }
    session.save()
    return client


def tokens_for(browser: Client, tenant: Tenant, app: Application) -> dict[str, Any]:
    """The authorization-code flow of ``app`` in this browser: the token response."""
    verifier, challenge = pkce()
    path = authorize_url(
        tenant,
        response_type="code",
        client_id=app.client_id,
        redirect_uri=CALLBACK,
        scope="openid offline_access",
        state="s",
        nonce="n-" + secrets.token_urlsafe(8),
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    back = browser.get(path)
    assert back.status_code == 302 and back["Location"].startswith(CALLBACK), back
    answer = Client().post(
        f"/t/{tenant.slug}/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": query_of(back["Location"])["code"],
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION=basic(app.client_id, SECRET),
    )
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def check_logout_token(
    token: str, *, canopy: str, tenant: Tenant, app: Application, jwks: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What an RP checks (spec section 2.6), with joserfc and Canopy's published keys."""
    issuer = f"{canopy}/t/{tenant.slug}"
    if jwks is None:
        config = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
        jwks = requests.get(config["jwks_uri"], timeout=10).json()
    keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]  # the JWKS document as published
    decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt"
    claims = dict(decoded.claims)
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": app.client_id},
        iat={"essential": True},
        exp={"essential": True},
        jti={"essential": True},
    ).validate(claims)
    assert claims["events"] == {LOGOUT_EVENT: {}}
    assert "nonce" not in claims
    assert claims["exp"] - claims["iat"] <= 300
    return claims


def test_discovery_advertises_back_channel_logout(world_a: World, canopy: str) -> None:
    config = requests.get(f"{canopy}/t/{world_a.tenant.slug}/.well-known/openid-configuration", timeout=10).json()
    assert config["backchannel_logout_supported"] is True
    assert config["backchannel_logout_session_supported"] is True


def test_the_logout_page_tells_the_rp_with_the_id_tokens_sid(world_a: World, rp: RelyingParty, canopy: str) -> None:
    tenant = world_a.tenant
    app = make_client(tenant, "rp-a", uri=f"{rp.url}/a", session_required=True)
    browser = password_sign_in(tenant, world_a.member)
    issued = tokens_for(browser, tenant, app)
    id_claims = jwt_claims(issued["id_token"])
    assert id_claims["sid"] == browser.session["canopy.auth"]["sid"]

    answer = browser.post(f"/t/{tenant.slug}/logout/")

    assert answer.status_code == 303
    rp.wait_for(1)
    [token] = rp.tokens("/a")
    claims = check_logout_token(token, canopy=canopy, tenant=tenant, app=app)
    assert claims["sid"] == id_claims["sid"]
    assert claims["sub"] == id_claims["sub"] == str(world_a.member.pk)
    refresh = RefreshToken.objects.get(application=app, user=world_a.member)
    assert refresh.revoked is not None  # the session's refresh token is gone too


def test_a_refreshed_id_token_keeps_the_sid(world_a: World, canopy: str) -> None:
    tenant = world_a.tenant
    app = make_client(tenant, "rp-refresh")
    browser = password_sign_in(tenant, world_a.member)
    issued = tokens_for(browser, tenant, app)
    refreshed = Client().post(
        f"/t/{tenant.slug}/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"]},
        HTTP_AUTHORIZATION=basic(app.client_id, SECRET),
    )
    assert refreshed.status_code == 200, refreshed.content
    assert jwt_claims(refreshed.json()["id_token"])["sid"] == jwt_claims(issued["id_token"])["sid"]


def test_rp_initiated_logout_of_one_rp_tells_the_other_rps_of_the_session(
    world_a: World, world_b: World, rp: RelyingParty, canopy: str
) -> None:
    tenant = world_a.tenant
    rp_a = make_client(tenant, "rp-a", uri=f"{rp.url}/a")
    rp_b = make_client(tenant, "rp-b", uri=f"{rp.url}/b", session_required=True)
    silent = make_client(tenant, "rp-silent")  # no back-channel URI: never called
    elsewhere = make_client(world_b.tenant, "rp-other-tenant", uri=f"{rp.url}/other")
    browser = password_sign_in(tenant, world_a.member)
    id_token = tokens_for(browser, tenant, rp_a)["id_token"]
    sid = jwt_claims(tokens_for(browser, tenant, rp_b)["id_token"])["sid"]
    tokens_for(browser, tenant, silent)
    other_browser = password_sign_in(world_b.tenant, world_b.member)
    tokens_for(other_browser, world_b.tenant, elsewhere)
    bystander = password_sign_in(tenant, world_a.admin)  # another session of the tenant: its tokens stay
    tokens_for(bystander, tenant, rp_a)

    answer = browser.get(
        f"/t/{tenant.slug}/oauth/logout/?"
        + f"id_token_hint={id_token}&client_id=rp-a&post_logout_redirect_uri={CALLBACK}&state=bye"
    )

    assert answer.status_code == 302 and answer["Location"].startswith(CALLBACK)
    rp.wait_for(2)
    time.sleep(0.3)  # anything more would have arrived by now
    assert sorted(path for path, _ in rp.received) == ["/a", "/b"]
    for path, app in (("/a", rp_a), ("/b", rp_b)):
        [token] = rp.tokens(path)
        claims = check_logout_token(token, canopy=canopy, tenant=tenant, app=app)
        assert claims["sid"] == sid and claims["sub"] == str(world_a.member.pk)
    assert RefreshToken.objects.filter(user=world_a.admin, revoked__isnull=True).exists()


def test_an_rp_that_is_down_does_not_trouble_the_user_and_the_failure_is_audited(
    world_a: World, rp: RelyingParty, canopy: str
) -> None:
    tenant = world_a.tenant
    rp.status = 503
    app = make_client(tenant, "rp-down", uri=f"{rp.url}/down")
    browser = password_sign_in(tenant, world_a.member)
    tokens_for(browser, tenant, app)

    answer = browser.post(f"/t/{tenant.slug}/logout/")

    assert answer.status_code == 303
    assert "canopy.auth" not in browser.session
    event = AuditEvent.objects.get(tenant=tenant, action="oidc_client.backchannel_logout_failed")
    assert event.target_id == str(app.pk)
    assert event.data["problem"] == "answered HTTP 503"
    assert "logout_token" not in str(event.data)


def test_signing_out_other_sessions_tells_their_rps(world_a: World, rp: RelyingParty, canopy: str) -> None:
    tenant = world_a.tenant
    app = make_client(tenant, "rp-a", uri=f"{rp.url}/a")
    here, there = password_sign_in(tenant, world_a.member), password_sign_in(tenant, world_a.member)
    tokens_for(here, tenant, app)
    sid_there = jwt_claims(tokens_for(there, tenant, app)["id_token"])["sid"]

    sessions_sign_out_others(tenant=tenant, user=world_a.member, current_key=here.session.session_key)

    assert "canopy.auth" not in there.session and "canopy.auth" in here.session
    rp.wait_for(1)
    [token] = rp.tokens("/a")
    assert check_logout_token(token, canopy=canopy, tenant=tenant, app=app)["sid"] == sid_there


def test_ending_one_session_on_the_account_page_tells_only_its_rps(
    world_a: World, rp: RelyingParty, canopy: str
) -> None:
    tenant = world_a.tenant
    app = make_client(tenant, "rp-a", uri=f"{rp.url}/a", session_required=True)
    kept, ended = password_sign_in(tenant, world_a.member), password_sign_in(tenant, world_a.member)
    tokens_for(kept, tenant, app)
    sid = jwt_claims(tokens_for(ended, tenant, app)["id_token"])["sid"]
    record = SessionRecord.objects.get(session_key=ended.session.session_key)

    session_sign_out(tenant=tenant, user=world_a.member, record=record)

    rp.wait_for(1)
    [token] = rp.tokens("/a")
    assert check_logout_token(token, canopy=canopy, tenant=tenant, app=app)["sid"] == sid
    live = RefreshToken.objects.filter(application=app, revoked__isnull=True)
    assert list(live.values_list("sid", flat=True)) == [kept.session["canopy.auth"]["sid"]]


def test_a_password_reset_tells_every_rp_of_the_user(world_a: World, rp: RelyingParty, canopy: str) -> None:
    tenant = world_a.tenant
    app = make_client(tenant, "rp-a", uri=f"{rp.url}/a")
    tokens_for(password_sign_in(tenant, world_a.member), tenant, app)
    tokens_for(password_sign_in(tenant, world_a.member), tenant, app)

    revoke_everything(world_a.member)

    rp.wait_for(1)
    [token] = rp.tokens("/a")  # without sid required: one token naming the user ends all sessions
    claims = check_logout_token(token, canopy=canopy, tenant=tenant, app=app)
    assert claims["sub"] == str(world_a.member.pk) and "sid" not in claims


def test_the_partner_signing_dana_out_tells_canopys_rps(
    world_a: World, backchannel_upstream: UpstreamIdP, partner: PartnerOP, rp: RelyingParty
) -> None:
    tenant = world_a.tenant
    app = make_client(tenant, "rp-a", uri=f"{rp.url}/a")
    browser = dana_signs_in(world_a)  # the real login journey: it records the sid
    id_claims = jwt_claims(tokens_for(browser, tenant, app)["id_token"])

    result = partner_signout(partner, by="sid")

    assert result["ended"] == 1
    rp.wait_for(1)
    [token] = rp.tokens("/a")
    from django.conf import settings

    claims = check_logout_token(token, canopy=settings.CANOPY_BASE_URL, tenant=tenant, app=app)
    assert claims["sid"] == id_claims["sid"] and claims["sub"] == id_claims["sub"]


def test_the_saml_partner_signing_dana_out_tells_canopys_rps(
    world_a: World, strict_partner: PartnerIdP, rp: RelyingParty, settings: Any
) -> None:
    tenant = world_a.tenant
    app = make_client(tenant, "rp-a", uri=f"{rp.url}/a")
    browser, partner_browser = Client(), requests.Session()
    saml_login(browser, partner_browser)  # the real journey through the SAML partner
    id_claims = jwt_claims(tokens_for(browser, tenant, app)["id_token"])
    order = initiate(strict_partner, binding="redirect", name_id="dana-0001", session_index=session_index(browser))

    answer = deliver(browser, order)

    assert answer.status_code == 302 and "canopy.auth" not in browser.session
    rp.wait_for(1)
    [token] = rp.tokens("/a")
    jwks = Client().get(f"/t/{tenant.slug}/jwks.json").json()  # the live server is not running here
    claims = check_logout_token(token, canopy=settings.CANOPY_BASE_URL, tenant=tenant, app=app, jwks=jwks)
    assert claims["sid"] == id_claims["sid"]


def test_the_back_channel_uri_follows_the_redirect_uri_rule(world_a: World) -> None:
    with pytest.raises(ValidationError) as caught:
        make_client(world_a.tenant, "rp-plain-http", uri="http://rp.example/logout")
    assert "backchannel_logout_uri" in caught.value.message_dict
    call_command(
        "create_oidc_client",
        "rp-cli",
        tenant=world_a.tenant.slug,
        redirect_uri=[CALLBACK],
        backchannel_logout_uri="https://rp.example/bcl",
    )
    assert Application.objects.get(client_id="rp-cli").backchannel_logout_uri == "https://rp.example/bcl"


def test_the_api_sets_the_back_channel_uri_and_refuses_a_bad_one(world_a: World) -> None:
    sam = client_for(world_a.tenant, "sam")
    bad = sam.post(
        "oidc-clients/",
        {"client_id": "rp-api", "redirect_uris": [CALLBACK], "backchannel_logout_uri": "http://rp.example/x"},
    )
    assert bad.status_code == 400
    assert "backchannel_logout_uri" in str(bad.json())
    assert not Application.objects.filter(client_id="rp-api").exists()
    good = sam.post(
        "oidc-clients/",
        {
            "client_id": "rp-api",
            "redirect_uris": [CALLBACK],
            "backchannel_logout_uri": "https://rp.example/bcl",
            "backchannel_logout_session_required": True,
        },
    )
    assert good.status_code == 201, good.content
    assert good.json()["backchannel_logout_uri"] == "https://rp.example/bcl"
    assert good.json()["backchannel_logout_session_required"] is True


def test_logout_token_header_names_its_type(world_a: World, rp: RelyingParty, canopy: str) -> None:
    app = make_client(world_a.tenant, "rp-a", uri=f"{rp.url}/a")
    browser = password_sign_in(world_a.tenant, world_a.member)
    tokens_for(browser, world_a.tenant, app)
    browser.post(f"/t/{world_a.tenant.slug}/logout/")
    rp.wait_for(1)
    assert jwt_header(rp.tokens("/a")[0])["typ"] == "logout+jwt"


@pytest.mark.celery_worker
def test_a_worker_process_delivers_the_logout_token(
    world_a: World, rp: RelyingParty, canopy: str, real_broker: str
) -> None:
    from idp.oidc.tasks import send_logout_token

    app = make_client(world_a.tenant, "rp-worker", uri=f"{rp.url}/w", session_required=True)

    result = send_logout_token.apply_async(args=(app.pk, world_a.member.pk, "sid-from-worker"), queue=real_broker)

    assert result.get(timeout=60) is True
    [token] = rp.tokens("/w")
    claims = jwt_claims(token)
    assert claims["aud"] == "rp-worker" and claims["sid"] == "sid-from-worker"
    assert jwt_header(token)["typ"] == "logout+jwt"


def test_a_re_authentication_keeps_the_login_sessions_sid(world_a: World) -> None:
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.test import RequestFactory

    from idp.flow.session import sign_in

    request = RequestFactory().get("/")
    SessionMiddleware(lambda r: None).process_request(request)  # type: ignore[arg-type, return-value]
    first = sign_in(request, user=world_a.member, tenant=world_a.tenant, amr=["pwd"], acr="urn:canopy:acr:pwd")
    again = sign_in(request, user=world_a.member, tenant=world_a.tenant, amr=["pwd", "otp"], acr="urn:canopy:acr:mfa")
    other = sign_in(request, user=world_a.admin, tenant=world_a.tenant, amr=["pwd"], acr="urn:canopy:acr:pwd")

    assert first.sid and again.sid == first.sid  # step-up: the same login session
    assert other.sid != first.sid  # another person: a new one
