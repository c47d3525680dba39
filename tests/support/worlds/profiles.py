"""Organization profile values for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """One organization's own value of a member's given name."""
    from orgs.profiles.models import OrganizationProfileValue

    OrganizationProfileValue.objects.create(
        tenant=tenant, organization=organization, user=member, attribute="given_name", value=f"{tenant.slug} name"
    )
