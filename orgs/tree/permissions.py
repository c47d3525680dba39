"""Who may do what to an organization. Services call these; views never decide.

Powers, from the product's delegation model:
- tenant administrators (and the system) may do everything in their tenant;
- an **owner** of an organization (or of any ancestor) creates sub-organizations,
  edits them, and appoints administrators; appointing another owner needs
  ownership strictly above the organization;
- an **admin** of an organization (or of any ancestor) manages the people in it
  and may appoint further admins there;
- a **member** has no administrative power.
"""

from __future__ import annotations

from orgs.tree.models import Membership, Organization
from orgs.tree.selectors import role_above, role_in_lineage
from tenants.actors import Actor, SystemActor, is_tenant_admin
from tenants.models import Tenant

OWNER = Membership.Role.OWNER
ADMIN = Membership.Role.ADMIN
MEMBER = Membership.Role.MEMBER


def _same_tenant(actor: Actor, tenant_id: int) -> bool:
    return isinstance(actor, SystemActor) or actor.tenant_id == tenant_id or actor.tenant_id is None


def _lineage_role(actor: Actor, organization: Organization) -> str | None:
    if isinstance(actor, SystemActor) or not actor.is_active or actor.tenant_id != organization.tenant_id:
        return None
    return role_in_lineage(user=actor, organization=organization)


def _above_role(actor: Actor, organization: Organization) -> str | None:
    if isinstance(actor, SystemActor) or not actor.is_active or actor.tenant_id != organization.tenant_id:
        return None
    return role_above(user=actor, organization=organization)


def can_create_organization(actor: Actor, *, tenant: Tenant, parent: Organization | None) -> bool:
    if is_tenant_admin(actor, tenant):
        return True
    if parent is None:
        return False  # only tenant administrators create top-level organizations
    return _lineage_role(actor, parent) == OWNER


def can_edit_organization(actor: Actor, organization: Organization) -> bool:
    return is_tenant_admin(actor, organization.tenant) or _lineage_role(actor, organization) == OWNER


def can_delete_organization(actor: Actor, organization: Organization) -> bool:
    return is_tenant_admin(actor, organization.tenant) or _above_role(actor, organization) == OWNER


def can_move_organization(actor: Actor, organization: Organization, new_parent: Organization | None) -> bool:
    """Needs rights on both ends: ownership above the moved organization and over the destination."""
    if is_tenant_admin(actor, organization.tenant):
        return True
    if new_parent is None:
        return False
    return _above_role(actor, organization) == OWNER and _lineage_role(actor, new_parent) == OWNER


def can_manage_members(actor: Actor, organization: Organization) -> bool:
    return is_tenant_admin(actor, organization.tenant) or _lineage_role(actor, organization) in {OWNER, ADMIN}


def can_grant_role(actor: Actor, organization: Organization, role: str) -> bool:
    if is_tenant_admin(actor, organization.tenant):
        return True
    lineage = _lineage_role(actor, organization)
    if role == OWNER:
        return _above_role(actor, organization) == OWNER
    if role in {ADMIN, MEMBER}:
        return lineage in {OWNER, ADMIN}
    return False


def can_manage_tenant_links(actor: Actor, tenant: Tenant) -> bool:
    """Acts-for links and domain verification cross organizations: tenant administrators only."""
    return is_tenant_admin(actor, tenant)
