"""Reads of organizations' own profile values."""

from __future__ import annotations

from orgs.profiles.models import OrganizationProfileValue
from orgs.tree.models import Organization


def profile_values_own(*, organization: Organization, user_id: int) -> dict[str, str]:
    """The values ``organization`` set itself for the user (attribute → value)."""
    rows = OrganizationProfileValue.objects.filter(organization=organization, user_id=user_id)
    return dict(rows.values_list("attribute", "value"))
