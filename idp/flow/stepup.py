"""Step-up on request: a client (OIDC ``acr_values``) or an SP (SAML ``RequestedAuthnContext``)
asks for a second factor even where the organization does not require one.

The protocol apps put ``acr_values=urn:canopy:acr:mfa`` on the URL the login journey returns
to (its ``next``); the password step reads it there, like the organization in context. After
a right password the journey then asks for one factor the user can pass here: a registered
factor that says it can (``idp.flow.factors``: a passkey the user has, then push where the
organization enables it and a push service is set), else a code the organization's effective
``connections`` enable and the user can receive (email first, then SMS). When none is
possible the journey signs in with the password alone and the protocol app, seeing
``STEPUP_MARK`` on its URL (it sent the user through the journey once already) and an acr
below MFA, refuses: OIDC ``unmet_authentication_requirements``, SAML ``NoAuthnContext``.
"""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

from django.http import HttpRequest

from idp.flow import otp
from idp.flow.factors import step_up_factors
from idp.flow.session import ACR_MFA, ACR_PASSWORD, AMR_PASSWORD, SESSION_LOGIN, sign_in
from orgs.inheritance.selectors import effective_section
from tenants.models import Tenant, User

ACR_VALUES = "acr_values"
STEPUP_MARK = "canopy_stepup"  # on the protocol URL: the journey already ran for this step-up


def mfa_requested(acr_values: str) -> bool:
    """True when the requested levels (space-separated, RFC 6749 style) accept only MFA."""
    values = (acr_values or "").split()
    return ACR_MFA in values and ACR_PASSWORD not in values


def next_wants_mfa(next_url: str) -> bool:
    query = parse_qs(urlsplit(next_url or "").query)
    return any(mfa_requested(v) for v in query.get(ACR_VALUES, []))


def stepup_choices(*, tenant: Tenant, organization: uuid.UUID | None, user: User) -> list[str]:
    """Every factor ``user`` can step up with here, best first: registered factors, then codes."""
    return [
        *step_up_factors(tenant=tenant, organization=organization, user=user),
        *stepup_factors(tenant=tenant, organization=organization, user=user),
    ]


def stepup_factors(*, tenant: Tenant, organization: uuid.UUID | None, user: User) -> list[str]:
    """The code factors enabled for the organization that ``user`` can receive, email first."""
    connections = effective_section(tenant=tenant, organization=organization, section="connections")
    return [f for f in otp.FACTORS if (connections[f] or {}).get("enabled") and otp.destination(user, f)]


def sign_in_without_stepup(request: HttpRequest, *, tenant: Tenant, user: User) -> None:
    """No factor can be asked: sign in with the password alone; the protocol app then refuses."""
    request.session.pop(SESSION_LOGIN, None)
    sign_in(
        request,
        user=user,
        tenant=tenant,
        amr=[AMR_PASSWORD],
        acr=ACR_PASSWORD,
        backend=str(getattr(user, "backend", "") or ""),
    )
