"""What tokens say about a person and their organizations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idp.oidc.models import Application
from orgs.claims import organization_facts
from orgs.models import Organization
from tenants.models import User

ORGANIZATION_SCOPE = "organization"
ORGANIZATION_SCOPE_PREFIX = "organization:"


@dataclass(frozen=True)
class Selection:
    organization: Organization
    via: Organization | None = None


def wants_organization(scopes: list[str] | set[str]) -> bool:
    return any(s == ORGANIZATION_SCOPE or s.startswith(ORGANIZATION_SCOPE_PREFIX) for s in scopes)


def requested_organization_scopes(scopes: list[str] | set[str]) -> list[str]:
    return [s[len(ORGANIZATION_SCOPE_PREFIX) :] for s in scopes if s.startswith(ORGANIZATION_SCOPE_PREFIX)]


def organization_claims(
    *, application: Application, user: User, organization: Organization | None, via: Organization | None
) -> dict[str, Any]:
    """org_ids/org_names (every membership) and org_id/org_name (the selection), names per client."""
    return organization_facts(
        user=user,
        organization=organization,
        via=via,
        by_identifier=application.org_name_source == Application.OrgNameSource.IDENTIFIER,
        name=application.claim_name,
    )


def standard_claims(*, user: User, scopes: list[str] | set[str], requested: set[str] | None = None) -> dict[str, Any]:
    """Profile and email claims, by scope or by an individual claims request."""
    requested = requested or set()
    out: dict[str, Any] = {}
    profile = {
        "name": user.get_full_name() or user.username,
        "given_name": user.first_name,
        "family_name": user.last_name,
        "preferred_username": user.username,
    }
    email: dict[str, str | bool] = {"email": user.email, "email_verified": False}
    for key, value in profile.items():
        if ("profile" in scopes or key in requested) and value not in ("", None):
            out[key] = value
    if user.email:
        for key, email_value in email.items():
            if "email" in scopes or key in requested:
                out[key] = email_value
    return out
