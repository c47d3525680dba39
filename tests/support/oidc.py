"""Helpers for OIDC tests that drive the endpoints with Django's test client."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from django.test import Client
from joserfc.jwk import KeySet

from orgs.tree.models import Organization
from tenants.models import Tenant, User
from tests.support import lookups

DEMO_WEB = ("demo-web", "demo-web-secret", "http://127.0.0.1:8765/callback")
RP_ORIGIN = "http://127.0.0.1:8765"  # the relying party's address in browser tests: nothing listens there


def sign_in(client: Client, tenant: Tenant, user: User, *, auth_time: int | None = None) -> None:
    """What the login journey leaves in the session after a password sign-in."""
    client.force_login(user)
    session = client.session
    session["canopy.auth"] = {
        "tenant_id": tenant.pk,
        "user_id": user.pk,
        "auth_time": auth_time or int(time.time()),
        "amr": ["pwd"],
        "acr": "urn:canopy:acr:pwd",
    }
    session.save()


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_url(tenant: Tenant, **params: Any) -> str:
    return f"/t/{tenant.slug}/oauth/authorize/?{urlencode(params)}"


def demo_web_authorize(tenant: Tenant, *, scope: str, state: str, nonce: str, **params: Any) -> tuple[str, str]:
    """An authorization request of the demo-web client with PKCE (S256): its path, and the verifier."""
    verifier, challenge = pkce()
    path = authorize_url(
        tenant,
        response_type="code",
        client_id=DEMO_WEB[0],
        redirect_uri=DEMO_WEB[2],
        scope=scope,
        state=state,
        nonce=nonce,
        code_challenge=challenge,
        code_challenge_method="S256",
        **params,
    )
    return path, verifier


def demo_web_claims(location: str, verifier: str, *, slug: str = "mightybank") -> dict[str, Any]:
    """Redeem the code in demo-web's callback ``location`` (test client); the ID token's claims."""
    token = Client().post(
        f"/t/{slug}/oauth/token/",
        {
            "grant_type": "authorization_code",
            "code": query_of(location)["code"],
            "redirect_uri": DEMO_WEB[2],
            "code_verifier": verifier,
        },
        HTTP_AUTHORIZATION=basic(*DEMO_WEB[:2]),
    )
    assert token.status_code == 200, token.content
    return jwt_claims(token.json()["id_token"])


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def jwt_header(token: str) -> dict[str, Any]:
    head = token.split(".", maxsplit=1)[0]
    return json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))


# --- an independent relying party (Authlib) against a live Canopy, for browser tests ----------


@dataclass
class DemoWebRP:
    """The quickstart's ``demo-web`` client as Authlib runs it: discovery, the JWKS, PKCE and a nonce."""

    config: dict[str, Any]
    keys: KeySet
    session: OAuth2Session
    verifier: str
    nonce: str

    def authorization_url(self, **params: Any) -> str:
        url, _ = self.session.create_authorization_url(
            self.config["authorization_endpoint"], code_verifier=self.verifier, nonce=self.nonce, **params
        )
        return str(url)

    def fetch_token(self, callback: str) -> dict[str, Any]:
        """Redeem the code in the callback URL (the RP checks ``state``) with the PKCE verifier."""
        return dict(
            self.session.fetch_token(
                self.config["token_endpoint"], authorization_response=callback, code_verifier=self.verifier
            )
        )


