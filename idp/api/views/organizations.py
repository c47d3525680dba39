"""Management API v1: organizations (list, tree, one, move). Writes go through ``orgs.tree.services``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.organizations import (
    OrganizationCreateSerializer,
    OrganizationMoveSerializer,
    OrganizationSerializer,
    OrganizationTreeSerializer,
    OrganizationUpdateSerializer,
)
from orgs.sharing import services as sharing
from orgs.tree import permissions, services
from orgs.tree.selectors import organization_list
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    from orgs.tree.models import Organization


def _can_move(actor: Any, org: Organization) -> bool:
    # Ownership strictly above the moved organization; the destination is checked by the service.
    return permissions.can_delete_organization(actor, org)


class OrganizationListView(TenantAPIView):
    serializer_class = OrganizationSerializer

    @extend_schema(
        operation_id="organizations_list",
        parameters=[
            OpenApiParameter("parent", str, description="Parent id or identifier; `none` for top-level ones."),
            OpenApiParameter("identifier", str, description="Exact identifier (case-insensitive)."),
        ],
        responses={200: OrganizationSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = organization_list(
            actor=self.actor,
            tenant=self.tenant,
            parent=request.query_params.get("parent"),
            identifier=request.query_params.get("identifier"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OrganizationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="organizations_create",
        request=OrganizationCreateSerializer,
        responses={201: OrganizationSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        data = OrganizationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        become_admin = values.pop("become_admin")
        parent = self.organization_in_body(values.pop("parent"), "parent")
        with transaction.atomic():
            org = services.organization_create(actor=self.actor, tenant=self.tenant, parent=parent, **values)
            if become_admin:
                sharing.sharing_share_creator(actor=self.actor, organization=org)
        body = OrganizationSerializer(org).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": etag_of(body)})


class OrganizationTreeView(TenantAPIView):
    serializer_class = OrganizationTreeSerializer
    pagination_class = None  # type: ignore[assignment]

    @extend_schema(
        operation_id="organizations_tree", responses={200: OrganizationTreeSerializer(many=True), **PROBLEMS}
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        """Everything you reach, nested; the tops are the organizations you administer."""
        orgs = list(self.reach().order_by("path"))
        ids = {o.pk for o in orgs}
        children: dict[Any, list[Organization]] = {}
        tops = []
        for o in orgs:
            if o.parent_id in ids:
                children.setdefault(o.parent_id, []).append(o)
            else:
                tops.append(o)
        context = {"children": children}
        return Response([OrganizationTreeSerializer(o, context=context).data for o in tops])


class OrganizationDetailView(TenantAPIView):
    serializer_class = OrganizationSerializer
    org_permissions = {
        "GET": lambda actor, org: True,
        "PATCH": permissions.can_edit_organization,
        "PUT": permissions.can_edit_organization,
        "DELETE": permissions.can_delete_organization,
    }

    def _body(self, org: Organization) -> dict[str, Any]:
        return dict(OrganizationSerializer(org).data)

    @extend_schema(operation_id="organizations_retrieve", responses={200: OrganizationSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        body = self._body(self.organization)
        return Response(body, headers={"ETag": etag_of(body)})

    def _update(self, request: Request, *, partial: bool) -> Response:
        data = OrganizationUpdateSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        org = write_if_unchanged(
            self.organization,
            lambda locked: services.organization_update(actor=self.actor, organization=locked, **data.validated_data),
            expected_etag=self.expected_etag(self._body),
        )
        body = self._body(org)
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="organizations_partial_update",
        parameters=[IF_MATCH],
        request=OrganizationUpdateSerializer,
        responses={200: OrganizationSerializer, **ETAG_PROBLEMS},
    )
    def patch(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self._update(request, partial=True)

    @extend_schema(
        operation_id="organizations_update",
        parameters=[IF_MATCH],
        request=OrganizationUpdateSerializer,
        responses={200: OrganizationSerializer, **ETAG_PROBLEMS},
    )
    def put(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        operation_id="organizations_destroy",
        parameters=[IF_MATCH, OpenApiParameter("cascade", bool, description="Delete the sub-organizations too.")],
        responses={204: None, **ETAG_PROBLEMS},
    )
    def delete(self, request: Request, tenant_slug: str, org: str) -> Response:
        cascade = request.query_params.get("cascade", "").lower() in ("1", "true", "yes")
        write_if_unchanged(
            self.organization,
            lambda locked: services.organization_delete(actor=self.actor, organization=locked, cascade=cascade),
            expected_etag=self.expected_etag(self._body),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationMoveView(TenantAPIView):
    serializer_class = OrganizationMoveSerializer
    org_permissions = {"POST": _can_move}

    @extend_schema(
        operation_id="organizations_move",
        parameters=[IF_MATCH],
        request=OrganizationMoveSerializer,
        responses={200: OrganizationSerializer, **ETAG_PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        data = OrganizationMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new_parent = self.organization_in_body(data.validated_data["parent"], "parent")
        moved = write_if_unchanged(
            self.organization,
            lambda locked: services.organization_move(actor=self.actor, organization=locked, new_parent=new_parent),
            expected_etag=self.expected_etag(lambda org: OrganizationSerializer(org).data),
        )
        body = OrganizationSerializer(moved).data
        return Response(body, headers={"ETag": etag_of(body)})
