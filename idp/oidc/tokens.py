"""Access token values: RFC 9068 JWTs signed with the tenant's key, or opaque strings."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

from django.conf import settings

from idp.oidc import jws
from idp.oidc.claims import organization_claims, wants_organization
from idp.oidc.context import current_tenant, issuer_for
from idp.oidc.models import Application
from idp.oidc.token_context import NO_CONTEXT, token_context


def generate_access_token(request: Any, refresh_token: bool = False) -> str:
    """DOT's ACCESS_TOKEN_GENERATOR: called by oauthlib with its request."""
    client: Application = request.client
    if client.access_token_format == Application.TokenFormat.OPAQUE:
        return secrets.token_urlsafe(32)
    tenant = current_tenant()
    now = int(time.time())
    user = getattr(request, "user", None)
    scopes = list(request.scopes or [])
    claims: dict[str, Any] = {
        "iss": issuer_for(tenant),
        "sub": str(user.pk) if user is not None else client.client_id,
        "aud": list(getattr(request, "resource", None) or []) or client.client_id,
        "client_id": client.client_id,
        "iat": now,
        "exp": now + int(settings.CANOPY_ACCESS_TOKEN_SECONDS),
        "jti": uuid.uuid4().hex,
        "scope": " ".join(scopes),
    }
    context = token_context(request) or NO_CONTEXT
    if context.auth_time is not None:
        claims["auth_time"] = int(context.auth_time.timestamp())
    if user is not None and wants_organization(scopes):
        claims.update(
            organization_claims(application=client, user=user, organization=context.organization, via=context.via)
        )
    return jws.sign(tenant_id=tenant.pk, algorithm=client.algorithm or "RS256", claims=claims, typ="at+jwt")


def generate_refresh_token(request: Any, refresh_token: bool = False) -> str:
    """Refresh tokens are opaque: only Canopy ever reads them."""
    return secrets.token_urlsafe(32)
