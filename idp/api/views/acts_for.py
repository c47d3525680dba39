"""Management API v1: an organization's acts-for links (tenant administrators write them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import OrganizationRowsView
from idp.api.schema import doc_create, doc_delete, doc_list, doc_read
from idp.api.serializers.acts_for import ActsForCreateSerializer, ActsForLinkSerializer
from orgs.tree import permissions, services
from orgs.tree.selectors import acts_for_links, organization_get
from tenants.actors import Actor

if TYPE_CHECKING:
    from orgs.tree.models import Organization


def _tenant_links(actor: Actor, organization: Organization) -> bool:
    return permissions.can_manage_tenant_links(actor, organization.tenant)


class _LinkViews(OrganizationRowsView):
    rows = staticmethod(acts_for_links)
    serializer_class = ActsForLinkSerializer
    lock_related = ("organization__tenant", "on_behalf_of")


class ActsForListView(_LinkViews):
    org_permissions = {"GET": lambda actor, org: True, "POST": _tenant_links}

    @doc_list("acts_for_list", ActsForLinkSerializer)
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self.page_of(self.reachable_objects())

    @doc_create("acts_for_add", ActsForCreateSerializer, ActsForLinkSerializer)
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Let members of this organization act on behalf of another (tenant administrators only)."""
        other = organization_get(tenant=self.tenant, key=self.validated(ActsForCreateSerializer)["on_behalf_of"])
        if other is None:
            raise ValidationError({"on_behalf_of": ["No such organization."]})
        link = services.acts_for_add(actor=self.actor, organization=self.organization, on_behalf_of=other)
        return Response(self.represent(link), status=status.HTTP_201_CREATED)


class ActsForDetailView(_LinkViews):
    object_kwarg = "link_id"
    org_permissions = {"GET": lambda actor, org: True, "DELETE": _tenant_links}

    @doc_read("acts_for_retrieve", ActsForLinkSerializer)
    def get(self, request: Request, tenant_slug: str, org: str, link_id: int) -> Response:
        return self.show(self.object)

    @doc_delete("acts_for_remove")
    def delete(self, request: Request, tenant_slug: str, org: str, link_id: int) -> Response:
        return self.remove(self.object, lambda locked: services.acts_for_remove(actor=self.actor, link=locked))
