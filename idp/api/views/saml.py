"""Management API v1: SAML service providers (tenant administrators only).

Create from the SP's posted metadata XML (parsed by ``idp.saml.protocol.read_sp_metadata``,
which refuses DTDs, entities and oversized documents, like the ``add_saml_sp`` command) or
from fields; writes go through ``idp.saml.services``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.saml import SamlSPCreateSerializer, SamlSPSerializer, SamlSPUpdateSerializer
from idp.saml.models import ServiceProvider
from idp.saml.services import (
    fetch_metadata,
    service_provider_create,
    service_provider_delete,
    service_provider_from_metadata,
    service_provider_refresh_metadata,
    service_provider_update,
)
from orgs.tree.selectors import organization_get
from tenants.preconditions import write_if_unchanged


class _SPViews(TenantAPIView):
    tenant_admin_only = True
    object_kwarg = "sp_id"
    serializer_class = SamlSPSerializer

    def reachable_objects(self) -> QuerySet[Any]:
        return ServiceProvider.objects.filter(tenant=self.tenant).select_related("tenant")

    def _values(self, data: dict[str, Any]) -> dict[str, Any]:
        values = dict(data)
        if values.get("default_organization"):
            found = organization_get(tenant=self.tenant, key=values["default_organization"])
            if found is None:
                raise ValidationError({"default_organization": ["No such organization."]})
            values["default_organization"] = found
        elif "default_organization" in values:
            values["default_organization"] = None
        return values


class SamlSPListView(_SPViews):
    @extend_schema(
        operation_id="saml_sps_list",
        parameters=[OpenApiParameter("entity_id", str, description="Exact entity id.")],
        responses={200: SamlSPSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = self.reachable_objects().order_by("entity_id")
        entity_id = request.query_params.get("entity_id")
        if entity_id:
            qs = qs.filter(entity_id=entity_id.strip())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SamlSPSerializer(page, many=True).data)

    @extend_schema(
        operation_id="saml_sps_create",
        request=SamlSPCreateSerializer,
        responses={201: SamlSPSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        """Register an SP from its metadata XML (`metadata`) or from `entity_id` and fields."""
        data = SamlSPCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = self._values(data.validated_data)
        metadata = values.pop("metadata", None)
        metadata_url = values.pop("metadata_url", None)
        source = "api"
        if metadata_url and not metadata:
            metadata, source = fetch_metadata(metadata_url).decode("utf-8", "replace"), metadata_url
        with transaction.atomic():
            if metadata:
                values.pop("entity_id", None)
                if _known(self.tenant, metadata):
                    raise ValidationError({"metadata": ["This SP is already registered; update it instead."]})
                sp, _created = service_provider_from_metadata(
                    actor=self.actor, tenant=self.tenant, metadata=metadata.encode(), source=source, **values
                )
                if source != "api":
                    sp.metadata_fetched_at, sp.metadata_error = timezone.now(), ""
                    sp.save(update_fields=["metadata_fetched_at", "metadata_error"])
            else:
                sp = service_provider_create(actor=self.actor, tenant=self.tenant, **values)
        body = SamlSPSerializer(sp).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": etag_of(body)})


def _known(tenant: Any, metadata: str) -> bool:
    """Whether the metadata names an SP this tenant already has (create must not silently update)."""
    from idp.saml.protocol import read_sp_metadata
    from idp.saml.xml import XMLRejected

    try:
        meta = read_sp_metadata(metadata.encode())
    except (XMLRejected, ValueError):
        return False  # the service reports why it is unusable
    return ServiceProvider.objects.filter(tenant=tenant, entity_id=meta.entity_id).exists()


class SamlSPDetailView(_SPViews):
    @extend_schema(operation_id="saml_sps_retrieve", responses={200: SamlSPSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, sp_id: int) -> Response:
        body = SamlSPSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="saml_sps_partial_update",
        parameters=[IF_MATCH],
        request=SamlSPUpdateSerializer,
        responses={200: SamlSPSerializer, **ETAG_PROBLEMS},
    )
    def patch(self, request: Request, tenant_slug: str, sp_id: int) -> Response:
        data = SamlSPUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        values = self._values(data.validated_data)
        metadata_url = values.pop("metadata_url", None)
        if metadata_url is not None:
            values["metadata_source"] = metadata_url
        sp = write_if_unchanged(
            self.object,
            lambda locked: service_provider_update(actor=self.actor, sp=locked, **values),
            expected_etag=self.expected_etag(lambda sp: SamlSPSerializer(sp).data),
            related=("tenant",),
        )
        if metadata_url:
            # Fetched now; a failure keeps the registration as it was and says why in metadata_error.
            service_provider_refresh_metadata(actor=self.actor, sp=sp)
        body = SamlSPSerializer(sp).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="saml_sps_destroy", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, sp_id: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: service_provider_delete(actor=self.actor, sp=locked),
            expected_etag=self.expected_etag(lambda sp: SamlSPSerializer(sp).data),
            related=("tenant",),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
