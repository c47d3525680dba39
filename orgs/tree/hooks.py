"""What the organization tree tells the features built on it: an organization was created or moved.

``orgs.tree.services`` (the tree's writer) calls :func:`organization_created` / :func:`organization_moved`
inside its transaction, after the row (or the subtree's paths) is written and before the audit
event; the features that follow the tree — inherited settings (``orgs.inheritance.services``) and
sharing (``orgs.sharing``) — subscribe in ``OrgsConfig.ready()``. So the tree imports neither, and a
hook that raises rolls the write back.

Hooks run in the order they were registered; registering the same hook twice keeps one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tenants.registry import Registry

if TYPE_CHECKING:
    from orgs.tree.models import Organization


class OrganizationHook(Protocol):
    def __call__(self, *, organization: Organization) -> object: ...


CREATED: Registry[OrganizationHook] = Registry("organization-created hook")
MOVED: Registry[OrganizationHook] = Registry("organization-moved hook")


def on_organization_created(hook: OrganizationHook) -> OrganizationHook:
    """``hook(organization=)`` runs inside ``organization_create``'s transaction, for the new organization."""
    return CREATED.register(hook)


def on_organization_moved(hook: OrganizationHook) -> OrganizationHook:
    """``hook(organization=)`` runs inside ``organization_move``'s transaction, with the new path set."""
    return MOVED.register(hook)


def organization_created(*, organization: Organization) -> None:
    for hook in CREATED:
        hook(organization=organization)


def organization_moved(*, organization: Organization) -> None:
    for hook in MOVED:
        hook(organization=organization)
