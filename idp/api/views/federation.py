"""Management API v1: upstream identity providers and the domains they claim.

Tenant administrators manage them (``idp.federation.services`` refuses anyone else); a
delegated administrator sees only IdPs owned by an organization in their reach. The client
secret is write-only: stored encrypted, never returned (``has_client_secret`` says if one is set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import OrgCheck, TenantAPIView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.federation import (
    UpstreamDomainCreateSerializer,
    UpstreamDomainSerializer,
    UpstreamIdPCreateSerializer,
    UpstreamIdPSerializer,
    UpstreamIdPUpdateSerializer,
)
from idp.federation.models import UpstreamDomain, UpstreamIdP
from idp.federation.services import (
    domain_check_dns,
    domain_claim,
    domain_release,
    upstream_idp_create,
    upstream_idp_delete,
    upstream_idp_update,
)
from tenants.actors import Actor, is_tenant_admin
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    from orgs.tree.models import Organization


def _tenant_admin(actor: Actor, organization: Organization) -> bool:
    return is_tenant_admin(actor, organization.tenant)


ADMIN_WRITES: dict[str, OrgCheck] = {"POST": _tenant_admin, "PATCH": _tenant_admin, "DELETE": _tenant_admin}


class _IdPViews(TenantAPIView):
    serializer_class = UpstreamIdPSerializer
    object_kwarg = "idp_id"
    org_permissions = ADMIN_WRITES

    def reachable_objects(self) -> QuerySet[Any]:
        return self.in_reach(UpstreamIdP.objects.select_related("tenant", "organization"))

    def _values(self, data: dict[str, Any]) -> dict[str, Any]:
        """Organization keys in the body → organizations of this tenant (400 for unknown ones)."""
        values = dict(data)
        if "organization" in values:
            values["organization"] = self.organization_in_body(values["organization"], "organization")
        if "jit_organizations" in values:
            values["jit_organizations"] = [
                self.organization_in_body(key, "jit_organizations") for key in values["jit_organizations"]
            ]
        return values


class UpstreamIdPListView(_IdPViews):
    @extend_schema(
        operation_id="upstream_idps_list",
        parameters=[OpenApiParameter("kind", str, enum=UpstreamIdP.Kind.values)],
        responses={200: UpstreamIdPSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = self.reachable_objects().order_by("name", "pk")
        kind = request.query_params.get("kind")
        if kind:
            qs = qs.filter(kind=kind)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(UpstreamIdPSerializer(page, many=True).data)

    @extend_schema(
        operation_id="upstream_idps_create",
        request=UpstreamIdPCreateSerializer,
        responses={201: UpstreamIdPSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        data = UpstreamIdPCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = self._values(data.validated_data)
        with transaction.atomic():
            idp = upstream_idp_create(actor=self.actor, tenant=self.tenant, **values)
        body = UpstreamIdPSerializer(idp).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": etag_of(body)})


class UpstreamIdPDetailView(_IdPViews):
    @extend_schema(operation_id="upstream_idps_retrieve", responses={200: UpstreamIdPSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        body = UpstreamIdPSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="upstream_idps_partial_update",
        parameters=[IF_MATCH],
        request=UpstreamIdPUpdateSerializer,
        responses={200: UpstreamIdPSerializer, **ETAG_PROBLEMS},
    )
    def patch(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        data = UpstreamIdPUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = self._values(data.validated_data)
        idp = write_if_unchanged(
            self.object,
            lambda locked: upstream_idp_update(actor=self.actor, idp=locked, **values),
            expected_etag=self.expected_etag(lambda idp: UpstreamIdPSerializer(idp).data),
            related=("tenant",),
        )
        body = UpstreamIdPSerializer(idp).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="upstream_idps_destroy", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: upstream_idp_delete(actor=self.actor, idp=locked),
            expected_etag=self.expected_etag(lambda idp: UpstreamIdPSerializer(idp).data),
            related=("tenant",),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UpstreamDomainListView(_IdPViews):
    serializer_class = UpstreamDomainSerializer

    @extend_schema(
        operation_id="upstream_domains_list", responses={200: UpstreamDomainSerializer(many=True), **PROBLEMS}
    )
    def get(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        qs = UpstreamDomain.objects.filter(tenant=self.tenant, idp=self.object).order_by("domain")
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(UpstreamDomainSerializer(page, many=True).data)

    @extend_schema(
        operation_id="upstream_domains_claim",
        request=UpstreamDomainCreateSerializer,
        responses={201: UpstreamDomainSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        """Claim a domain, unverified; the answer names the TXT record that verifies it."""
        data = UpstreamDomainCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = domain_claim(actor=self.actor, idp=self.object, domain=data.validated_data["domain"])
        return Response(UpstreamDomainSerializer(row).data, status=status.HTTP_201_CREATED)


class _DomainViews(TenantAPIView):
    serializer_class = UpstreamDomainSerializer
    object_kwarg = "upstream_domain_id"
    org_permissions = ADMIN_WRITES

    def reachable_objects(self) -> QuerySet[Any]:
        idps = self.in_reach(UpstreamIdP.objects.all())
        return UpstreamDomain.objects.select_related("idp__tenant", "idp__organization").filter(
            tenant=self.tenant, idp_id=self.kwargs.get("idp_id"), idp__in=idps
        )

    def object_organization(self, obj: Any) -> Organization | None:
        return obj.idp.organization  # type: ignore[no-any-return]


class UpstreamDomainDetailView(_DomainViews):
    @extend_schema(operation_id="upstream_domains_retrieve", responses={200: UpstreamDomainSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, idp_id: int, upstream_domain_id: int) -> Response:
        body = UpstreamDomainSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="upstream_domains_release", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS}
    )
    def delete(self, request: Request, tenant_slug: str, idp_id: int, upstream_domain_id: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: domain_release(actor=self.actor, domain=locked),
            expected_etag=self.expected_etag(lambda domain: UpstreamDomainSerializer(domain).data),
            related=("idp__tenant",),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class UpstreamDomainVerifyView(_DomainViews):
    @extend_schema(
        operation_id="upstream_domains_verify",
        request=None,
        responses={200: UpstreamDomainSerializer, **PROBLEMS},
        description="Look up the domain's TXT challenge record now; `verified` and `last_check` say how it went.",
    )
    def post(self, request: Request, tenant_slug: str, idp_id: int, upstream_domain_id: int) -> Response:
        domain_check_dns(actor=self.actor, domain=self.object)
        self.object.refresh_from_db()
        return Response(UpstreamDomainSerializer(self.object).data)
