"""Account rows for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """A recorded browser session of the member."""
    from idp.account.models import SessionRecord

    SessionRecord.objects.create(tenant=tenant, user=member, session_key=f"{tenant.slug}-session".ljust(32, "x")[:40])
