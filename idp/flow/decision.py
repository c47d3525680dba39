"""The organization decision: which organization a sign-in is for, and whether its rules were met.

Every path that issues a token or an assertion (OIDC authorize, the consent POST, refresh,
token exchange, SAML SSO in both bindings and IdP-initiated) asks this module, and none
decides on its own:

- :func:`select` chooses the organization from what the relying party asked for (the
  ``organization`` parameter, an ``organization:<x>`` scope, a SAML SP's default) or what
  the user picked, among the organizations the user may act for;
- :func:`policy_for` reads the chosen organization's effective ``login`` (and
  ``connections``) settings as a :class:`Policy`;
- :func:`unmet` compares it with what the session proved (:class:`Proven`) and names the
  factors still missing, which the journey's step-up page (``flow:stepup``) then runs;
- :func:`still_eligible` re-checks a decision made earlier (refresh, exchange);
- :func:`record` writes the decision's audit entry.

The decision itself is a :class:`SignInContext`, kept server-side by the protocol app
(the OIDC transaction, the parked SAML request) and never rebuilt from a form field.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from idp.flow import otp
from idp.flow.factors import first_factor_names, get_factor, required_extra_factors
from idp.flow.session import AuthState
from orgs.inheritance.selectors import effective_section
from orgs.tree.models import Organization
from orgs.tree.selectors import (
    EligibleOrganization,
    organizations_by_ids,
    user_eligible_organizations,
    user_eligible_organizations_uncached,
)
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant, User

PASSWORD = "password"  # noqa: S105 - the authenticator's name in login.authenticators
AUDIT_ACTION = AuditAction.SIGNIN_DECISION
AUDIT_REFUSED = AuditAction.SIGNIN_REFUSED
UNAVAILABLE = "unavailable"  # in unmet(): no factor could meet the policy (nothing set up to sign in with)


class Source(enum.StrEnum):
    """Where the organization of a sign-in came from."""

    NONE = "none"  # the relying party did not ask for an organization
    PARAMETER = "parameter"  # ?organization=<x> (OIDC authorize, SAML SSO, IdP-initiated)
    SCOPE = "scope"  # organization:<x> (OIDC)
    SP_DEFAULT = "sp_default"  # the SAML SP's registered default organization
    PICKER = "picker"  # the user chose on the picker
    ONLY = "only"  # the one organization the user may act for
    TOKEN = "token"  # a refresh: the organization of the token being refreshed  # noqa: S105
    EXCHANGE = "exchange"  # token exchange: the organization asked for


# --- policy -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Policy:
    """What an organization (None: the tenant root) requires of a sign-in, from its effective settings."""

    organization_id: str | None
    password_allowed: bool
    first_factors: tuple[str, ...]  # where no password is allowed: the factors that can start a sign-in
    required: tuple[str, ...]  # factors required after the password
    session_minutes: int

    def describe(self) -> dict[str, Any]:
        return {
            "password": self.password_allowed,
            "first_factors": list(self.first_factors),
            "required": list(self.required),
            "session_minutes": self.session_minutes,
        }


def policy_for(*, tenant: Tenant, organization: uuid.UUID | str | None) -> Policy:
    org_id = _as_uuid(organization)
    login = effective_section(tenant=tenant, organization=org_id, section="login")
    allowed = [str(a) for a in (login["authenticators"] or [])]
    codes = otp.required_factors(tenant=tenant, organization=org_id)  # listed and enabled
    if PASSWORD in allowed:
        first: tuple[str, ...] = ()
        required = (*codes, *required_extra_factors(tenant=tenant, organization=org_id))
    else:
        first = (*[n for n in first_factor_names() if n in allowed], *codes)
        required = ()
    return Policy(
        organization_id=str(org_id) if org_id else None,
        password_allowed=PASSWORD in allowed,
        first_factors=first,
        required=tuple(required),
        session_minutes=int(login["session_lifetime_minutes"]),
    )


def accepted_methods(factor: str) -> frozenset[str]:
    """The RFC 8176 methods (amr) that prove ``factor`` was passed."""
    if factor in otp.AMR:
        return frozenset({otp.AMR[factor]})
    registered = get_factor(factor)
    return registered.amr if registered is not None else frozenset()


@dataclass(frozen=True)
class Proven:
    """What the session proved: the methods, the level, when, and the upstream IdP of a federated sign-in."""

    amr: tuple[str, ...]
    acr: str
    auth_time: int
    upstream: str = ""

    @classmethod
    def of(cls, auth: AuthState) -> Proven:
        return cls(amr=tuple(auth.amr), acr=auth.acr, auth_time=auth.auth_time, upstream=auth.upstream)


def unmet(policy: Policy, proven: Proven) -> list[str]:
    """The factors the session still has to pass for ``policy`` (empty: the policy is met).

    - Where no password is allowed, one of the organization's first factors must have been
      used; a password sign-in then steps up with the first of them (a passkey, or a code). A
      federated sign-in stands for the first factor (the upstream IdP checked the person).
    - Every factor required after the password must have been passed, federated or not.
    """
    methods = set(proven.amr)
    missing: list[str] = []
    if not policy.password_allowed and not proven.upstream:
        if not any(methods & accepted_methods(f) for f in policy.first_factors):
            missing.extend(policy.first_factors[:1] or [UNAVAILABLE])
    missing.extend(f for f in policy.required if not methods & accepted_methods(f) and f not in missing)
    return missing


def met(policy: Policy, proven: Proven) -> bool:
    return not unmet(policy, proven)


# --- the decision -----------------------------------------------------------------------------
@dataclass
class SignInContext:
    """One authorization transaction's decision: who asks, for which organization, under which rules."""

    tenant_id: int
    rp_kind: str  # "oidc" or "saml"
    rp_id: str  # client_id or SP entity id
    rp_name: str
    requested: str = ""  # what the relying party named (identifier or id), "" if nothing
    source: str = Source.NONE
    organization_id: str | None = None
    via_id: str | None = None
    organization_identifier: str = ""
    stepped_up: list[str] = field(default_factory=list)  # factors run by the step-up for this decision

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignInContext:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def chose(self, choice: EligibleOrganization, source: Source) -> SignInContext:
        return replace(
            self,
            source=str(source),
            organization_id=str(choice.organization.pk),
            via_id=str(choice.via.pk) if choice.via is not None else None,
            organization_identifier=choice.organization.identifier,
        )


