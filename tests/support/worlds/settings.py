"""Inherited-settings rows for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """Root and organization overrides, a propagation job, effective rows, a user store with a mapping."""
    from orgs.inheritance.propagation import job_run
    from orgs.inheritance.services import settings_override_set
    from orgs.profiles.attributes import user_store_create, user_store_mapping_set

    settings_override_set(
        actor=SYSTEM, tenant=tenant, section="branding", values={"display_name": f"{tenant.slug} brand"}
    )
    job = settings_override_set(
        actor=SYSTEM, tenant=tenant, organization=organization, section="branding", values={"primary_color": "#112233"}
    )
    job_run(job.pk)
    store = user_store_create(actor=SYSTEM, organization=organization, name=f"{tenant.slug}-store")
    user_store_mapping_set(actor=SYSTEM, store=store, attribute="emailAddresses", mapped_to="mail", multi_valued=True)
