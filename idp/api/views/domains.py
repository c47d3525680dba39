"""Management API v1: an organization's email domains (``orgs.tree.services.domain_add/remove``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import OrganizationRowsView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.domains import OrganizationDomainSerializer
from orgs.tree import permissions, services
from orgs.tree.selectors import organization_domains
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    pass


class OrganizationDomainListView(OrganizationRowsView):
    rows = staticmethod(organization_domains)
    serializer_class = OrganizationDomainSerializer
    org_permissions = {"GET": lambda actor, org: True, "POST": permissions.can_edit_organization}

    @extend_schema(
        operation_id="organization_domains_list", responses={200: OrganizationDomainSerializer(many=True), **PROBLEMS}
    )
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        page = self.paginate_queryset(self.reachable_objects())
        return self.get_paginated_response(OrganizationDomainSerializer(page, many=True).data)

    @extend_schema(
        operation_id="organization_domains_add",
        request=OrganizationDomainSerializer,
        responses={201: OrganizationDomainSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Claim an email domain (unverified; verification is a tenant administrator's, in the admin)."""
        data = OrganizationDomainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.domain_add(
            actor=self.actor, organization=self.organization, domain=data.validated_data["domain"]
        )
        return Response(OrganizationDomainSerializer(row).data, status=status.HTTP_201_CREATED)


class OrganizationDomainDetailView(OrganizationRowsView):
    rows = staticmethod(organization_domains)
    serializer_class = OrganizationDomainSerializer
    object_kwarg = "domain_id"
    org_permissions = {"GET": lambda actor, org: True, "DELETE": permissions.can_edit_organization}

    @extend_schema(
        operation_id="organization_domains_retrieve", responses={200: OrganizationDomainSerializer, **PROBLEMS}
    )
    def get(self, request: Request, tenant_slug: str, org: str, domain_id: int) -> Response:
        body = OrganizationDomainSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="organization_domains_remove", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS}
    )
    def delete(self, request: Request, tenant_slug: str, org: str, domain_id: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: services.domain_remove(actor=self.actor, domain=locked),
            expected_etag=self.expected_etag(lambda domain: OrganizationDomainSerializer(domain).data),
            related=("organization__tenant",),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
