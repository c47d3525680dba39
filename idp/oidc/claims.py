"""What tokens say about a person and their organizations."""

from __future__ import annotations

from typing import Any

from idp.flow.upstreams import upstream_issuer
from idp.oidc.models import Application
from orgs.claims import organization_facts
from orgs.tree.models import Organization
from tenants.models import User

ORGANIZATION_SCOPE = "organization"
ORGANIZATION_SCOPE_PREFIX = "organization:"


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


def scope_claims(*, tenant_id: int) -> dict[str, list[str]]:
    """Scope -> claim names, as the tenant root defines them (the ``oidc_scopes`` settings section)."""
    from orgs.inheritance.selectors import effective_section

    return dict(effective_section(tenant=tenant_id, organization=None, section="oidc_scopes")["scopes"])


def standard_claims(
    *,
    user: User,
    scopes: list[str] | set[str],
    requested: set[str] | None = None,
    organization: Organization | None = None,
) -> dict[str, Any]:
    """The person's claims released by the granted scopes (per the tenant's mapping) or requested one by one.

    With an organization selected, profile values follow the tenant's source modes
    (``orgs.profiles.services.resolved_profile``).
    """
    from orgs.profiles.services import resolved_profile

    requested = set(requested or ())
    mapping = scope_claims(tenant_id=user.tenant_id) if user.tenant_id else {}
    released = set(requested)
    for scope in scopes:
        released.update(mapping.get(scope, ()))
    profile = resolved_profile(user=user, organization=organization)
    values: dict[str, Any] = {
        "name": profile["name"] or user.username,
        "given_name": profile["given_name"],
        "family_name": profile["family_name"],
        "preferred_username": user.username,
    }
    if profile["email"]:
        values["email"] = profile["email"]
        values["email_verified"] = False
    if released - values.keys():  # custom attributes, under their dialects.oidc claim names (idp.flow.attributes)
        from idp.flow.attributes import oidc_claims

        values = {**oidc_claims(user), **values}
    return {key: value for key, value in values.items() if key in released and value not in ("", None)}


def upstream_claims(*, tenant_id: int, upstream_slug: str) -> dict[str, Any]:
    """``idp``: the upstream that authenticated the person, by its issuer / entity id (else its slug here)."""
    if not upstream_slug:
        return {}
    return {"idp": upstream_issuer(tenant_id=tenant_id, slug=upstream_slug) or upstream_slug}
