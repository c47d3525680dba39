"""The facts a sign-in reports about a person and their organizations, shared by the protocol apps.

OIDC (``idp.oidc.claims``) and SAML (``idp.saml.attributes``) take them from here and only map
them to their wire names.

Person facts: ``username``, ``name``, ``given_name``, ``family_name``, ``email``, resolved for
the selected organization by the tenant's source modes (``orgs.profiles.services.resolved_profile``);
``name`` falls back to the username, the others are "" when unknown.

Organization facts (the same semantics for every protocol): ``org_ids``/``org_names`` list
every membership, ``org_id``/``org_name`` are the selected organization, ``org_acting_for`` is
the id of the member organization the selection came through (acts-for link). Names are
identifiers or display names, per client.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orgs.profiles.services import resolved_profile
from orgs.tree.models import Organization
from orgs.tree.selectors import user_eligible_organizations
from tenants.models import User

PERSON_FACT_KEYS = ("username", "name", "given_name", "family_name", "email")
ORG_CLAIM_KEYS = ("org_ids", "org_names", "org_id", "org_name", "org_acting_for")


def person_facts(*, user: User, organization: Organization | None) -> dict[str, str]:
    """The person's facts keyed by :data:`PERSON_FACT_KEYS`, with ``organization`` selected ("" = no value)."""
    profile = resolved_profile(user=user, organization=organization)  # the tenant's source modes
    return {
        "username": user.username,
        "name": profile["name"] or user.username,
        "given_name": profile["given_name"],
        "family_name": profile["family_name"],
        "email": profile["email"],
    }


def organization_facts(
    *,
    user: User,
    organization: Organization | None,
    via: Organization | None,
    by_identifier: bool,
    name: Callable[[str], str] = str,
    memberships: list[Organization] | None = None,
) -> dict[str, Any]:
    """The facts keyed by ``name(key)`` (``key`` in :data:`ORG_CLAIM_KEYS`); lists for the multi-valued ones.

    ``memberships``: the user's organizations if the caller has them already (as
    ``user_organizations`` returns them); otherwise they come from the cached eligible
    organizations (no query when warm).
    """

    def label(org: Organization) -> str:
        return org.identifier if by_identifier else org.display_name

    if memberships is None:  # the same organizations, in the same order, from the per-process cache
        memberships = [e.organization for e in user_eligible_organizations(user=user) if e.via is None]
    orgs = memberships
    facts: dict[str, Any] = {
        name("org_ids"): [str(o.pk) for o in orgs],
        name("org_names"): [label(o) for o in orgs],
    }
    if organization is not None:
        facts[name("org_id")] = str(organization.pk)
        facts[name("org_name")] = label(organization)
        if via is not None:
            facts[name("org_acting_for")] = str(via.pk)
    return facts
