"""Access token values: RFC 9068 JWTs signed with the tenant's key, or opaque strings."""

from __future__ import annotations

import secrets
from typing import Any

from idp.oidc import jws
from idp.oidc.claims import ClaimsBuilder
from idp.oidc.models import Application


def generate_access_token(request: Any, refresh_token: bool = False) -> str:
    """DOT's ACCESS_TOKEN_GENERATOR: called by oauthlib with its request (every grant, token exchange too)."""
    client: Application = request.client
    if client.access_token_format == Application.TokenFormat.OPAQUE:
        return secrets.token_urlsafe(32)
    builder = ClaimsBuilder.for_request(request)
    claims = builder.access_token(audience=list(getattr(request, "resource", None) or []))
    return jws.sign(tenant_id=builder.tenant.pk, algorithm=client.algorithm or "RS256", claims=claims, typ="at+jwt")


def generate_refresh_token(request: Any, refresh_token: bool = False) -> str:
    """Refresh tokens are opaque: only Canopy ever reads them."""
    return secrets.token_urlsafe(32)
