"""Token exchange (RFC 8693) as an oauthlib grant: switch organization without a new sign-in.

Same user, same client, same or fewer scopes:

- The result's scopes are a subset of the subject token's; the one change allowed is its
  ``organization:<x>`` scope (if it has one) becoming ``organization:<target>``. A subject
  token without an organization scope cannot switch.
- The user must be active and may act for the target now (read fresh), and the target's
  policy must be met by the sign-in the subject token came from; otherwise the client is
  told to send the user through the authorization endpoint (``insufficient_user_authentication``).
- The exchange replaces the subject: its access token is revoked, and its refresh token
  (if any) is revoked and replaced by one of the same family bound to the target (DOT's
  rotation, through ``request.refresh_token_instance``), so one sign-in never holds two live
  refresh tokens. Presenting the replaced refresh token later is a reuse and revokes the
  family, as for a rotated one.
- Every decision is audited (``signin.decision`` with ``issued: exchange``, or ``signin.refused``).

The tokens come from the bearer token path every grant uses (``token_handler.create_token``,
so the ``ACCESS_TOKEN_GENERATOR`` and the claims builder, then ``save_token``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from django.db import transaction
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.oauth2.rfc6749.grant_types.base import GrantTypeBase

from idp.flow import decision
from idp.oidc import errors
from idp.oidc.claims import ORGANIZATION_SCOPE_PREFIX, requested_organization_scopes, wants_organization
from idp.oidc.context import current_tenant
from idp.oidc.models import AccessToken, RefreshToken
from idp.oidc.token_context import TokenContext
from orgs.tree.models import Organization
from orgs.tree.selectors import user_eligible_organizations_uncached

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - RFC 8693 URN, not a secret
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - RFC 8693 URN, not a secret
SUBJECT_INVALID = "The subject token is not a valid access token of this client."


@dataclass(frozen=True)
class Exchange:
    """A validated exchange: the subject token, the decision for the target, and what it proved."""

    subject: AccessToken
    decided: decision.SignInContext
    policy: decision.Policy
    proven: decision.Proven


class TokenExchangeGrant(GrantTypeBase):
    """``grant_type=urn:ietf:params:oauth:grant-type:token-exchange`` with an access token as subject."""

    def create_token_response(self, request: Any, token_handler: Any) -> tuple[dict[str, str], str, int]:
        headers = self._get_default_headers()
        try:
            exchange = self.validate_token_request(request)
            body = self._issue(request, token_handler, exchange)
        except oauth_errors.OAuth2Error as error:
            headers.update(error.headers)
            return headers, error.json, error.status_code
        return headers, json.dumps(body), 200

    def validate_token_request(self, request: Any) -> Exchange:
        """Everything before issuing; sets the request's scopes, user and context (``request.canopy``)."""
        if request.grant_type != TOKEN_EXCHANGE:
            raise oauth_errors.UnsupportedGrantTypeError(request=request)
        try:
            self.validate_client_authentication(request)  # the validator's authenticate_client(_id)
        except oauth_errors.InvalidClientError as failed:
            raise errors.InvalidClient() from failed
        client = request.client
        if not self.request_validator.validate_grant_type(request.client_id, request.grant_type, client, request):
            raise errors.UnauthorizedClient("This client may not use token exchange.")
        if _param(request, "subject_token_type") != ACCESS_TOKEN_TYPE:
            raise errors.InvalidRequest(f"subject_token_type must be {ACCESS_TOKEN_TYPE}.")
        if _param(request, "requested_token_type") not in ("", ACCESS_TOKEN_TYPE):
            raise errors.InvalidRequest("Only access tokens can be requested.")
        subject = self.request_validator.client_access_token(_param(request, "subject_token"), client)
        if subject is None or subject.user is None:
            raise errors.InvalidGrant(SUBJECT_INVALID)
        granted = subject.scope.split()
        if not wants_organization(granted):
            raise errors.InvalidScope("The subject token has no organization scope, so it cannot switch organization.")
        asked = _param(request, "scope").split()
        asked_orgs = requested_organization_scopes(asked)
        parameter = _param(request, "organization").strip()
        if len(asked_orgs) > 1:
            raise errors.InvalidScope("Name one organization.")
        if parameter and asked_orgs and parameter.lower() != asked_orgs[0].lower():
            raise errors.InvalidRequest("The organization parameter and scope disagree.")
        key = parameter or (asked_orgs[0] if asked_orgs else "")
        if not key:
            raise errors.InvalidRequest("Name the organization to switch to with the organization parameter.")

        tenant = current_tenant()
        user = subject.user
        decided = decision.SignInContext(
            tenant_id=tenant.pk,
            rp_kind="oidc",
            rp_id=client.client_id,
            rp_name=client.name,
            requested=key,
            source=decision.Source.EXCHANGE,
        )
        if not user.is_active:
            decision.record_refusal(tenant=tenant, user=user, context=decided, reason="user inactive")
            raise errors.InvalidGrant("The user's account is disabled.")
        match = decision.find(user_eligible_organizations_uncached(user=user), key)
        if match is None:
            decision.record_refusal(tenant=tenant, user=user, context=decided, reason="not eligible")
            raise errors.InvalidTarget("The user may not act for that organization.")
        decided = decided.chose(match, decision.Source.EXCHANGE)
        scopes = exchanged_scopes(granted=granted, asked=asked, subject=subject, target=match.organization)
        if scopes is None:
            raise errors.InvalidScope(
                "Token exchange cannot add scopes: ask for the subject token's scopes or fewer, keeping the "
                "organization scope; only its organization:<x> may name the target."
            )
        signed_in = replace(
            TokenContext.of_row(subject, source=decision.Source.EXCHANGE),
            organization=match.organization,
            via=match.via,
        )
        policy = decision.policy_for(tenant=tenant, organization=match.organization.pk)
        proven = signed_in.proven()
        if decision.unmet(policy, proven):
            decision.record_refusal(tenant=tenant, user=user, context=decided, reason="policy unmet")
            identifier = match.organization.identifier
            raise errors.InsufficientUserAuthentication(
                f"The organization '{identifier}' requires more of the sign-in than the subject token's; "
                f"send the user through the authorization endpoint with organization={identifier}."
            )
        request.user = user
        request.scopes = scopes
        request.resource = []  # the exchanged token is for the client, as the subject was (no RFC 8707 resources)
        request.canopy = replace(signed_in, policy=policy)
        return Exchange(subject=subject, decided=decided, policy=policy, proven=proven)

    def _issue(self, request: Any, token_handler: Any, exchange: Exchange) -> dict[str, Any]:
        """Replace the subject by the exchanged tokens, in one transaction, and audit the decision."""
        subject = exchange.subject
        with transaction.atomic():
            if not AccessToken.objects.select_for_update().filter(pk=subject.pk).exists():
                raise errors.InvalidGrant(SUBJECT_INVALID)  # revoked or exchanged concurrently
            previous = (
                RefreshToken.objects.select_for_update().filter(access_token=subject, revoked__isnull=True).first()
            )
            if previous is None:
                subject.revoke()
            else:  # DOT's rotation revokes it (and the subject) and issues the new one in its family
                request.refresh_token_instance = previous
            token = token_handler.create_token(request, refresh_token=previous is not None)
            self.request_validator.save_token(token, request)
            decision.record(
                tenant=current_tenant(),
                user=subject.user,
                context=exchange.decided,
                policy=exchange.policy,
                proven=exchange.proven,
                issued="exchange",
            )
        body: dict[str, Any] = {
            "access_token": token["access_token"],
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": token["token_type"],
            "expires_in": token["expires_in"],
            "scope": token["scope"],
        }
        if "refresh_token" in token:
            body["refresh_token"] = token["refresh_token"]
        return body


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


def _param(request: Any, name: str) -> str:
    """A body parameter oauthlib does not know by name ("" when absent)."""
    return str(getattr(request, name, None) or "")
