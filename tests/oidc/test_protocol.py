"""The OpenID Provider through its HTTP endpoints: flows, organization claims, and the negatives.

Names follow the OpenID conformance modules where one exists (oidcc-*).
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from idp.oidc.models import AccessToken, Application, Grant, RefreshToken
from idp.oidc.services import application_create
from tenants.actors import SYSTEM
from tenants.services import tenant_create, user_create
from tests.support.lookups import org, user
from tests.support.oidc import (
    DEMO_WEB,
    ISSUER,
    Flow,
    jwt_claims,
    jwt_header,
    query_of,
    sign_in,
    signed_in_flow,
    userinfo,
)

pytestmark = pytest.mark.django_db


# --- discovery ----------------------------------------------------------------


def test_oidcc_discovery_issuer_and_endpoints_are_per_tenant_and_ignore_the_host_header(demo) -> None:
    response = Client().get("/t/mightybank/.well-known/openid-configuration", HTTP_HOST="evil.example:8000")
    assert response.status_code in (200, 400)
    response = Client().get("/t/mightybank/.well-known/openid-configuration", HTTP_X_FORWARDED_HOST="evil.example")
    data = response.json()
    assert data["issuer"] == ISSUER
    assert data["jwks_uri"] == f"{ISSUER}/jwks.json"
    assert data["authorization_response_iss_parameter_supported"] is True
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert Client().get("/t/no-such-tenant/.well-known/openid-configuration").status_code == 404


# --- organization selection -----------------------------------------------------


def test_single_membership_is_selected_silently(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    tokens = flow.token(flow.code_from(flow.authorize())).json()
    mexbanco = org(demo, "mexbanco")
    for token in (tokens["id_token"], tokens["access_token"]):
        claims = jwt_claims(token)
        assert claims["org_id"] == str(mexbanco.pk) and claims["org_name"] == "mexbanco"
        assert claims["org_ids"] == [str(mexbanco.pk)] and claims["org_names"] == ["mexbanco"]
    info = userinfo(demo, tokens["access_token"]).json()
    assert info["org_id"] == str(mexbanco.pk) and info["sub"] == str(user(demo, "bob").pk)


def test_several_memberships_show_the_picker_and_the_choice_lands_in_every_token(demo) -> None:
    flow = signed_in_flow(demo, "alice")
    response = flow.authorize()
    code = flow.code_from(flow.pick(response, "acme-bank"))
    tokens = flow.token(code).json()
    acme, americas = org(demo, "acme-bank"), org(demo, "mightybank-americas")
    id_claims = jwt_claims(tokens["id_token"])
    assert id_claims["org_id"] == str(acme.pk) and id_claims["org_name"] == "acme-bank"
    assert set(id_claims["org_ids"]) == {str(acme.pk), str(americas.pk)}
    assert "org_acting_for" not in id_claims
    assert jwt_claims(tokens["access_token"])["org_id"] == str(acme.pk)
    assert userinfo(demo, tokens["access_token"]).json()["org_name"] == "acme-bank"
    assert Grant.objects.count() == 0  # the code is gone once used
    assert AccessToken.objects.get().organization == acme


def test_acting_for_another_organization_says_so(demo) -> None:
    flow = signed_in_flow(demo, "carol")
    code = flow.code_from(flow.pick(flow.authorize(), "my-corporation"))
    claims = jwt_claims(flow.token(code).json()["id_token"])
    assert claims["org_id"] == str(org(demo, "my-corporation").pk)
    assert claims["org_acting_for"] == str(org(demo, "contractor").pk)
    assert claims["org_ids"] == [str(org(demo, "contractor").pk)]  # membership only


def test_client_preselects_with_the_organization_parameter_or_scope(demo) -> None:
    acme = org(demo, "acme-bank")
    flow = signed_in_flow(demo, "alice")
    code = flow.code_from(flow.authorize(organization="acme-bank"))
    assert jwt_claims(flow.token(code).json()["id_token"])["org_id"] == str(acme.pk)

    flow = signed_in_flow(demo, "alice")
    code = flow.code_from(flow.authorize(scope=f"openid organization:{acme.pk}"))
    assert jwt_claims(flow.token(code).json()["id_token"])["org_name"] == "acme-bank"


@pytest.mark.parametrize("requested", ["mexbanco", "my-corporation", "no-such-org"])
def test_preselecting_an_organization_the_user_may_not_act_for_is_an_error(demo, requested) -> None:
    flow = signed_in_flow(demo, "alice")
    response = flow.authorize(organization=requested)
    assert response.status_code == 302
    params = query_of(response["Location"])
    assert response["Location"].startswith(DEMO_WEB[2])
    assert params["error"] == "access_denied" and "code" not in params
    assert params["state"] == "st-1" and params["iss"] == ISSUER
    assert Grant.objects.count() == 0


def test_organization_of_another_tenant_is_refused(demo) -> None:
    other = tenant_create(actor=SYSTEM, slug="otherbank")
    from orgs.tree.services import organization_create

    foreign = organization_create(actor=SYSTEM, tenant=other, identifier="acme-bank-x", display_name="X")
    flow = signed_in_flow(demo, "alice")
    params = query_of(flow.authorize(organization=str(foreign.pk))["Location"])
    assert params["error"] == "access_denied"
    params = query_of(flow.authorize(scope=f"openid organization:{foreign.pk}")["Location"])
    assert params["error"] == "access_denied"


def test_two_organization_scopes_are_invalid_scope(demo) -> None:
    flow = signed_in_flow(demo, "alice")
    params = query_of(
        flow.authorize(scope="openid organization:acme-bank organization:mightybank-americas")["Location"]
    )
    assert params["error"] == "invalid_scope"


def test_organization_required_client_and_a_user_with_none_gets_an_error_page(demo) -> None:
    application_create(
        actor=SYSTEM,
        tenant=demo,
        client_id="needs-org",
        client_secret="needs-org-secret",
        redirect_uris=["http://127.0.0.1:8765/cb2"],
        organization_required=True,
        first_party=True,
    )
    user_create(actor=SYSTEM, tenant=demo, username="loner", password="loner-pass-1234")
    flow = signed_in_flow(
        demo, "loner", client_id="needs-org", secret="needs-org-secret", redirect_uri="http://127.0.0.1:8765/cb2"
    )
    response = flow.authorize(scope="openid")
    assert response.status_code == 403
    assert "requires you to belong to an organization" in response.content.decode()
    assert Grant.objects.count() == 0


def test_without_the_organization_scope_tokens_carry_no_organization_claims(demo) -> None:
    flow = signed_in_flow(demo, "alice")
    tokens = flow.token(flow.code_from(flow.authorize(scope="openid profile"))).json()
    assert not [k for k in jwt_claims(tokens["id_token"]) if k.startswith("org_")]


def test_claim_names_and_name_source_are_per_client(demo) -> None:
    app = Application.objects.get(client_id="demo-web")
    app.org_claim_names = {"org_id": "tenant_org_id"}
    app.org_name_source = Application.OrgNameSource.DISPLAY_NAME
    app.save()
    flow = signed_in_flow(demo, "bob")
    claims = jwt_claims(flow.token(flow.code_from(flow.authorize())).json()["id_token"])
    assert claims["tenant_org_id"] == str(org(demo, "mexbanco").pk) and "org_id" not in claims
    assert claims["org_name"] == "MexBanco"


# --- redirect URIs, PKCE, codes ----------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8765/callback/extra",
        "http://127.0.0.1:8765/callback?x=1",
        "http://127.0.0.1:8765/CALLBACK",
        "https://evil.example/callback",
        "http://user@127.0.0.1:8765/callback",
    ],
)
def test_oidcc_ensure_registered_redirect_uri(demo, redirect_uri) -> None:
    flow = signed_in_flow(demo, "bob", redirect_uri=redirect_uri)
    response = flow.authorize()
    assert response.status_code == 400
    assert "Location" not in response


def test_prompt_none_with_a_bad_redirect_uri_while_logged_out_does_not_redirect(demo) -> None:
    flow = Flow(demo, redirect_uri="https://evil.example/cb")
    response = flow.authorize(prompt="none")
    assert response.status_code == 400 and "Location" not in response


def test_public_client_without_pkce_is_refused(demo) -> None:
    flow = signed_in_flow(demo, "bob", client_id="demo-spa", secret="", redirect_uri="http://127.0.0.1:8766/callback")
    params = query_of(flow.authorize(pkce_on=False)["Location"])
    assert params["error"] == "invalid_request" and "code" not in params


def test_plain_pkce_is_refused(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    response = flow.authorize(pkce_on=False, code_challenge=flow.verifier, code_challenge_method="plain")
    params = query_of(response["Location"])
    assert params["error"] == "invalid_request" and "code" not in params


def test_wrong_code_verifier_is_invalid_grant(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    response = flow.token(flow.code_from(flow.authorize()), verifier="x" * 50)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert AccessToken.objects.count() == 0


def test_oidcc_codereuse_revokes_the_tokens_issued_from_the_code(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    code = flow.code_from(flow.authorize())
    first = flow.token(code).json()
    assert userinfo(demo, first["access_token"]).status_code == 200
    again = flow.token(code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert userinfo(demo, first["access_token"]).status_code == 401
    assert flow.refresh(first["refresh_token"]).status_code == 400


def test_expired_code_is_invalid_grant(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    code = flow.code_from(flow.authorize())
    Grant.objects.update(expires=timezone.now() - timedelta(seconds=1))
    response = flow.token(code)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_code_of_one_client_cannot_be_redeemed_by_another(demo) -> None:
    application_create(
        actor=SYSTEM,
        tenant=demo,
        client_id="other-web",
        client_secret="other-secret",
        redirect_uris=[DEMO_WEB[2]],
        first_party=True,
    )
    flow = signed_in_flow(demo, "bob")
    code = flow.code_from(flow.authorize())
    thief = Flow(demo, client_id="other-web", secret="other-secret")
    response = thief.token(code, verifier=flow.verifier)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_invalid_client(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    code = flow.code_from(flow.authorize())
    flow.secret = "not-the-secret"
    response = flow.token(code)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_client_secrets_are_stored_with_the_fast_keyed_hash(demo) -> None:
    stored = Application.objects.get(client_id="demo-web").client_secret
    assert stored.startswith("canopy_hmac_sha256$") and "demo-web-secret" not in stored


# --- refresh ----------------------------------------------------------------------


def test_refresh_keeps_the_organization_and_rotates(demo) -> None:
    flow = signed_in_flow(demo, "alice")
    tokens = flow.token(flow.code_from(flow.pick(flow.authorize(), "acme-bank"))).json()
    refreshed = flow.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    new = refreshed.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert jwt_claims(new["access_token"])["org_id"] == str(org(demo, "acme-bank").pk)
    assert jwt_claims(new["id_token"])["org_id"] == str(org(demo, "acme-bank").pk)
    # Reusing the rotated token is refused and revokes the family.
    reused = flow.refresh(tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert flow.refresh(new["refresh_token"]).status_code == 400
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0


# --- cross-tenant -------------------------------------------------------------------


def test_token_of_tenant_a_is_refused_at_tenant_b(demo) -> None:
    other = tenant_create(actor=SYSTEM, slug="otherbank")
    flow = signed_in_flow(demo, "bob")
    tokens = flow.token(flow.code_from(flow.authorize())).json()
    assert userinfo(demo, tokens["access_token"]).status_code == 200
    assert userinfo(other, tokens["access_token"]).status_code == 401
    # A client of tenant A does not exist at tenant B's token endpoint.
    code = flow.code_from(flow.authorize())
    flow.tenant = other
    response = flow.token(code)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_session_of_another_tenant_is_not_a_sign_in_here(demo) -> None:
    other = tenant_create(actor=SYSTEM, slug="otherbank")
    stranger = user_create(actor=SYSTEM, tenant=other, username="bob", password="other-bob-pass1")
    flow = Flow(demo)
    sign_in(flow.browser, other, stranger)
    response = flow.authorize()
    assert response.status_code == 302 and response["Location"].startswith("/t/mightybank/login/")


# --- OpenID Basic behaviours -----------------------------------------------------


def test_oidcc_ensure_request_with_nonce_acr_amr_auth_time(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    before = int(time.time())
    claims = jwt_claims(flow.token(flow.code_from(flow.authorize())).json()["id_token"])
    assert claims["nonce"] == "nonce-1"
    assert claims["iss"] == ISSUER and claims["aud"] == "demo-web"
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:canopy:acr:pwd"
    assert before - 5 <= claims["auth_time"] <= int(time.time())


def test_oidcc_prompt_none_not_logged_in(demo) -> None:
    response = Flow(demo).authorize(prompt="none")
    params = query_of(response["Location"])
    assert response["Location"].startswith(DEMO_WEB[2])
    assert params["error"] == "login_required" and params["state"] == "st-1"


def test_oidcc_prompt_none_logged_in(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    assert flow.code_from(flow.authorize(prompt="none"))


def test_oidcc_prompt_login_sends_the_user_to_sign_in_again(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    response = flow.authorize(prompt="login")
    location = response["Location"]
    assert location.startswith("/t/mightybank/login/") and "prompt=login" in location
    assert "prompt%3Dlogin" not in location  # the next URL no longer asks for it


def test_oidcc_max_age_1_forces_a_new_sign_in(demo) -> None:
    flow = Flow(demo)
    sign_in(flow.browser, demo, user(demo, "bob"), auth_time=int(time.time()) - 60)
    response = flow.authorize(max_age="1")
    assert response["Location"].startswith("/t/mightybank/login/") and "prompt=login" in response["Location"]
    fresh = Flow(demo)
    sign_in(fresh.browser, demo, user(demo, "bob"))
    assert fresh.code_from(fresh.authorize(max_age="3600"))


def test_oidcc_id_token_hint(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    id_token = flow.token(flow.code_from(flow.authorize())).json()["id_token"]
    assert flow.code_from(flow.authorize(prompt="none", id_token_hint=id_token))
    tampered = id_token[:-4] + ("AAAA" if not id_token.endswith("AAAA") else "BBBB")
    params = query_of(flow.authorize(prompt="none", id_token_hint=tampered)["Location"])
    assert params["error"] == "invalid_request"
    other = signed_in_flow(demo, "alice")
    params = query_of(other.authorize(prompt="none", id_token_hint=id_token, organization="acme-bank")["Location"])
    assert params["error"] == "login_required"


def test_oidcc_claims_essential_standard_claim_by_claims_parameter(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    claims_param = json.dumps({"id_token": {"email": {"essential": True}}})
    claims = jwt_claims(
        flow.token(flow.code_from(flow.authorize(scope="openid", claims=claims_param))).json()["id_token"]
    )
    assert claims["email"] == "bob@mexbanco.example"
    assert "name" not in claims


def test_oidcc_response_mode_form_post(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    response = flow.authorize(response_mode="form_post")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'action="{DEMO_WEB[2]}"' in html and 'name="code"' in html and 'name="iss"' in html


def test_es256_client_gets_es256_id_tokens(demo) -> None:
    application_create(
        actor=SYSTEM,
        tenant=demo,
        client_id="ec-web",
        client_secret="ec-secret",
        redirect_uris=[DEMO_WEB[2]],
        first_party=True,
        algorithm="ES256",
    )
    flow = signed_in_flow(demo, "bob", client_id="ec-web", secret="ec-secret")
    tokens = flow.token(flow.code_from(flow.authorize())).json()
    header = jwt_header(tokens["id_token"])
    jwks = Client().get("/t/mightybank/jwks.json").json()
    assert header["alg"] == "ES256" and header["kid"] in {k["kid"] for k in jwks["keys"] if k["kty"] == "EC"}


def test_third_party_client_asks_for_consent_and_deny_is_access_denied(demo) -> None:
    flow = signed_in_flow(demo, "bob", client_id="demo-spa", secret="", redirect_uri="http://127.0.0.1:8766/callback")
    page = flow.authorize()
    assert page.status_code == 200 and "would like to" in page.content.decode()
    form = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    denied = flow.browser.post(page.wsgi_request.get_full_path(), {**form})
    params = query_of(denied["Location"])
    assert params["error"] == "access_denied"
    page = flow.authorize()  # denying ended that request; start again and allow
    form = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    allowed = flow.browser.post(page.wsgi_request.get_full_path(), {**form, "allow": "Authorize"})
    code = query_of(allowed["Location"])["code"]
    tokens = flow.token(code).json()
    assert jwt_claims(tokens["id_token"])["org_id"] == str(org(demo, "mexbanco").pk)
    assert urlsplit(allowed["Location"]).netloc == "127.0.0.1:8766"


def test_prompt_select_account_shows_the_picker_even_for_one_organization(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    response = flow.authorize(prompt="select_account")
    code = flow.code_from(flow.pick(response, "mexbanco"))
    assert jwt_claims(flow.token(code).json()["id_token"])["org_name"] == "mexbanco"


def test_prompt_consent_asks_again_after_an_earlier_grant(demo) -> None:
    flow = signed_in_flow(demo, "bob", client_id="demo-spa", secret="", redirect_uri="http://127.0.0.1:8766/callback")
    page = flow.authorize()
    form = {k: v for k, v in page.context["form"].initial.items() if v is not None}
    allowed = flow.browser.post(page.wsgi_request.get_full_path(), {**form, "allow": "Authorize"})
    flow.token(query_of(allowed["Location"])["code"])
    assert flow.authorize().status_code == 302  # remembered: no second consent page
    assert flow.authorize(prompt="consent").status_code == 200  # asked again


def test_create_oidc_client_command(demo) -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "create_oidc_client",
        "cli-app",
        "--tenant",
        "mightybank",
        "--redirect-uri",
        "https://app.example/cb",
        "--alg",
        "ES256",
        "--org-required",
        stdout=out,
    )
    app = Application.objects.get(client_id="cli-app")
    assert app.tenant == demo and app.algorithm == "ES256" and app.organization_required
    assert "client_secret: " in out.getvalue()
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="redirect_uris"):
        call_command(
            "create_oidc_client",
            "bad-app",
            "--tenant",
            "mightybank",
            "--redirect-uri",
            "not a url",
            stdout=io.StringIO(),
        )
    assert not Application.objects.filter(client_id="bad-app").exists()


@pytest.mark.setting("oidc_scopes.scopes")
def test_the_tenant_root_defines_which_claims_each_scope_releases(demo) -> None:
    from orgs.inheritance.services import settings_override_set

    settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        section="oidc_scopes",
        values={"scopes": {"openid": ["sub"], "profile": ["given_name"], "contact": ["email"]}},
    )
    flow = signed_in_flow(demo, "bob")
    claims = jwt_claims(flow.token(flow.code_from(flow.authorize(scope="openid profile contact"))).json()["id_token"])
    assert claims["given_name"] == "Bob" and claims["email"] == "bob@mexbanco.example"
    assert "family_name" not in claims and "name" not in claims
    # A scope nobody defined is still refused.
    params = query_of(flow.authorize(scope="openid salary")["Location"])
    assert params["error"] == "invalid_scope"
