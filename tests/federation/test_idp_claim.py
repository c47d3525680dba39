"""The upstream of a federated sign-in is a field on the grant and tokens (not a marker in ``amr``) and
reaches the ID token, a refreshed ID token, userinfo and introspection as the ``idp`` claim."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.apps import apps
from django.test import Client
from django.utils import timezone

from idp.federation.models import UpstreamIdP
from idp.oidc.models import AccessToken, Application, Grant, RefreshToken
from idp.oidc.services import application_create
from tenants.actors import SYSTEM
from tests.support.federation import federated_login
from tests.support.oidc import basic, jwt_claims, pkce
from tests.support.partners import PartnerOP
from tests.support.worlds import World

RP_REDIRECT = "http://127.0.0.1:8765/callback"


def confidential_rp(world: World, client_id: str) -> None:
    """A first-party confidential client whose secret is ``<client_id>-secret``."""
    application_create(
        actor=SYSTEM,
        tenant=world.tenant,
        client_id=client_id,
        client_secret=f"{client_id}-secret",
        client_type=Application.CLIENT_CONFIDENTIAL,
        redirect_uris=[RP_REDIRECT],
        first_party=True,
    )


def redeem_code(slug: str, client_id: str, code: str, verifier: str) -> Any:
    return Client().post(
        f"/t/{slug}/oauth/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": RP_REDIRECT, "code_verifier": verifier},
        HTTP_AUTHORIZATION=basic(client_id, f"{client_id}-secret"),
    )


def introspect(slug: str, client_id: str, token: str) -> dict[str, Any]:
    response = Client().post(
        f"/t/{slug}/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=basic(client_id, f"{client_id}-secret")
    )
    return dict(response.json())


def federated_tokens(world: World) -> dict[str, str]:
    slug = world.tenant.slug
    confidential_rp(world, "partner-rp")
    client = Client()
    verifier, challenge = pkce()
    authorize = (
        f"/t/{slug}/oauth/authorize/?client_id=partner-rp&response_type=code&scope=openid+profile"
        f"&redirect_uri={RP_REDIRECT}&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256"
    )
    assert federated_login(client, requests.Session(), world, next_url=authorize).status_code == 302
    answered = client.get(authorize)
    code = parse_qs(urlsplit(answered["Location"]).query)["code"][0]
    grant = Grant.objects.get(tenant=world.tenant, code=code)
    assert (grant.amr, grant.upstream) == ("fed", "partner")  # no marker left in amr
    tokens = redeem_code(slug, "partner-rp", code, verifier)
    assert tokens.status_code == 200, tokens.content
    return dict(tokens.json())


@pytest.mark.django_db
def test_userinfo_introspection_and_refresh_name_the_upstream(
    world_a: World, upstream: UpstreamIdP, partner: PartnerOP
) -> None:
    slug = world_a.tenant.slug
    tokens = federated_tokens(world_a)
    assert jwt_claims(tokens["id_token"])["idp"] == partner.url
    access = AccessToken.objects.get(tenant=world_a.tenant, application__client_id="partner-rp")
    assert (access.amr, access.upstream) == ("fed", "partner")

    info = Client().get(f"/t/{slug}/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert info.status_code == 200 and info.json()["idp"] == partner.url
    introspected = introspect(slug, "partner-rp", tokens["access_token"])
    assert introspected["active"] is True and introspected["idp"] == partner.url

    refreshed = Client().post(
        f"/t/{slug}/oauth/token/",
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        HTTP_AUTHORIZATION=basic("partner-rp", "partner-rp-secret"),
    )
    assert refreshed.status_code == 200, refreshed.content
    claims = jwt_claims(refreshed.json()["id_token"])
    assert claims["idp"] == partner.url and claims["amr"] == ["fed"]
    newest = RefreshToken.objects.filter(tenant=world_a.tenant, revoked__isnull=True).latest("pk")
    assert newest.upstream == "partner"


@pytest.mark.django_db
def test_a_password_sign_in_has_no_idp_claim_anywhere(world_a: World) -> None:
    slug = world_a.tenant.slug
    confidential_rp(world_a, "local-rp")
    client = Client()
    client.force_login(world_a.member)
    from idp.flow.session import SESSION_AUTH

    session = client.session
    session[SESSION_AUTH] = {
        "tenant_id": world_a.tenant.pk,
        "user_id": world_a.member.pk,
        "auth_time": int(timezone.now().timestamp()),
        "amr": ["pwd"],
        "acr": "urn:canopy:acr:pwd",
    }
    session.save()
    verifier, challenge = pkce()
    answered = client.get(
        f"/t/{slug}/oauth/authorize/?client_id=local-rp&response_type=code&scope=openid&redirect_uri={RP_REDIRECT}"
        f"&state=s&nonce=n&code_challenge={challenge}&code_challenge_method=S256"
    )
    code = parse_qs(urlsplit(answered["Location"]).query)["code"][0]
    tokens = redeem_code(slug, "local-rp", code, verifier).json()
    assert "idp" not in jwt_claims(tokens["id_token"])
    info = Client().get(f"/t/{slug}/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert "idp" not in info
    introspected = introspect(slug, "local-rp", tokens["access_token"])
    assert introspected["active"] is True and "idp" not in introspected


@pytest.mark.django_db
def test_the_migration_moves_an_old_amr_marker_into_the_field(world_a: World) -> None:
    app, _secret = application_create(
        actor=SYSTEM,
        tenant=world_a.tenant,
        client_id="old-rp",
        client_secret="old-rp-secret",  # noqa: S106 - a test fixture
        client_type=Application.CLIENT_CONFIDENTIAL,
        redirect_uris=[RP_REDIRECT],
    )
    grant = Grant.objects.create(
        tenant=world_a.tenant,
        application=app,
        user=world_a.member,
        code="old-code",
        expires=timezone.now() + timedelta(minutes=1),
        redirect_uri=RP_REDIRECT,
        amr="fed upstream:partner",
    )
    migration = importlib.import_module("idp.oidc.migrations.0002_upstream")
    migration.move_marker(apps, None)
    grant.refresh_from_db()
    assert (grant.amr, grant.upstream) == ("fed", "partner")
