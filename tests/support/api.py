"""Helpers for the management API tests: tokens and a bearer client."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from tenants.models import Tenant, User


def api_token(*, tenant: Tenant, user: User | None, scope: str = "openid canopy:admin", expired: bool = False) -> str:
    """An access token as Canopy's token endpoint would have stored it (user=None: client credentials)."""
    from idp.oidc.models import AccessToken, Application

    app = Application.objects.filter(tenant=tenant, client_id=f"{tenant.slug}-api").first()
    if app is None:
        app = Application.objects.create(
            tenant=tenant,
            client_id=f"{tenant.slug}-api",
            name="API client",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        )
    raw = secrets.token_urlsafe(24)
    token = AccessToken(
        tenant=tenant,
        application=app,
        user=user,
        scope=scope,
        expires=timezone.now() + (timedelta(seconds=-5) if expired else timedelta(minutes=10)),
    )
    token.token = raw
    token.save()
    return raw


class ApiClient:
    def __init__(self, token: str | None, slug: str) -> None:
        self.client = Client()
        self.slug = slug
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def url(self, path: str) -> str:
        return path if path.startswith("/t/") else f"/t/{self.slug}/api/v1/{path.lstrip('/')}"

    def call(self, method: str, path: str, data: Any = None, headers: dict[str, str] | None = None) -> Any:
        import json

        kwargs: dict[str, Any] = {"headers": {**self.headers, **(headers or {})}}
        if data is not None:
            kwargs["data"] = json.dumps(data)
            kwargs["content_type"] = "application/json"
        return getattr(self.client, method.lower())(self.url(path), **kwargs)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, data if data is not None else {}, **kw)

    def patch(self, path: str, data: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, data if data is not None else {}, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)


def client_for(tenant: Tenant, username: str) -> ApiClient:
    """An API client holding an admin-scoped token of that user of the tenant."""
    return ApiClient(api_token(tenant=tenant, user=User.objects.get(tenant=tenant, username=username)), tenant.slug)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """A problem+json answer with this status; returns its body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


IDP = {  # an upstream OIDC IdP as ``POST upstream-idps/`` takes it (endpoints given, no discovery)
    "slug": "partner",
    "name": "Partner Inc",
    "issuer": "https://idp.partner.example",
    "authorization_endpoint": "https://idp.partner.example/authorize",
    "token_endpoint": "https://idp.partner.example/token",
    "jwks_uri": "https://idp.partner.example/jwks",
    "client_id": "canopy",
    "client_secret": "partner-secret-value",
    "jit_organizations": ["acme-bank"],
}
