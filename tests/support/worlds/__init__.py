"""The isolation worlds: each module here adds its app's tenant-owned rows to a world.

The admin isolation matrix fails for any tenant-owned model without rows, so an app that adds such a
model adds a module here with ``extend_world(*, tenant, member, organization)``; they run in name order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orgs.tree.models import ActsForLink, Membership, Organization, OrganizationDomain
from orgs.tree.services import acts_for_add, domain_add, membership_add, organization_create, organization_user_create
from tenants.actors import SYSTEM
from tenants.models import Tenant, User
from tenants.services import signing_keys_rotate, tenant_create, user_create


def world_extensions() -> list[Callable[..., None]]:
    """The ``extend_world`` of every module of this package, in name order."""
    modules = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem != "__init__")
    return [importlib.import_module(f"{__name__}.{name}").extend_world for name in modules]


@dataclass
class World:
    """Every kind of tenant-owned row, in one tenant."""

    tenant: Tenant
    admin: User
    root: Organization
    child: Organization
    partner: Organization
    member: User
    membership: Membership
    domain: OrganizationDomain
    link: ActsForLink


def build_world(slug: str, *, username_prefix: str = "") -> World:
    tenant = tenant_create(actor=SYSTEM, slug=slug, display_name=slug.title())
    admin = user_create(
        actor=SYSTEM,
        tenant=tenant,
        username="sam",
        email=f"sam@{slug}.example",
        password="sam-demo-pass",
        is_tenant_admin_flag=True,
        validate_password_strength=False,
    )
    root = organization_create(actor=SYSTEM, tenant=tenant, identifier=f"{slug}-root", display_name=f"{slug} Root")
    child = organization_create(
        actor=SYSTEM, tenant=tenant, identifier=f"{slug}-child", display_name=f"{slug} Child", parent=root
    )
    partner = organization_create(actor=SYSTEM, tenant=tenant, identifier=f"{slug}-partner", display_name="Partner")
    member = organization_user_create(
        actor=SYSTEM,
        organization=root,
        username=f"{username_prefix}alice",
        email=f"alice@{slug}.example",
        password="alice-demo-pass",
        validate_password_strength=False,
    )
    membership = membership_add(actor=SYSTEM, organization=child, user=member)
    domain = domain_add(actor=SYSTEM, organization=child, domain=f"{slug}-corp.example", verified=True)
    link = acts_for_add(actor=SYSTEM, organization=partner, on_behalf_of=root)
    signing_keys_rotate(actor=SYSTEM, tenant=tenant)  # retired keys too
    for extend in world_extensions():
        extend(tenant=tenant, member=member, organization=root)
    return World(tenant, admin, root, child, partner, member, membership, domain, link)
