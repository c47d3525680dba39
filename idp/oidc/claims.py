"""What tokens say about a person and their organizations: one builder for every OIDC output.

:class:`ClaimsBuilder` is made for one token response (the token endpoint's oauthlib request,
or an access token row at userinfo and introspection) and is the only place claims are built:

- ``id_token()``: from ``CanopyValidator.get_id_token_dictionary`` (oauthlib adds aud, iat, nonce, at_hash);
- ``access_token()``: from the ``ACCESS_TOKEN_GENERATOR`` (``idp.oidc.tokens``), RFC 9068 JWTs;
- ``userinfo()``: from ``CanopyValidator.get_userinfo_claims``;
- ``introspection()``: from the introspection endpoint (RFC 7662).

The person and organization facts come from ``orgs.claims`` (SAML maps the same facts,
``idp.saml.attributes``); here they only get their OIDC names. What differs between the four
outputs is :data:`RELEASES`, nothing else.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from idp.flow import decision
from idp.flow.attributes import oidc_claims
from idp.flow.session import acr_for
from idp.flow.upstreams import upstream_issuer
from idp.oidc.context import current_tenant, issuer_for
from idp.oidc.models import AccessToken, Application
from idp.oidc.token_context import NO_CONTEXT, TokenContext, token_context
from orgs.claims import organization_facts, person_facts
from orgs.inheritance.selectors import effective_section
from tenants.models import Tenant, User

ORGANIZATION_SCOPE = "organization"
ORGANIZATION_SCOPE_PREFIX = "organization:"


def wants_organization(scopes: list[str] | set[str] | tuple[str, ...]) -> bool:
    return any(s == ORGANIZATION_SCOPE or s.startswith(ORGANIZATION_SCOPE_PREFIX) for s in scopes)


def requested_organization_scopes(scopes: list[str] | set[str] | tuple[str, ...]) -> list[str]:
    return [s[len(ORGANIZATION_SCOPE_PREFIX) :] for s in scopes if s.startswith(ORGANIZATION_SCOPE_PREFIX)]


def scope_claims(*, tenant_id: int) -> dict[str, list[str]]:
    """Scope -> claim names, as the tenant root defines them (the ``oidc_scopes`` settings section)."""
    return dict(effective_section(tenant=tenant_id, organization=None, section="oidc_scopes")["scopes"])


@dataclass(frozen=True)
class Release:
    """Which groups of claims one output carries besides its own protocol fields.

    ``person``: the profile claims the scopes (per the tenant's mapping) or the ``claims``
    parameter member ``requested`` release; ``organization``: the org_* claims, with an
    organization scope; ``upstream``: ``idp``, the upstream IdP of a federated sign-in.
    """

    person: bool
    organization: bool
    upstream: bool
    requested: str = ""  # the member of the claims parameter that names claims one by one ("" = none)


# The differences between the four outputs, stated once.
RELEASES = {
    "id_token": Release(person=True, organization=True, upstream=True, requested="id_token"),
    "access_token": Release(person=False, organization=True, upstream=False),  # RFC 9068: no profile
    "userinfo": Release(person=True, organization=True, upstream=True, requested="userinfo"),
    "introspection": Release(person=True, organization=True, upstream=True),  # by scope only
}


@dataclass(frozen=True)
class ClaimsBuilder:
    """The claims of one token response.

    ``signed_in`` is the organization decision and the sign-in (``TokenContext``): the token
    request's at the token endpoint, the access token's at userinfo and introspection.
    ``requested`` is the OIDC ``claims`` parameter (``{"id_token": {...}, "userinfo": {...}}``).
    """

    tenant: Tenant
    client: Application
    user: User | None
    signed_in: TokenContext
    scopes: tuple[str, ...]
    requested: Mapping[str, Any]

    @classmethod
    def for_request(cls, request: Any) -> ClaimsBuilder:
        """At the token endpoint (code, refresh, exchange, client credentials): oauthlib's request."""
        return cls(
            tenant=current_tenant(),
            client=request.client,
            user=getattr(request, "user", None),
            signed_in=token_context(request) or NO_CONTEXT,
            scopes=tuple(request.scopes or ()),
            requested=claims_parameter(request),
        )

    @classmethod
    def for_access_token(
        cls, token: AccessToken, *, scopes: Iterable[str], requested: Mapping[str, Any] | None = None
    ) -> ClaimsBuilder:
        """At userinfo and introspection: what the access token kept of the decision and the sign-in."""
        return cls(
            tenant=current_tenant(),
            client=token.application,
            user=token.user,
            signed_in=TokenContext.of_row(token, source=decision.Source.TOKEN),
            scopes=tuple(scopes),
            requested=requested or {},
        )

    # --- the four outputs ------------------------------------------------------------------
    def id_token(self, *, expires: datetime) -> dict[str, Any]:
        """Canopy's ID token claims (oauthlib adds aud, iat, nonce, at_hash)."""
        claims = {"sub": self._subject(), **self._released(RELEASES["id_token"])}
        auth_time = self.signed_in.auth_time or timezone.now()
        amr = list(self.signed_in.amr or ["pwd"])
        claims.update(
            iss=issuer_for(self.tenant),
            exp=int(expires.timestamp()),
            auth_time=int(auth_time.timestamp()),
            jti=str(uuid.uuid4()),
            amr=amr,
            acr=acr_for(amr),
        )
        if self.signed_in.sid:  # the login session, so a back-channel logout token can name it
            claims["sid"] = self.signed_in.sid
        return claims

    def access_token(self, *, audience: list[str]) -> dict[str, Any]:
        """An RFC 9068 access token's claims (``audience``: the RFC 8707 resources, else the client)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer_for(self.tenant),
            "sub": self._subject(),
            "aud": audience or self.client.client_id,
            "client_id": self.client.client_id,
            "iat": now,
            "exp": now + int(settings.CANOPY_ACCESS_TOKEN_SECONDS),
            "jti": uuid.uuid4().hex,
            "scope": " ".join(self.scopes),
        }
        if self.signed_in.auth_time is not None:
            claims["auth_time"] = int(self.signed_in.auth_time.timestamp())
        claims.update(self._released(RELEASES["access_token"]))
        return claims

    def userinfo(self) -> dict[str, Any]:
        return {"sub": self._subject(), **self._released(RELEASES["userinfo"])}

    def introspection(self, token: AccessToken) -> dict[str, Any]:
        """RFC 7662's answer for an active ``token`` (the builder's own)."""
        data: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": self.client.client_id,
            "token_type": "Bearer",
            "exp": int(token.expires.timestamp()),
            "iat": int(token.created.timestamp()),
            "iss": issuer_for(self.tenant),
            "aud": token.resource or self.client.client_id,
        }
        if self.user is not None:
            data["sub"] = self._subject()
            data["username"] = self.user.get_username()
            data.update(self._released(RELEASES["introspection"]))
        return data

    # --- the groups of claims ----------------------------------------------------------------
    def _subject(self) -> str:
        return str(self.user.pk) if self.user is not None else self.client.client_id

    def _released(self, release: Release) -> dict[str, Any]:
        if self.user is None:
            return {}
        out: dict[str, Any] = {}
        if release.person:
            out.update(self._person(requested=set((self.requested.get(release.requested) or {}).keys())))
        if release.organization and wants_organization(self.scopes):
            out.update(self._organization())
        if release.upstream and self.signed_in.upstream:
            slug = self.signed_in.upstream
            out["idp"] = upstream_issuer(tenant_id=self.tenant.pk, slug=slug) or slug
        return out

    def _person(self, *, requested: set[str]) -> dict[str, Any]:
        """The person's claims the granted scopes release (per the tenant's mapping) or ``requested`` names.

        With an organization selected, profile values follow the tenant's source modes.
        """
        assert self.user is not None
        user = self.user
        mapping = scope_claims(tenant_id=user.tenant_id) if user.tenant_id else {}
        released = set(requested)
        for scope in self.scopes:
            released.update(mapping.get(scope, ()))
        facts = person_facts(user=user, organization=self.signed_in.organization)
        values: dict[str, Any] = {
            "name": facts["name"],
            "given_name": facts["given_name"],
            "family_name": facts["family_name"],
            "preferred_username": facts["username"],
        }
        if facts["email"]:
            values["email"] = facts["email"]
            values["email_verified"] = False
        if released - values.keys():  # custom attributes, under their dialects.oidc claim names (idp.flow.attributes)
            values = {**oidc_claims(user), **values}
        return {key: value for key, value in values.items() if key in released and value not in ("", None)}

    def _organization(self) -> dict[str, Any]:
        """org_ids/org_names (every membership) and org_id/org_name (the selection), names per client."""
        assert self.user is not None
        return organization_facts(
            user=self.user,
            organization=self.signed_in.organization,
            via=self.signed_in.via,
            by_identifier=self.client.org_name_source == Application.OrgNameSource.IDENTIFIER,
            name=self.client.claim_name,
        )


def claims_parameter(request: Any) -> Mapping[str, Any]:
    """The OIDC ``claims`` parameter on oauthlib's request (the grant's, once a code is redeemed)."""
    found = getattr(request, "claims", None)
    return found if isinstance(found, dict) else {}
