"""Rows of a tenant by their natural keys (the demo's organizations and users, a world's)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.models import Tenant, User


def org(tenant: Tenant, identifier: str) -> Organization:
    return Organization.objects.get(tenant=tenant, identifier=identifier)


def user(tenant: Tenant, username: str) -> User:
    return User.objects.get(tenant=tenant, username=username)
