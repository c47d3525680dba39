"""Management API v1: upstream identity providers and the domains they claim.

Tenant administrators manage them (``idp.federation.services`` refuses anyone else); a
delegated administrator sees only IdPs owned by an organization in their reach. The client
secret is write-only: stored encrypted, never returned (``has_client_secret`` says if one is set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import OrgCheck, TenantAPIView
from idp.api.schema import doc_action, doc_create, doc_delete, doc_list, doc_read, doc_update
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

if TYPE_CHECKING:
    from orgs.tree.models import Organization


def _tenant_admin(actor: Actor, organization: Organization) -> bool:
    return is_tenant_admin(actor, organization.tenant)


KIND = OpenApiParameter("kind", str, enum=UpstreamIdP.Kind.values)
ADMIN_WRITES: dict[str, OrgCheck] = {"POST": _tenant_admin, "PATCH": _tenant_admin, "DELETE": _tenant_admin}


class _IdPViews(TenantAPIView):
    serializer_class = UpstreamIdPSerializer
    object_kwarg = "idp_id"
    org_permissions = ADMIN_WRITES
    lock_related = ("tenant",)

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
    @doc_list("upstream_idps_list", UpstreamIdPSerializer, KIND)
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = self.reachable_objects().order_by("name", "pk")
        kind = request.query_params.get("kind")
        return self.page_of(qs.filter(kind=kind) if kind else qs)

    @doc_create("upstream_idps_create", UpstreamIdPCreateSerializer, UpstreamIdPSerializer)
    def post(self, request: Request, tenant_slug: str) -> Response:
        values = self._values(self.validated(UpstreamIdPCreateSerializer))
        with transaction.atomic():
            idp = upstream_idp_create(actor=self.actor, tenant=self.tenant, **values)
        return self.show(idp, status=status.HTTP_201_CREATED)


class UpstreamIdPDetailView(_IdPViews):
    @doc_read("upstream_idps_retrieve", UpstreamIdPSerializer)
    def get(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        return self.show(self.object)

    @doc_update("upstream_idps_partial_update", UpstreamIdPUpdateSerializer, UpstreamIdPSerializer)
    def patch(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        values = self._values(self.validated(UpstreamIdPUpdateSerializer, partial=True))
        return self.show(self.change(self.object, lambda idp: upstream_idp_update(actor=self.actor, idp=idp, **values)))

    @doc_delete("upstream_idps_destroy")
    def delete(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        return self.remove(self.object, lambda idp: upstream_idp_delete(actor=self.actor, idp=idp))


class UpstreamDomainListView(_IdPViews):
    serializer_class = UpstreamDomainSerializer

    @doc_list("upstream_domains_list", UpstreamDomainSerializer)
    def get(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        return self.page_of(UpstreamDomain.objects.filter(tenant=self.tenant, idp=self.object).order_by("domain"))

    @doc_create("upstream_domains_claim", UpstreamDomainCreateSerializer, UpstreamDomainSerializer)
    def post(self, request: Request, tenant_slug: str, idp_id: int) -> Response:
        """Claim a domain, unverified; the answer names the TXT record that verifies it."""
        domain = self.validated(UpstreamDomainCreateSerializer)["domain"]
        row = domain_claim(actor=self.actor, idp=self.object, domain=domain)
        return Response(self.represent(row), status=status.HTTP_201_CREATED)


class _DomainViews(TenantAPIView):
    serializer_class = UpstreamDomainSerializer
    object_kwarg = "upstream_domain_id"
    org_permissions = ADMIN_WRITES
    lock_related = ("idp__tenant",)

    def reachable_objects(self) -> QuerySet[Any]:
        idps = self.in_reach(UpstreamIdP.objects.all())
        return UpstreamDomain.objects.select_related("idp__tenant", "idp__organization").filter(
            tenant=self.tenant, idp_id=self.kwargs.get("idp_id"), idp__in=idps
        )

    def object_organization(self, obj: Any) -> Organization | None:
        return obj.idp.organization  # type: ignore[no-any-return]


class UpstreamDomainDetailView(_DomainViews):
    @doc_read("upstream_domains_retrieve", UpstreamDomainSerializer)
    def get(self, request: Request, tenant_slug: str, idp_id: int, upstream_domain_id: int) -> Response:
        return self.show(self.object)

    @doc_delete("upstream_domains_release")
    def delete(self, request: Request, tenant_slug: str, idp_id: int, upstream_domain_id: int) -> Response:
        return self.remove(self.object, lambda domain: domain_release(actor=self.actor, domain=domain))


class UpstreamDomainVerifyView(_DomainViews):
    @doc_action(
        "upstream_domains_verify",
        UpstreamDomainSerializer,
        description="Look up the domain's TXT challenge record now; `verified` and `last_check` say how it went.",
    )
    def post(self, request: Request, tenant_slug: str, idp_id: int, upstream_domain_id: int) -> Response:
        domain_check_dns(actor=self.actor, domain=self.object)
        self.object.refresh_from_db()
        return Response(self.represent(self.object))
