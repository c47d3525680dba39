"""Token exchange, introspection, revocation, client credentials and logout."""

from __future__ import annotations

import pytest
from django.test import Client

from idp.oidc.models import AccessToken
from idp.oidc.services import application_create
from tenants.actors import SYSTEM
from tenants.services import tenant_create
from tests.support.lookups import org
from tests.support.oidc import DEMO_WEB, basic, jwt_claims, jwt_header, signed_in_flow, userinfo

pytestmark = pytest.mark.django_db
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
AT_TYPE = "urn:ietf:params:oauth:token-type:access_token"


def alice_tokens(demo, pick="acme-bank", scope="openid profile organization offline_access"):
    flow = signed_in_flow(demo, "alice")
    return flow.token(flow.code_from(flow.pick(flow.authorize(scope=scope), pick))).json()


def exchange(tenant, subject, *, auth=DEMO_WEB[:2], **extra):
    data = {"grant_type": EXCHANGE, "subject_token": subject, "subject_token_type": AT_TYPE, **extra}
    return Client().post(f"/t/{tenant.slug}/oauth/token/", data, HTTP_AUTHORIZATION=basic(*auth))


def test_token_exchange_switches_organization_and_the_refresh_token_stays_bound(demo) -> None:
    tokens = alice_tokens(demo)
    response = exchange(demo, tokens["access_token"], organization="mightybank-americas")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["issued_token_type"] == AT_TYPE and body["token_type"] == "Bearer"
    americas = org(demo, "mightybank-americas")
    assert jwt_claims(body["access_token"])["org_id"] == str(americas.pk)
    assert userinfo(demo, body["access_token"]).json()["org_id"] == str(americas.pk)
    refreshed = (
        Client()
        .post(
            f"/t/{demo.slug}/oauth/token/",
            {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]},
            HTTP_AUTHORIZATION=basic(*DEMO_WEB[:2]),
        )
        .json()
    )
    assert jwt_claims(refreshed["access_token"])["org_id"] == str(americas.pk)


@pytest.mark.parametrize("target", ["mexbanco", "my-corporation", "nope"])
def test_token_exchange_to_an_ineligible_organization_is_refused(demo, target) -> None:
    tokens = alice_tokens(demo)
    before = AccessToken.objects.count()
    response = exchange(demo, tokens["access_token"], organization=target)
    assert response.status_code == 400 and response.json()["error"] == "invalid_target"
    assert AccessToken.objects.count() == before


def test_token_exchange_cannot_add_scopes_or_use_another_clients_token(demo) -> None:
    tokens = alice_tokens(demo, scope="openid organization")
    response = exchange(demo, tokens["access_token"], organization="mightybank-americas", scope="openid email")
    assert response.json()["error"] == "invalid_scope"
    application_create(
        actor=SYSTEM,
        tenant=demo,
        client_id="other-web",
        client_secret="other-secret",
        redirect_uris=[DEMO_WEB[2]],
        first_party=True,
    )
    response = exchange(demo, tokens["access_token"], auth=("other-web", "other-secret"), organization="acme-bank")
    assert response.json()["error"] == "invalid_grant"
    response = exchange(demo, tokens["access_token"], auth=("demo-web", "wrong"), organization="acme-bank")
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_carol_can_switch_to_the_organization_she_acts_for(demo) -> None:
    flow = signed_in_flow(demo, "carol")
    tokens = flow.token(flow.code_from(flow.pick(flow.authorize(), "contractor"))).json()
    body = exchange(demo, tokens["access_token"], organization="my-corporation").json()
    claims = jwt_claims(body["access_token"])
    assert claims["org_id"] == str(org(demo, "my-corporation").pk)
    assert claims["org_acting_for"] == str(org(demo, "contractor").pk)


def introspect(tenant, token, auth=DEMO_WEB[:2]):
    return Client().post(f"/t/{tenant.slug}/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=basic(*auth))


def test_introspection_speaks_only_to_the_client_the_token_was_issued_to(demo) -> None:
    tokens = alice_tokens(demo)
    body = introspect(demo, tokens["access_token"]).json()
    assert body["active"] is True and body["client_id"] == "demo-web"
    assert body["org_id"] == str(org(demo, "acme-bank").pk) and body["iss"] == "http://127.0.0.1:8000/t/mightybank"
    application_create(
        actor=SYSTEM, tenant=demo, client_id="other-web", client_secret="other-secret", redirect_uris=[DEMO_WEB[2]]
    )
    assert introspect(demo, tokens["access_token"], auth=("other-web", "other-secret")).json() == {"active": False}
    assert introspect(demo, tokens["access_token"], auth=("demo-web", "wrong")).status_code == 401
    other = tenant_create(actor=SYSTEM, slug="otherbank")
    assert introspect(other, tokens["access_token"]).status_code == 401  # demo-web is not a client there
    assert introspect(demo, "garbage").json() == {"active": False}


def test_revocation_ends_the_token_and_only_for_its_own_client(demo) -> None:
    tokens = alice_tokens(demo)
    application_create(
        actor=SYSTEM, tenant=demo, client_id="other-web", client_secret="other-secret", redirect_uris=[DEMO_WEB[2]]
    )
    url = f"/t/{demo.slug}/oauth/revoke/"
    Client().post(url, {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic("other-web", "other-secret"))
    assert userinfo(demo, tokens["access_token"]).status_code == 200
    response = Client().post(url, {"token": tokens["access_token"]}, HTTP_AUTHORIZATION=basic(*DEMO_WEB[:2]))
    assert response.status_code == 200
    assert userinfo(demo, tokens["access_token"]).status_code == 401
    assert introspect(demo, tokens["access_token"]).json() == {"active": False}


def test_client_credentials_issue_a_jwt_about_the_client(demo) -> None:
    application_create(
        actor=SYSTEM, tenant=demo, client_id="svc", client_secret="svc-secret", grant_type="client_credentials"
    )
    response = Client().post(
        f"/t/{demo.slug}/oauth/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic("svc", "svc-secret"),
    )
    assert response.status_code == 200, response.content
    token = response.json()["access_token"]
    assert jwt_header(token)["typ"] == "at+jwt"
    claims = jwt_claims(token)
    assert claims["sub"] == "svc" and claims["client_id"] == "svc" and not [k for k in claims if k.startswith("org_")]
    bad = Client().post(
        f"/t/{demo.slug}/oauth/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic("svc", "nope")
    )
    assert bad.status_code == 401


def test_rp_initiated_logout_ends_the_session(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    tokens = flow.token(flow.code_from(flow.authorize())).json()
    response = flow.browser.get(
        f"/t/{demo.slug}/oauth/logout/",
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:8765/", "state": "bye"},
    )
    assert response.status_code == 302, response.content[:300]
    assert response["Location"].startswith("http://127.0.0.1:8765/") and "state=bye" in response["Location"]
    again = flow.authorize()
    assert again["Location"].startswith("/t/mightybank/login/")


def test_logout_refuses_an_unregistered_post_logout_redirect(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    tokens = flow.token(flow.code_from(flow.authorize())).json()
    response = flow.browser.get(
        f"/t/{demo.slug}/oauth/logout/",
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert response.status_code == 400 or "evil.example" not in response.get("Location", "")
