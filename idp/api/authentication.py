"""Bearer access tokens issued by Canopy for the tenant in the URL."""

from __future__ import annotations

import hashlib
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from idp.api.principals import ADMIN_SCOPE, ApiClientActor
from idp.oidc.models import AccessToken


class CanopyBearerAuthentication(BaseAuthentication):
    """``Authorization: Bearer <access token>``; the token must belong to the URL's tenant.

    The token must carry the ``canopy:admin`` scope. A user token acts as its user (with
    that user's roles); a token without a user (client credentials) acts as the tenant's
    machine administrator.
    """

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:

        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Invalid bearer header."))
        try:
            raw = header[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(_("Invalid bearer token.")) from exc
        view = request.parser_context.get("view") if request.parser_context else None
        tenant = getattr(view, "tenant", None)
        if tenant is None:
            raise exceptions.AuthenticationFailed(_("Unknown tenant."))
        checksum = hashlib.sha256(raw.encode()).hexdigest()
        token = (
            AccessToken.objects.select_related("user", "application")
            .filter(token_checksum=checksum, tenant=tenant)
            .first()
        )
        if token is None or not token.is_valid() or ADMIN_SCOPE not in token.scope.split():
            raise exceptions.AuthenticationFailed(_("The access token is invalid, expired or lacks the admin scope."))
        if token.user_id is None:
            client = token.application.client_id if token.application else "unknown"
            return ApiClientActor(label=f"api-client:{client}"[:200], tenant_id=tenant.pk), token
        user = token.user
        if not user.is_active or user.tenant_id != tenant.pk:
            raise exceptions.AuthenticationFailed(_("The access token's user is inactive."))
        return user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="canopy", scope="{ADMIN_SCOPE}"'


class CanopyBearerScheme(OpenApiAuthenticationExtension):
    target_class = CanopyBearerAuthentication
    name = "bearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": f"An access token issued by this tenant with the `{ADMIN_SCOPE}` scope.",
        }