def demo_web_rp(canopy: str, *, scope: str = "openid profile email organization", nonce: str = "") -> DemoWebRP:
    """``canopy`` is the tenant's issuer on the live server; a fresh verifier (and nonce unless given)."""
    client_id, secret, redirect_uri = DEMO_WEB
    config = requests.get(f"{canopy}/.well-known/openid-configuration", timeout=10).json()
    keys = KeySet.import_key_set(requests.get(config["jwks_uri"], timeout=10).json())
    session = OAuth2Session(
        client_id,
        secret,
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    return DemoWebRP(config, keys, session, secrets.token_urlsafe(48), nonce or secrets.token_urlsafe(16))


def catch_rp_callbacks(page: Any) -> list[str]:
    """Answer every request to the RP's address in this Playwright page; the URLs, in order."""
    landed: list[str] = []

    def catch_callback(route: Any) -> None:
        landed.append(route.request.url)
        route.fulfill(status=200, content_type="text/plain", body="signed in")

    page.route(f"{RP_ORIGIN}/**", catch_callback)
    return landed


# --- one relying party through Django's test client (the protocol tests) -------------------------------

ISSUER = "http://127.0.0.1:8000/t/mightybank"
SCOPE = "openid profile organization"
MFA = "urn:canopy:acr:mfa"


class Flow:
    """One relying party's view of the provider, through Django's test client."""

    def __init__(
        self,
        tenant: Tenant,
        client_id: str = DEMO_WEB[0],
        secret: str = DEMO_WEB[1],
        redirect_uri: str = DEMO_WEB[2],
    ) -> None:
        self.tenant, self.client_id, self.secret, self.redirect_uri = tenant, client_id, secret, redirect_uri
        self.browser = Client()
        self.verifier, self.challenge = pkce()

    def authorize(self, *, scope: str = SCOPE, pkce_on: bool = True, **extra: str) -> Any:
        params = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": scope,
            "state": "st-1",
            "nonce": "nonce-1",
        }
        if pkce_on:
            params.update(code_challenge=self.challenge, code_challenge_method="S256")
        params.update(extra)
        return self.browser.get(authorize_url(self.tenant, **params))

    def pick(self, response: Any, identifier: str) -> Any:
        """Answer the organization picker the authorize endpoint sent us to."""
        location = response["Location"]
        assert "/select-organization/" in location, location
        pick_id = query_of(location)["pick"]
        chosen = Organization.objects.get(tenant=self.tenant, identifier=identifier)
        answered = self.browser.post(location, {"pick": pick_id, "organization": str(chosen.pk)})
        assert answered.status_code == 303, answered.content
        return self.browser.get(answered["Location"])

    def code_from(self, response: Any) -> str:
        assert response.status_code == 302, (response.status_code, response.content[:400])
        location = response["Location"]
        assert location.startswith(self.redirect_uri), location
        params = query_of(location)
        assert params["iss"] == issuer_of(self.tenant)
        assert params["state"] == "st-1"
        return params["code"]

    def token(self, code: str, *, verifier: str | None = None, **extra: str) -> Any:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "code_verifier": verifier or self.verifier,
            **extra,
        }
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": basic(self.client_id, self.secret)} if self.secret else {}
        if not self.secret:
            data["client_id"] = self.client_id
        return Client().post(f"/t/{self.tenant.slug}/oauth/token/", data, **auth)

    def refresh(self, refresh_token: str) -> Any:
        return Client().post(
            f"/t/{self.tenant.slug}/oauth/token/",
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            HTTP_AUTHORIZATION=basic(self.client_id, self.secret),
        )


def issuer_of(tenant: Tenant) -> str:
    return f"http://127.0.0.1:8000/t/{tenant.slug}"


def userinfo(tenant: Tenant, access_token: str) -> Any:
    return Client().get(f"/t/{tenant.slug}/oauth/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def signed_in_flow(tenant: Tenant, username: str, **kwargs: Any) -> Flow:
    """A ``Flow`` whose browser a demo user signed in to (a password sign-in)."""
    flow = Flow(tenant, **kwargs)
    sign_in(flow.browser, tenant, lookups.user(tenant, username))
    return flow


# --- step-up (acr_values) ---------------------------------------------------------------------------


def mfa_authorize(tenant: Tenant, **extra: str) -> tuple[str, str]:
    """demo-web asking for ``acr_values=urn:canopy:acr:mfa`` at an organization that needs no second factor."""
    return demo_web_authorize(
        tenant,
        scope="openid organization",
        state="st-acr",
        nonce="n-acr",
        organization="mightybank-americas",  # requires no second factor
        acr_values=MFA,
        **extra,
    )


def journey(client: Client, login_location: str, username: str = "alice") -> Any:
    """From a redirect to flow:login: identifier, then password; the password step's answer and ``next``."""
    next_url = parse_qs(urlsplit(login_location).query)["next"][0]
    r = client.post("/t/mightybank/login/", {"identifier": username, "next": next_url})
    assert r.status_code == 303, r.content[:300]
    return client.post(r["Location"], {"password": f"{username}-demo-pass", "next": next_url}), next_url


def tokens_for(location: str, verifier: str) -> dict[str, Any]:
    """The ID token claims demo-web gets for the code in ``location`` (its redirect URI)."""
    assert location.startswith(DEMO_WEB[2]), location
    return demo_web_claims(location, verifier)
