"""Delegated administration in the Django admin (registered from ``OrgsConfig.ready``).

Owners and admins of organizations sign in to the admin and reach only their subtree:
organizations (``orgs.tree.delegation.administered_organizations``), memberships there, and
the users who are members there (read-only). Every write goes through ``orgs.tree.services``,
which apply the role powers and the parent-membership rule. Any other model stays
closed to them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from orgs.tree.delegation import (
    administered_memberships,
    administered_organizations,
    administered_users,
    is_delegated_admin,
)
from orgs.tree.models import Membership, Organization
from tenants.admin_base import register_delegated_scope
from tenants.admin_site import register_delegation_check
from tenants.models import User


def _tenant_of(user: Any) -> Any:
    return user.tenant


def _organizations(user: Any) -> QuerySet[Any]:

    return administered_organizations(actor=user, tenant=_tenant_of(user))


def _memberships(user: Any) -> QuerySet[Any]:

    return administered_memberships(actor=user, tenant=_tenant_of(user))


def _users(user: Any) -> QuerySet[Any]:

    return administered_users(actor=user, tenant=_tenant_of(user))


def _is_delegated(user: Any) -> bool:

    return is_delegated_admin(user=user)


def register() -> None:

    register_delegation_check(_is_delegated)
    register_delegated_scope(Organization, _organizations, writable=True)
    register_delegated_scope(Membership, _memberships, writable=True)
    register_delegated_scope(User, _users, writable=False)
