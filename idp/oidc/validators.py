"""Canopy's answers to every OAuth/OIDC policy question (django-oauth-toolkit's validator).

- clients, codes and tokens are looked up inside the tenant named by the URL;
- the organization chosen at sign-in travels on the grant and the tokens (``request.canopy``,
  a ``TokenContext``), and every refresh checks the decision again (``idp.flow.decision``);
- ID tokens and JWT access tokens are signed with the tenant's keys;
- a replayed authorization code revokes what was issued from it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings

from idp.flow import decision
from idp.flow.session import acr_for as flow_acr_for
from idp.oidc import errors, jws
from idp.oidc.claims import ORGANIZATION_SCOPE_PREFIX, ClaimsBuilder, claims_parameter
from idp.oidc.context import current_auth, current_tenant, issuer_for
from idp.oidc.grants.token_exchange import TOKEN_EXCHANGE
from idp.oidc.models import AccessToken, Application, Grant, IDToken, RefreshToken
from idp.oidc.token_context import AMR_SEPARATOR, NO_CONTEXT, TokenContext, token_context
from tenants.models import Tenant, User

log = logging.getLogger(__name__)

REAUTHORIZE = "send the user through the authorization endpoint again"


def pkce_required(client_id: str) -> bool:
    """PKCE is mandatory for public clients; confidential clients may use it (S256 only)."""
    app = Application.objects.filter(client_id=client_id).only("client_type").first()
    return app is None or app.client_type == Application.CLIENT_PUBLIC


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class CanopyValidator(OAuth2Validator):
    # --- clients, scoped to the tenant in the URL ---------------------------
    # Private in DOT, kept: every client lookup (authenticate_client and the rest) goes through it.
    def _load_application(self, client_id: str, request: Any) -> Application | None:
        tenant = current_tenant()
        client = request.client
        if client is not None and getattr(client, "tenant_id", None) != tenant.pk:
            request.client = None
        app = super()._load_application(client_id, request)
        if app is None or app.tenant_id != tenant.pk:
            request.client = None
            return None
        return app

    def validate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        return self._load_application(client_id, request) is not None

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if grant_type == TOKEN_EXCHANGE:  # RFC 8693: code-flow clients allowed to switch organization
            return bool(client.allow_token_exchange) and client.allows_grant_type(Application.GRANT_AUTHORIZATION_CODE)
        return bool(super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs))

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        return pkce_required(client_id)

    def get_oidc_issuer_endpoint(self, request: Any) -> str:
        return issuer_for(current_tenant())

    # --- scopes ---------------------------------------------------------------
    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        org_scopes = [s for s in scopes if s.startswith(ORGANIZATION_SCOPE_PREFIX)]
        if len(org_scopes) > 1:
            return False  # one organization per request
        if org_scopes and not org_scopes[0][len(ORGANIZATION_SCOPE_PREFIX) :]:
            return False
        plain = [s for s in scopes if not s.startswith(ORGANIZATION_SCOPE_PREFIX)]
        return super().validate_scopes(client_id, plain, client, request, *args, **kwargs)

    # --- the browser session (prompt=none, id_token_hint) -------------------
    def validate_silent_login(self, request: Any) -> bool:
        return current_auth() is not None

    def validate_silent_authorization(self, request: Any) -> bool:
        auth = current_auth()
        if auth is None:
            return False
        if request.client is not None and request.client.skip_authorization:
            return True
        tokens = AccessToken.objects.filter(
            user=auth.user, application=request.client, expires__gt=timezone.now()
        ).only("scope")
        return any(t.allow_scopes(request.scopes) for t in tokens)

    def validate_user_match(self, id_token_hint: str | None, scopes: Any, claims: Any, request: Any) -> bool:
        if not id_token_hint:
            return True
        tenant = current_tenant()
        hint = jws.verify(tenant_id=tenant.pk, token=id_token_hint)
        if hint is None or hint.get("iss") != issuer_for(tenant):
            raise errors.InvalidRequest("id_token_hint is not an ID token issued by this tenant.", request=request)
        auth = current_auth()
        return auth is not None and str(hint.get("sub")) == str(auth.user.pk)

    # --- authorization codes --------------------------------------------------
    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Any, *args: Any, **kwargs: Any
    ) -> Grant:
        if request.code_challenge_method and request.code_challenge_method != "S256":
            raise errors.InvalidRequest('Unsupported code_challenge_method; use "S256".', request=request)
        auth = current_auth()
        chosen = token_context(request) or NO_CONTEXT  # set by the authorization view
        return Grant.objects.create(
            tenant=current_tenant(),
            application=request.client,
            user=request.user,
            code=code["code"],
            expires=timezone.now() + timedelta(seconds=oauth2_settings.AUTHORIZATION_CODE_EXPIRE_SECONDS),
            redirect_uri=request.redirect_uri,
            scope=" ".join(request.scopes),
            code_challenge=request.code_challenge or "",
            code_challenge_method=request.code_challenge_method or "",
            nonce=request.nonce or "",
            claims=json.dumps(request.claims or {}),
            resource=getattr(request, "resource", []),
            organization=chosen.organization,
            acting_via=chosen.via,
            auth_time=datetime.fromtimestamp(auth.auth_time, tz=UTC) if auth is not None else None,
            amr=AMR_SEPARATOR.join(auth.amr) if auth is not None else "",
            upstream=auth.upstream_slug if auth is not None else "",
            sid=auth.sid if auth is not None else "",
        )

    def _grant(self, code: str, client: Any, request: Any) -> Grant | None:
        """The grant for this code (and client, once known), read once per token request.

        oauthlib asks for the code's scopes before the client is authenticated (to choose
        the OpenID grant), so the first read may come without a client.
        """
        context = token_context(request) if request is not None else None
        memo = context.grant if context is not None else None
        if memo is not None and memo.code == code:
            return memo if client is None or memo.application_id == client.pk else None
        query = Grant.objects.select_related("user", "organization", "acting_via").filter(
            code=code, tenant=current_tenant()
        )
        if client is not None:
            query = query.filter(application=client)
        grant = query.first()
        if grant is not None and request is not None:
            request.canopy = replace(context or NO_CONTEXT, grant=grant)
        return grant

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        grant = self._grant(code, client, request)
        if grant is None:
            self._revoke_tokens_of_replayed_code(code, client)
            return False
        if grant.is_expired() or not grant.user.is_active or grant.organization_gone:
            return False
        request.scopes = grant.scope.split(" ")
        request.user = grant.user
        if grant.nonce:
            request.nonce = grant.nonce
        if grant.claims:
            request.claims = json.loads(grant.claims)
        request.canopy = TokenContext.of_row(grant, source=decision.Source.NONE, code_hash=code_hash(code))
        return True

    def confirm_redirect_uri(
        self, client_id: str, code: str, redirect_uri: str, client: Any, *args: Any, **kwargs: Any
    ) -> bool:
        request = args[0] if args else kwargs.get("request")
        grant = self._grant(code, client, request)
        return grant is not None and grant.redirect_uri_allowed(redirect_uri)

    def get_code_challenge(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request.client, request)
        return (grant.code_challenge or None) if grant else None

    def get_code_challenge_method(self, code: str, request: Any) -> str | None:
        grant = self._grant(code, request.client, request)
        return (grant.code_challenge_method or None) if grant else None

    def get_authorization_code_scopes(self, client_id: str, code: str, redirect_uri: str, request: Any) -> list[str]:
        grant = self._grant(code, request.client, request)
        return grant.scope.split() if grant and grant.scope else []

    def get_authorization_code_nonce(self, client_id: str, code: str, redirect_uri: str, request: Any) -> str | None:
        grant = self._grant(code, request.client, request)
        return (grant.nonce or None) if grant else None

    def _revoke_tokens_of_replayed_code(self, code: str, client: Any) -> None:
        """RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it."""
        tokens = list(AccessToken.objects.filter(grant_code_hash=code_hash(code), application=client))
        if not tokens:
            return
        log.warning("authorization code replay for client %s: revoking %d token(s)", client.client_id, len(tokens))
        with transaction.atomic():
            for token in tokens:
                RefreshToken.objects.filter(access_token=token).update(revoked=timezone.now())
                for refresh in RefreshToken.objects.filter(token_family__isnull=False, access_token=token):
                    RefreshToken.objects.filter(token_family=refresh.token_family).update(revoked=timezone.now())
                token.delete()

    # --- refresh tokens keep the organization, and the decision is checked again ---
    def validate_refresh_token(self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        """DOT's checks (client, expiry, rotation and reuse), then the organization decision again:
        the user is active, the organization still exists, the user may still act for it the
        same way (member, or through the same acts-for link; read fresh), and its policy is
        still met by the sign-in the token came from. Any failure revokes the token's whole
        family and is audited (``signin.refused``)."""
        ok = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        if not ok:
            return False
        instance: RefreshToken = request.refresh_token_instance
        tenant = current_tenant()
        if instance.tenant_id != tenant.pk:
            return False
        context = TokenContext.of_row(instance, source=decision.Source.TOKEN)
        try:
            policy = refresh_recheck(tenant=tenant, token=instance, context=context)
        except RefreshRefused as refused:
            with transaction.atomic():
                revoke_family(instance)
                decision.record_refusal(
                    tenant=tenant,
                    user=instance.user,
                    context=refused_context(instance, context, client),
                    reason=refused.reason,
                )
            raise errors.InvalidGrant(refused.description, request=request) from refused
        request.canopy = replace(context, policy=policy)
        return True

    # Private in DOT, kept: save_bearer_token's docstring names it the place for custom logic inside its transaction.
    def _save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any) -> Any:
        """DOT's writes (inside its transaction), and for a refresh the decision's audit entry."""
        saved = super()._save_bearer_token(token, request, *args, **kwargs)
        context = token_context(request)
        if request.grant_type == "refresh_token" and context is not None:
            decision.record(
                tenant=current_tenant(),
                user=request.user,
                context=context.sign_in_context(client=request.client),
                policy=context.policy,
                proven=context.proven(),
                issued="refresh",
            )
        return saved

    # --- token rows carry tenant and organization ---------------------------
    # Private in DOT, kept: its only row writers; a public save_bearer_token would copy DOT's rotation logic.
    def _create_access_token(
        self, expires: Any, request: Any, token: dict[str, Any], source_refresh_token: Any = None
    ) -> AccessToken:
        id_token = token.get("id_token")
        access_token = AccessToken(
            user=request.user,
            scope=token["scope"],
            expires=expires,
            id_token=self._id_token_row(request, id_token),
            application=request.client,
            source_refresh_token=source_refresh_token,
            resource=getattr(request, "resource", []),
            tenant=current_tenant(),
            grant_code_hash=(token_context(request) or NO_CONTEXT).code_hash,
            **(token_context(request) or NO_CONTEXT).row_fields(),
        )
        self._set_token_value(access_token, token["access_token"])
        access_token.save()
        return access_token

    def _create_refresh_token(
        self, request: Any, refresh_token_code: str, access_token: Any, previous_refresh_token: Any
    ) -> RefreshToken:
        refresh = RefreshToken(
            user=request.user,
            application=request.client,
            access_token=access_token,
            token_family=previous_refresh_token.token_family if previous_refresh_token else uuid.uuid4(),
            resource=getattr(request, "resource", []),
            tenant=current_tenant(),
            **(token_context(request) or NO_CONTEXT).row_fields(),
        )
        self._set_token_value(refresh, refresh_token_code)
        refresh.save()
        return refresh

    def _id_token_row(self, request: Any, token: str | None) -> IDToken | None:
        if not token:
            return None
        row = getattr(request, "id_token", None)
        if isinstance(row, IDToken):  # saved moments ago by finalize_id_token
            return row
        return self._load_id_token(token)

    # Private in DOT, kept: its public validate_id_token reads ID tokens only through it (tenant key and rows).
    def _load_id_token(self, token: str) -> IDToken | None:
        claims = jws.verify(tenant_id=current_tenant().pk, token=token)
        if not claims or "jti" not in claims:
            return None
        return IDToken.objects.filter(jti=claims["jti"], tenant=current_tenant()).first()

    def _id_token_create(self, jti: str, request: Any, expires: Any) -> IDToken:
        return IDToken.objects.create(
            user=request.user,
            scope=" ".join(request.scopes),
            expires=expires,
            jti=jti,
            application=request.client,
            tenant=current_tenant(),
        )

    # --- bearer tokens (userinfo, introspection, token exchange) ---------------
    def client_access_token(self, token: str, client: Application) -> AccessToken | None:
        """A live access token of this tenant issued to ``client`` (introspection, a token exchange's subject)."""
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        found = (
            AccessToken.objects.select_related("user", "application", "organization", "acting_via")
            .filter(token_checksum=checksum, tenant=current_tenant())
            .first()
        )
        if found is None or found.application_id != client.pk or not found.is_valid() or found.organization_gone:
            return None
        return found

    def validate_bearer_token(self, token: str, scopes: Any, request: Any) -> bool:
        ok = super().validate_bearer_token(token, scopes, request)
        access = getattr(request, "access_token", None)
        if ok and (
            access is None or getattr(access, "tenant_id", None) != current_tenant().pk or access.organization_gone
        ):
            request.access_token = None
            return False
        return ok

    # --- claims: every output through idp.oidc.claims.ClaimsBuilder ------------------------
    # DOT's get_oidc_claims / get_claim_dict seam is not used: the ID token and userinfo below are
    # the only callers of it in DOT, and both ask the builder instead.
    def get_id_token_dictionary(self, token: Any, token_handler: Any, request: Any) -> tuple[dict[str, Any], Any]:
        expiration = timezone.now() + timedelta(seconds=oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)
        return ClaimsBuilder.for_request(request).id_token(expires=expiration), expiration

    def finalize_id_token(self, id_token: dict[str, Any], token: Any, token_handler: Any, request: Any) -> str:
        claims, expiration = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:  # as DOT does (oauthlib issue #746)
            id_token["nonce"] = request.nonce
        signed = jws.sign(tenant_id=current_tenant().pk, algorithm=request.client.algorithm or "RS256", claims=id_token)
        row = self._id_token_create(id_token["jti"], request, expiration)
        request.access_token = row
        request.id_token = row
        return signed

    def get_userinfo_claims(self, request: Any) -> dict[str, Any]:
        access: AccessToken = request.access_token  # set by validate_bearer_token
        return ClaimsBuilder.for_access_token(
            access, scopes=request.scopes or [], requested=claims_parameter(request)
        ).userinfo()


class RefreshRefused(Exception):
    """The refresh token's decision does not hold any more (audit reason, error description)."""

    def __init__(self, reason: str, description: str) -> None:
        super().__init__(description)
        self.reason = reason
        self.description = description


def refresh_recheck(*, tenant: Tenant, token: RefreshToken, context: TokenContext) -> decision.Policy | None:
    """The refresh token's decision, checked again; the organization's policy that is met
    (None: no organization). Raises :class:`RefreshRefused`."""
    user: User = token.user
    organization_id = token.organization_uuid or token.organization_id
    via_id = token.acting_via_uuid or token.acting_via_id
    if not user.is_active:
        raise RefreshRefused("user inactive", "The user's account is disabled.")
    if token.organization_gone:
        raise RefreshRefused("organization deleted", f"The token's organization no longer exists; {REAUTHORIZE}.")
    if not decision.still_eligible(user=user, organization_id=organization_id, via_id=via_id, fresh=True):
        raise RefreshRefused("not eligible", f"The user may no longer act for the token's organization; {REAUTHORIZE}.")
    if organization_id is None:
        return None
    policy = decision.policy_for(tenant=tenant, organization=organization_id)
    if decision.unmet(policy, context.proven()):
        identifier = context.organization.identifier if context.organization is not None else str(organization_id)
        raise RefreshRefused(
            "policy unmet",
            "The organization's sign-in requirements are no longer met by this sign-in; "
            f"{REAUTHORIZE} with organization={identifier}.",
        )
    return policy


def refused_context(token: RefreshToken, context: TokenContext, client: Application) -> decision.SignInContext:
    """The refused decision for the audit: the ids the token was issued for, deleted or not."""
    signed = context.sign_in_context(client=client)
    organization_id = token.organization_uuid or token.organization_id
    via_id = token.acting_via_uuid or token.acting_via_id
    return replace(
        signed,
        organization_id=str(organization_id) if organization_id else None,
        via_id=str(via_id) if via_id else None,
    )


def revoke_family(token: RefreshToken) -> None:
    """Revoke every refresh token of ``token``'s family and delete their access tokens."""
    if token.token_family:
        RefreshToken.revoke_family(token.token_family)
    else:  # issued before token families
        token.revoke()


def acr_for(amr: list[str]) -> str:
    """The same mapping the login journey records in the session (``idp.flow.session.acr_for``)."""
    return flow_acr_for(amr)
