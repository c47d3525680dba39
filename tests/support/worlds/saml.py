"""SAML rows for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """A registered service provider with a default organization."""
    from idp.saml.models import BINDING_POST
    from idp.saml.services import service_provider_create

    service_provider_create(
        actor=SYSTEM,
        tenant=tenant,
        entity_id=f"https://{tenant.slug}.example/saml/metadata",
        name=f"{tenant.slug} SAML app",
        acs=[{"url": f"https://{tenant.slug}.example/saml/acs", "binding": BINDING_POST, "index": 0, "default": True}],
        default_organization=organization,
    )
