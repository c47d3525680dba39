"""Helpers for OIDC tests that drive the endpoints with Django's test client."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.test import Client

from tenants.models import Tenant, User

DEMO_WEB = ("demo-web", "demo-web-secret", "http://127.0.0.1:8765/callback")


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
