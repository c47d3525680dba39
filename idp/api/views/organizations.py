"""Management API v1: organizations (list, tree, one, move). Writes go through ``orgs.tree.services``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView
from idp.api.schema import doc_create, doc_delete, doc_list, doc_read, doc_update
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

if TYPE_CHECKING:
    from orgs.tree.models import Organization

PARENT = OpenApiParameter("parent", str, description="Parent id or identifier; `none` for top-level ones.")
IDENTIFIER = OpenApiParameter("identifier", str, description="Exact identifier (case-insensitive).")
CASCADE = OpenApiParameter("cascade", bool, description="Delete the sub-organizations too.")


def _can_move(actor: Any, org: Organization) -> bool:
    # Ownership strictly above the moved organization; the destination is checked by the service.
    return permissions.can_delete_organization(actor, org)


class OrganizationListView(TenantAPIView):
    serializer_class = OrganizationSerializer

    @doc_list("organizations_list", OrganizationSerializer, PARENT, IDENTIFIER)
    def get(self, request: Request, tenant_slug: str) -> Response:
        parent, identifier = request.query_params.get("parent"), request.query_params.get("identifier")
        return self.page_of(
            organization_list(actor=self.actor, tenant=self.tenant, parent=parent, identifier=identifier)
        )

    @doc_create("organizations_create", OrganizationCreateSerializer, OrganizationSerializer)
    def post(self, request: Request, tenant_slug: str) -> Response:
        values = dict(self.validated(OrganizationCreateSerializer))
        become_admin = values.pop("become_admin")
        parent = self.organization_in_body(values.pop("parent"), "parent")
        with transaction.atomic():
            org = services.organization_create(actor=self.actor, tenant=self.tenant, parent=parent, **values)
            if become_admin:
                sharing.sharing_share_creator(actor=self.actor, organization=org)
        return self.show(org, status=status.HTTP_201_CREATED)


class OrganizationTreeView(TenantAPIView):
    serializer_class = OrganizationTreeSerializer
    pagination_class = None  # type: ignore[assignment]

    @doc_read("organizations_tree", OrganizationTreeSerializer(many=True))
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

    @doc_read("organizations_retrieve", OrganizationSerializer)
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self.show(self.organization)

    def _update(self, *, partial: bool) -> Response:
        values = self.validated(OrganizationUpdateSerializer, partial=partial)
        org = self.change(
            self.organization,
            lambda locked: services.organization_update(actor=self.actor, organization=locked, **values),
        )
        return self.show(org)

    @doc_update("organizations_partial_update", OrganizationUpdateSerializer, OrganizationSerializer)
    def patch(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self._update(partial=True)

    @doc_update("organizations_update", OrganizationUpdateSerializer, OrganizationSerializer)
    def put(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self._update(partial=False)

    @doc_delete("organizations_destroy", CASCADE)
    def delete(self, request: Request, tenant_slug: str, org: str) -> Response:
        cascade = request.query_params.get("cascade", "").lower() in ("1", "true", "yes")
        return self.remove(
            self.organization,
            lambda locked: services.organization_delete(actor=self.actor, organization=locked, cascade=cascade),
        )


class OrganizationMoveView(TenantAPIView):
    serializer_class = OrganizationMoveSerializer
    shown_as = OrganizationSerializer
    org_permissions = {"POST": _can_move}

    @doc_update("organizations_move", OrganizationMoveSerializer, OrganizationSerializer)
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        new_parent = self.organization_in_body(self.validated(OrganizationMoveSerializer)["parent"], "parent")
        moved = self.change(
            self.organization,
            lambda locked: services.organization_move(actor=self.actor, organization=locked, new_parent=new_parent),
        )
        return self.show(moved)
