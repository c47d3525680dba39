"""Management API v1: an organization's acts-for links (tenant administrators write them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import OrganizationRowsView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.acts_for import ActsForCreateSerializer, ActsForLinkSerializer
from orgs.tree import permissions, services
from orgs.tree.selectors import acts_for_links, organization_get
from tenants.actors import Actor
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    from orgs.tree.models import Organization


def _tenant_links(actor: Actor, organization: Organization) -> bool:
    return permissions.can_manage_tenant_links(actor, organization.tenant)


class ActsForListView(OrganizationRowsView):
    rows = staticmethod(acts_for_links)
    serializer_class = ActsForLinkSerializer
    org_permissions = {"GET": lambda actor, org: True, "POST": _tenant_links}

    @extend_schema(operation_id="acts_for_list", responses={200: ActsForLinkSerializer(many=True), **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        page = self.paginate_queryset(self.reachable_objects())
        return self.get_paginated_response(ActsForLinkSerializer(page, many=True).data)

    @extend_schema(
        operation_id="acts_for_add", request=ActsForCreateSerializer, responses={201: ActsForLinkSerializer, **PROBLEMS}
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Let members of this organization act on behalf of another (tenant administrators only)."""
        data = ActsForCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        other = organization_get(tenant=self.tenant, key=data.validated_data["on_behalf_of"])
        if other is None:
            raise ValidationError({"on_behalf_of": ["No such organization."]})
        link = services.acts_for_add(actor=self.actor, organization=self.organization, on_behalf_of=other)
        return Response(ActsForLinkSerializer(link).data, status=status.HTTP_201_CREATED)


class ActsForDetailView(OrganizationRowsView):
    rows = staticmethod(acts_for_links)
    serializer_class = ActsForLinkSerializer
    object_kwarg = "link_id"
    org_permissions = {"GET": lambda actor, org: True, "DELETE": _tenant_links}

    @extend_schema(operation_id="acts_for_retrieve", responses={200: ActsForLinkSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str, link_id: int) -> Response:
        body = ActsForLinkSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="acts_for_remove", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, org: str, link_id: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: services.acts_for_remove(actor=self.actor, link=locked),
            expected_etag=self.expected_etag(lambda link: ActsForLinkSerializer(link).data),
            related=("organization__tenant", "on_behalf_of"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
