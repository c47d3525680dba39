"""Signing-key rotation as relying parties see it, and opaque access tokens."""

from __future__ import annotations

import pytest
from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from idp.oidc import jws
from idp.oidc.models import Application
from tenants.actors import SYSTEM
from tenants.services import signing_keys_rotate
from tests.support.oidc import ISSUER, jwt_header, signed_in_flow, userinfo

pytestmark = pytest.mark.django_db


ALGORITHMS = ["RS256", "ES256"]


def jwks() -> KeySet:
    return KeySet.import_key_set(Client().get("/t/mightybank/jwks.json").json())


def test_tokens_signed_before_a_rotation_still_verify_and_new_ones_use_the_new_key(demo) -> None:
    flow = signed_in_flow(demo, "bob")
    old = flow.token(flow.code_from(flow.authorize())).json()["id_token"]
    old_kid = jwt_header(old)["kid"]

    signing_keys_rotate(actor=SYSTEM, tenant=demo)
    jws.forget_active_keys()  # another process would see the new key within the cache's 30 s

    claims = jwt.decode(old, jwks(), algorithms=ALGORITHMS).claims  # the retired key is still published
    JWTClaimsRegistry().validate(claims)
    assert claims["iss"] == ISSUER

    flow = signed_in_flow(demo, "bob")
    new = flow.token(flow.code_from(flow.authorize())).json()["id_token"]
    assert jwt_header(new)["kid"] != old_kid
    JWTClaimsRegistry().validate(jwt.decode(new, jwks(), algorithms=ALGORITHMS).claims)


def test_opaque_access_tokens_per_client(demo) -> None:
    Application.objects.filter(client_id="demo-web").update(access_token_format=Application.TokenFormat.OPAQUE)
    flow = signed_in_flow(demo, "bob")
    tokens = flow.token(flow.code_from(flow.authorize())).json()
    assert tokens["access_token"].count(".") == 0 and len(tokens["access_token"]) >= 40
    body = userinfo(demo, tokens["access_token"]).json()
    assert body["org_name"] == "mexbanco"
