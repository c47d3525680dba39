"""Endpoints Canopy answers itself: introspection (RFC 7662) and token exchange (RFC 8693).

Both authenticate the calling client inside the tenant of the URL and only ever
speak about tokens issued to that same client.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from oauthlib.common import Request as OAuthRequest

from idp.flow import decision
from idp.oidc.claims import (
    ORGANIZATION_SCOPE_PREFIX,
    ClaimsBuilder,
    requested_organization_scopes,
    wants_organization,
)
from idp.oidc.context import current_tenant, issuer_for
from idp.oidc.models import AccessToken, Application, RefreshToken
from idp.oidc.token_context import TokenContext
from idp.oidc.tokens import generate_access_token, generate_refresh_token
from orgs.tree.models import Organization
from orgs.tree.selectors import user_eligible_organizations_uncached

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
    if token is None or token.application_id != client.pk or not token.is_valid() or token.organization_gone:
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
    return JsonResponse(ClaimsBuilder.for_access_token(token, scopes=token.scope.split()).introspection(token))


def token_exchange(request: HttpRequest, validator: Any) -> JsonResponse:  # noqa: PLR0911 - one return per RFC 8693 error
    """Switch organization without a new sign-in: same user, same client, same or fewer scopes.

    - The result's scopes are a subset of the subject token's; the one change allowed is its
      ``organization:<x>`` scope (if it has one) becoming ``organization:<target>``. A subject
      token without an organization scope cannot switch.
    - The user must be active and may act for the target now (read fresh), and the target's
      policy must be met by the sign-in the subject token came from; otherwise the client is
      told to send the user through the authorization endpoint (``insufficient_user_authentication``).
    - The exchange replaces the subject: its access token is revoked, and its refresh token
      (if any) is revoked and replaced by one of the same family bound to the target, so one
      sign-in never holds two live refresh tokens. Presenting the replaced refresh token later
      is a reuse and revokes the family, as for a rotated one.
    - Every decision is audited (``signin.decision`` with ``issued: exchange``, or ``signin.refused``).
    """
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
    if subject is None or subject.user is None:
        return oauth_error("invalid_grant", "The subject token is not a valid access token of this client.")
    granted = subject.scope.split()
    if not wants_organization(granted):
        return oauth_error(
            "invalid_scope", "The subject token has no organization scope, so it cannot switch organization."
        )
    asked = request.POST.get("scope", "").split()
    asked_orgs = requested_organization_scopes(asked)
    parameter = (request.POST.get("organization") or "").strip()
    if len(asked_orgs) > 1:
        return oauth_error("invalid_scope", "Name one organization.")
    if parameter and asked_orgs and parameter.lower() != asked_orgs[0].lower():
        return oauth_error("invalid_request", "The organization parameter and scope disagree.")
    key = parameter or (asked_orgs[0] if asked_orgs else "")
    if not key:
        return oauth_error("invalid_request", "Name the organization to switch to with the organization parameter.")

    tenant = current_tenant()
    user = subject.user
    context = decision.SignInContext(
        tenant_id=tenant.pk,
        rp_kind="oidc",
        rp_id=client.client_id,
        rp_name=client.name,
        requested=key,
        source=decision.Source.EXCHANGE,
    )
    if not user.is_active:
        decision.record_refusal(tenant=tenant, user=user, context=context, reason="user inactive")
        return oauth_error("invalid_grant", "The user's account is disabled.")
    match = decision.find(user_eligible_organizations_uncached(user=user), key)
    if match is None:
        decision.record_refusal(tenant=tenant, user=user, context=context, reason="not eligible")
        return oauth_error("invalid_target", "The user may not act for that organization.")
    context = context.chose(match, decision.Source.EXCHANGE)
    scopes = exchanged_scopes(granted=granted, asked=asked, subject=subject, target=match.organization)
    if scopes is None:
        return oauth_error(
            "invalid_scope",
            "Token exchange cannot add scopes: ask for the subject token's scopes or fewer, keeping the "
            "organization scope; only its organization:<x> may name the target.",
        )
    signed_in = TokenContext(
        source=decision.Source.EXCHANGE,
        organization=match.organization,
        via=match.via,
        auth_time=subject.auth_time,
        amr=tuple(subject.amr.split()),
        upstream=subject.upstream,
        sid=subject.sid,
    )
    policy = decision.policy_for(tenant=tenant, organization=match.organization.pk)
    proven = signed_in.proven()
    if decision.unmet(policy, proven):
        decision.record_refusal(tenant=tenant, user=user, context=context, reason="policy unmet")
        identifier = match.organization.identifier
        return oauth_error(
            "insufficient_user_authentication",
            f"The organization '{identifier}' requires more of the sign-in than the subject token's; "
            f"send the user through the authorization endpoint with organization={identifier}.",
        )
    with transaction.atomic():
        body = _replace_subject(
            validator, subject=subject, client=client, context=replace(signed_in, policy=policy), scopes=scopes
        )
        if body is None:
            return oauth_error("invalid_grant", "The subject token is not a valid access token of this client.")
        decision.record(tenant=tenant, user=user, context=context, policy=policy, proven=proven, issued="exchange")
    response = JsonResponse(body)
    response["Cache-Control"] = "no-store"
    return response


def exchanged_scopes(
    *, granted: list[str], asked: list[str], subject: AccessToken, target: Organization
) -> list[str] | None:
    """The exchanged token's scopes, or None if ``asked`` goes beyond the subject's.

    Allowed: the subject's scopes (or fewer, keeping an organization scope), with its
    ``organization:<x>`` swapped for ``organization:<target>`` (the target by identifier, or by id
    if the subject named its organization by id).
    """
    named = requested_organization_scopes(granted)
    swapped: str | None = None
    if named:
        by_id = subject.organization is not None and named[0].lower() == str(subject.organization.pk)
        swapped = f"{ORGANIZATION_SCOPE_PREFIX}{target.pk if by_id else target.identifier}"
    allowed = [s for s in granted if not s.startswith(ORGANIZATION_SCOPE_PREFIX)] + ([swapped] if swapped else [])
    if not asked:
        return allowed
    if swapped is None and requested_organization_scopes(asked):
        return None  # the subject had only "organization": naming one would add a scope
    # An organization:<x> asked for was checked to name the target: it is the swapped scope.
    result = list(dict.fromkeys(swapped if swapped and s.startswith(ORGANIZATION_SCOPE_PREFIX) else s for s in asked))
    if not set(result) <= set(allowed) or not wants_organization(result):
        return None
    return result


def _replace_subject(
    validator: Any, *, subject: AccessToken, client: Application, context: TokenContext, scopes: list[str]
) -> dict[str, Any] | None:
    """Revoke the subject's tokens and issue the exchanged ones (None: the subject was revoked or
    replaced concurrently). Runs inside the caller's transaction."""
    oauth_request = OAuthRequest(f"{issuer_for(current_tenant())}/oauth/token/")
    oauth_request.client = client
    oauth_request.user = subject.user
    oauth_request.scopes = scopes
    oauth_request.canopy = context
    lifetime = int(settings.CANOPY_ACCESS_TOKEN_SECONDS)
    if not AccessToken.objects.select_for_update().filter(pk=subject.pk).exists():
        return None
    previous = RefreshToken.objects.select_for_update().filter(access_token=subject, revoked__isnull=True).first()
    if previous is not None:
        previous.revoke()  # and deletes the subject access token
    else:
        subject.revoke()
    value = generate_access_token(oauth_request)
    access = validator._create_access_token(
        timezone.now() + timedelta(seconds=lifetime), oauth_request, {"access_token": value, "scope": " ".join(scopes)}
    )
    body: dict[str, Any] = {
        "access_token": value,
        "issued_token_type": ACCESS_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": " ".join(scopes),
    }
    if previous is not None:
        refresh_value = generate_refresh_token(oauth_request)
        validator._create_refresh_token(oauth_request, refresh_value, access, previous)  # same family
        body["refresh_token"] = refresh_value
    return body
