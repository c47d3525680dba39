"""Sharing rows for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """A tenant-level user shared with the organization and its children."""
    from orgs.sharing.models import SharingPolicy
    from orgs.sharing.services import sharing_policy_set
    from tenants.services import user_create

    shared = user_create(
        actor=SYSTEM,
        tenant=tenant,
        username="tess",
        email=f"tess@{tenant.slug}.example",
        password="tess-demo-pass",
        validate_password_strength=False,
    )
    sharing_policy_set(
        actor=SYSTEM,
        tenant=tenant,
        user=shared,
        organization=organization,
        mode=SharingPolicy.Mode.WITH_CHILDREN,
    )
    from orgs.invitations.services import invitation_create

    invitation_create(actor=SYSTEM, organization=organization, email=f"invitee@{tenant.slug}.example")
