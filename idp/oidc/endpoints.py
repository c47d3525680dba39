"""Endpoints Canopy answers itself: introspection (RFC 7662) and token exchange (RFC 8693).

Both authenticate the calling client inside the tenant of the URL and only ever
speak about tokens issued to that same client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from django.contrib.auth.hashers import check_password
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from oauthlib.common import Request as OAuthRequest

from idp.oidc.claims import (
    ORGANIZATION_SCOPE,
    organization_claims,
    requested_organization_scopes,
    standard_claims,
    upstream_claims,
    wants_organization,
)
from idp.oidc.context import current_tenant, issuer_for
from idp.oidc.models import AccessToken, Application, RefreshToken
from idp.oidc.tokens import generate_access_token, generate_refresh_token
from orgs.selectors import user_eligible_organizations

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - RFC 8693 URN, not a secret
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - RFC 8693 URN, not a secret


def oauth_error(error: str, description: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="canopy"'
    return response


def authenticate_client(request: HttpRequest) -> Application | None:
    """client_secret_basic, client_secret_post, or a public client naming itself."""
    client_id = secret = None
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
            client_id, secret = (unquote_plus(part) for part in decoded.split(":", 1))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    else:
        client_id = request.POST.get("client_id")
        secret = request.POST.get("client_secret")
    if not client_id:
        return None
    app = Application.objects.filter(client_id=client_id, tenant=current_tenant()).first()
    if app is None:
        check_password("x", "canopy_hmac_sha256$salt$0")  # same work either way
        return None
    if app.client_type == Application.CLIENT_PUBLIC:
        return app if not secret else None
    if not secret or not check_password(secret, app.client_secret):
        return None
    return app


def _load_token(value: str, client: Application) -> AccessToken | None:
    checksum = hashlib.sha256(value.encode("utf-8")).hexdigest()
    token = (
        AccessToken.objects.select_related("user", "application", "organization", "acting_via")
        .filter(token_checksum=checksum, tenant=current_tenant())
        .first()
    )
    if token is None or token.application_id != client.pk or not token.is_valid():
        return None
    return token


def introspect(request: HttpRequest) -> JsonResponse:
    client = authenticate_client(request)
    if client is None or client.client_type == Application.CLIENT_PUBLIC:
        return oauth_error("invalid_client", "Client authentication failed.", status=401)
    value = request.POST.get("token", "")
    if not value:
        return oauth_error("invalid_request", "The token parameter is missing.")
    token = _load_token(value, client)
    if token is None:
        return JsonResponse({"active": False})
    scopes = token.scope.split()
    data: dict[str, Any] = {
        "active": True,
        "scope": token.scope,
        "client_id": client.client_id,
        "token_type": "Bearer",
        "exp": int(token.expires.timestamp()),
        "iat": int(token.created.timestamp()),
        "iss": issuer_for(current_tenant()),
        "aud": token.resource or client.client_id,
    }
    if token.user is not None:
        data["sub"] = str(token.user.pk)
        data["username"] = token.user.get_username()
        data.update(standard_claims(user=token.user, scopes=scopes, organization=token.organization))
        if wants_organization(scopes):
            data.update(
                organization_claims(
                    application=client, user=token.user, organization=token.organization, via=token.acting_via
                )
            )
        data.update(upstream_claims(tenant_id=token.tenant_id, upstream_slug=token.upstream))
    return JsonResponse(data)


def token_exchange(request: HttpRequest, validator: Any) -> JsonResponse:  # noqa: PLR0911 - one return per RFC 8693 error
    """Switch organization without a new sign-in: same user, same client, same or fewer scopes."""
    client = authenticate_client(request)
    if client is None:
        return oauth_error("invalid_client", "Client authentication failed.", status=401)
    if not client.allow_token_exchange or client.authorization_grant_type != Application.GRANT_AUTHORIZATION_CODE:
        return oauth_error("unauthorized_client", "This client may not use token exchange.")
    if request.POST.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        return oauth_error("invalid_request", f"subject_token_type must be {ACCESS_TOKEN_TYPE}.")
    requested_type = request.POST.get("requested_token_type")
    if requested_type not in (None, "", ACCESS_TOKEN_TYPE):
        return oauth_error("invalid_request", "Only access tokens can be requested.")
    subject = _load_token(request.POST.get("subject_token", ""), client)
    if subject is None or subject.user is None or not subject.user.is_active:
        return oauth_error("invalid_grant", "The subject token is not a valid access token of this client.")
    granted = subject.scope.split()
    wanted = request.POST.get("scope", "").split() or granted
    wanted_orgs = requested_organization_scopes(wanted)
    wanted = [s for s in wanted if not s.startswith(f"{ORGANIZATION_SCOPE}:")]
    if not set(wanted) <= set(granted):
        return oauth_error("invalid_scope", "Token exchange cannot add scopes.")
    key = (request.POST.get("organization") or (wanted_orgs[0] if wanted_orgs else "")).strip().lower()
    if not key:
        return oauth_error("invalid_request", "Name the organization to switch to with the organization parameter.")
    eligible = user_eligible_organizations(user=subject.user)
    match = next(
        (e for e in eligible if str(e.organization.pk) == key or e.organization.identifier.lower() == key), None
    )
    if match is None:
        return oauth_error("invalid_target", "The user may not act for that organization.")
    if ORGANIZATION_SCOPE not in wanted and not wants_organization(wanted):
        wanted.append(ORGANIZATION_SCOPE)

    oauth_request = OAuthRequest(request.build_absolute_uri())
    oauth_request.client = client
    oauth_request.user = subject.user
    oauth_request.scopes = wanted
    oauth_request.canopy_organization = match.organization
    oauth_request.canopy_via = match.via
    refresh_source = RefreshToken.objects.filter(access_token=subject, revoked__isnull=True).first()
    oauth_request.canopy_auth_time = refresh_source.auth_time if refresh_source else None
    oauth_request.canopy_amr = refresh_source.amr.split() if refresh_source and refresh_source.amr else []
    oauth_request.canopy_upstream = subject.upstream
    oauth_request.canopy_sid = subject.sid
    value = generate_access_token(oauth_request)
    validator_lifetime = timedelta(seconds=_access_seconds())
    lifetime = int(validator_lifetime.total_seconds())
    access = validator._create_access_token(
        timezone.now() + validator_lifetime, oauth_request, {"access_token": value, "scope": " ".join(wanted)}
    )
    body: dict[str, Any] = {
        "access_token": value,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": " ".join(wanted),
    }
    if refresh_source is not None:
        refresh_value = generate_refresh_token(oauth_request)
        validator._create_refresh_token(oauth_request, refresh_value, access, None)
        body["refresh_token"] = refresh_value
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


def _access_seconds() -> int:
    from django.conf import settings

    return int(settings.CANOPY_ACCESS_TOKEN_SECONDS)