class Outcome(enum.Enum):
    NONE = "none"  # no organization in this sign-in
    CHOSEN = "chosen"
    DENIED = "denied"  # the named organization is not one the user may act for
    CONFLICT = "conflict"  # parameter and scope name different organizations
    NO_ORGANIZATION = "no_organization"  # one is required and the user has none
    PICK = "pick"  # the user must choose


@dataclass(frozen=True)
class Selection:
    outcome: Outcome
    choice: EligibleOrganization | None = None
    source: Source = Source.NONE
    eligible: tuple[EligibleOrganization, ...] = ()


def find(eligible: Iterable[EligibleOrganization], key: str) -> EligibleOrganization | None:
    """The entry ``key`` (an organization id or identifier, any case) names, or None."""
    key = key.strip().lower()
    for item in eligible:
        if str(item.organization.pk) == key or item.organization.identifier.lower() == key:
            return item
    return None


def select(  # noqa: PLR0911 - one return per outcome
    *,
    user: User,
    wanted: bool,
    required: bool,
    parameter: str = "",
    scope: str = "",
    sp_default: str = "",
    picked: tuple[Organization, Organization | None] | None = None,
    force_picker: bool = False,
    version: str | None = None,
) -> Selection:
    """Choose the organization of a sign-in. ``wanted``: the relying party asks for organization
    claims; ``required``: it refuses users without one; ``picked``: the picker's answer, if any."""
    parameter, scope = parameter.strip(), scope.strip()
    if not (wanted or required or parameter or scope or sp_default):
        return Selection(Outcome.NONE)
    if parameter and scope and parameter.lower() != scope.lower():
        return Selection(Outcome.CONFLICT)
    eligible = tuple(user_eligible_organizations(user=user, version=version))
    requested, source = (
        (parameter, Source.PARAMETER)
        if parameter
        else (scope, Source.SCOPE)
        if scope
        else (sp_default, Source.SP_DEFAULT)
    )
    if requested:
        match = find(eligible, requested)
        if match is None:
            return Selection(Outcome.DENIED, eligible=eligible)
        return Selection(Outcome.CHOSEN, match, source, eligible)
    if not eligible:
        return Selection(Outcome.NO_ORGANIZATION if required else Outcome.NONE, eligible=eligible)
    if picked is not None:
        match = next(
            (
                e
                for e in eligible
                if e.organization.pk == picked[0].pk
                and (e.via.pk if e.via else None) == (picked[1].pk if picked[1] else None)
            ),
            None,
        )
        if match is not None:
            return Selection(Outcome.CHOSEN, match, Source.PICKER, eligible)
    if len(eligible) == 1 and not force_picker:
        return Selection(Outcome.CHOSEN, eligible[0], Source.ONLY, eligible)
    return Selection(Outcome.PICK, eligible=eligible)


