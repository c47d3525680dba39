"""What a token request carries from the organization decision to the token rows and claims.

oauthlib calls the validator with its own request object. Canopy puts one
:class:`TokenContext` on it, as ``request.canopy``, and nothing else:

- the authorization endpoint (``views.AuthorizationView.create_authorization_response``),
  through DOT's credentials: the organization chosen, for the grant row;
- ``CanopyValidator.validate_code``: everything the grant kept;
- ``CanopyValidator.validate_refresh_token``: everything the refresh token kept, once the
  decision was checked again (``idp.flow.decision``);
- the token exchange grant (``idp.oidc.grants.token_exchange``): the target organization and the
  subject token's sign-in.

``_create_access_token``, ``_create_refresh_token`` and the claims builder
(``idp.oidc.claims.ClaimsBuilder``) read it. At userinfo and introspection the builder makes one
from the access token (``of_row``); a client-credentials request has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from idp.flow import decision
from idp.flow.session import acr_for
from idp.oidc.models import AccessToken, Application, Grant, RefreshToken
from orgs.tree.models import Organization
from orgs.tree.selectors import EligibleOrganization

AMR_SEPARATOR = " "  # how the amr list is stored on grants and tokens


@dataclass(frozen=True)
class TokenContext:
    """One token request's organization and sign-in.

    ``source`` says where the organization came from (``decision.Source``): ``TOKEN`` for a
    refresh, ``EXCHANGE`` for a token exchange, the selection's source at the authorization
    endpoint, ``NONE`` when a code is redeemed (its decision was recorded when it was issued).
    ``policy`` is the organization's policy checked for this issuance (None: no organization,
    or not checked here). ``grant`` is the grant row a code names, read once per token request
    (``CanopyValidator._grant``; before ``validate_code`` it is all the context holds).
    """

    source: str = decision.Source.NONE
    organization: Organization | None = None
    via: Organization | None = None
    auth_time: datetime | None = None
    amr: tuple[str, ...] = ()
    upstream: str = ""
    sid: str = ""
    code_hash: str = ""  # the authorization code the tokens are issued from (a replay revokes them)
    policy: decision.Policy | None = None
    grant: Grant | None = field(default=None, compare=False, repr=False)

    @classmethod
    def chosen(cls, choice: EligibleOrganization, *, source: str) -> TokenContext:
        return cls(source=source, organization=choice.organization, via=choice.via)

    @classmethod
    def of_row(cls, row: Grant | RefreshToken | AccessToken, *, source: str, code_hash: str = "") -> TokenContext:
        """What a grant or a token kept of the decision and the sign-in."""
        return cls(
            source=source,
            organization=row.organization,
            via=row.acting_via,
            auth_time=row.auth_time,
            amr=tuple(row.amr.split()),
            upstream=row.upstream,
            sid=row.sid,
            code_hash=code_hash,
            grant=row if isinstance(row, Grant) else None,
        )

    def proven(self) -> decision.Proven:
        """What the sign-in behind the token proved, for ``decision.unmet``."""
        return decision.Proven(
            amr=self.amr,
            acr=acr_for(list(self.amr)),
            auth_time=int(self.auth_time.timestamp()) if self.auth_time is not None else 0,
            upstream=self.upstream,
        )

    def row_fields(self) -> dict[str, Any]:
        """The token row's organization and authentication columns."""
        return {
            "organization": self.organization,
            "acting_via": self.via,
            "auth_time": self.auth_time,
            "amr": AMR_SEPARATOR.join(self.amr),
            "upstream": self.upstream,
            "sid": self.sid,
        }

    def sign_in_context(self, *, client: Application) -> decision.SignInContext:
        """The decision this issuance stands for, for its audit entry."""
        return decision.SignInContext(
            tenant_id=client.tenant_id,
            rp_kind="oidc",
            rp_id=client.client_id,
            rp_name=client.name,
            source=self.source,
            organization_id=str(self.organization.pk) if self.organization is not None else None,
            via_id=str(self.via.pk) if self.via is not None else None,
            organization_identifier=self.organization.identifier if self.organization is not None else "",
        )


NO_CONTEXT = TokenContext()


def token_context(request: Any) -> TokenContext | None:
    """The request's context, if the authorization or token endpoint set one."""
    found = getattr(request, "canopy", None)
    return found if isinstance(found, TokenContext) else None