def chosen_organization(context: SignInContext, *, tenant: Tenant) -> EligibleOrganization | None:
    """The decision's (organization, via) as rows, if they still exist in the tenant."""
    ids = [i for i in (context.organization_id, context.via_id) if i]
    if not ids:
        return None
    rows = {str(o.pk): o for o in organizations_by_ids(tenant=tenant, ids=ids)}
    org = rows.get(context.organization_id or "")
    via = rows.get(context.via_id) if context.via_id else None
    if org is None or (context.via_id and via is None):
        return None
    return EligibleOrganization(organization=org, via=via)


def still_eligible(*, user: User, organization_id: Any, via_id: Any, fresh: bool = True) -> bool:
    """Is ``user`` (active) still allowed to act for the organization, the same way (member, or via)?

    ``fresh`` reads the rows (a refresh after a membership or an acts-for link was removed must
    fail); otherwise the version-checked cache of ``orgs.tree.selectors`` (invalidated on every change).
    """
    if not user.is_active:
        return False
    if organization_id is None:
        return True
    want_org, want_via = str(organization_id), str(via_id) if via_id else None
    eligible = user_eligible_organizations_uncached(user=user) if fresh else user_eligible_organizations(user=user)
    return any(str(e.organization.pk) == want_org and (str(e.via.pk) if e.via else None) == want_via for e in eligible)


# --- step-up ----------------------------------------------------------------------------------
STEPUP_DONE = "canopy_policy"  # on the protocol URL: the step-up page ran once for this decision


def step_up_url(*, tenant: Tenant, organization_id: str | None, next_url: str) -> str:
    """The journey's page that runs the missing factors of the organization's policy, then returns."""
    params = {"next": next_url}
    if organization_id:
        params["org"] = organization_id
    return f"{reverse('flow:stepup', kwargs={'tenant_slug': tenant.slug})}?{urlencode(params)}"


# --- audit ------------------------------------------------------------------------------------
def record(
    *,
    tenant: Tenant,
    user: User,
    context: SignInContext,
    policy: Policy | None,
    proven: Proven | None,
    issued: str,
) -> None:
    """One audit entry per decision that led to an issuance (``issued``: "code", "assertion", "token"…)."""
    if user.tenant_id == tenant.pk:
        user.tenant = tenant  # the actor's label names the tenant: no query for what is at hand
    audit_record(
        actor=user,
        tenant=tenant,
        action=AUDIT_ACTION,
        target=None,
        data={
            "issued": issued,
            "rp": f"{context.rp_kind}:{context.rp_id}",
            "organization": context.organization_id,
            "organization_identifier": context.organization_identifier,
            "via": context.via_id,
            "source": context.source,
            "requested": context.requested,
            "policy": policy.describe() if policy is not None else None,
            "amr": list(proven.amr) if proven is not None else [],
            "stepped_up": list(context.stepped_up),
        },
    )


def record_refusal(*, tenant: Tenant, user: User | None, context: SignInContext, reason: str) -> None:
    audit_record(
        actor=user if user is not None else SYSTEM,
        tenant=tenant,
        action=AUDIT_REFUSED,
        data={
            "rp": f"{context.rp_kind}:{context.rp_id}",
            "organization": context.organization_id,
            "via": context.via_id,
            "source": context.source,
            "reason": reason,
        },
    )


def _as_uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
