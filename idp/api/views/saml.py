"""Management API v1: SAML service providers (tenant administrators only).

Create from the SP's posted metadata XML (parsed by ``idp.saml.protocol.read_sp_metadata``,
which refuses DTDs, entities and oversized documents, like the ``add_saml_sp`` command) or
from fields; writes go through ``idp.saml.services``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantRowsView
from idp.api.schema import doc_create, doc_delete, doc_list, doc_read, doc_update
from idp.api.serializers.saml import SamlSPCreateSerializer, SamlSPSerializer, SamlSPUpdateSerializer
from idp.saml.models import ServiceProvider
from idp.saml.protocol import read_sp_metadata
from idp.saml.services import (
    fetch_metadata,
    service_provider_create,
    service_provider_delete,
    service_provider_from_metadata,
    service_provider_refresh_metadata,
    service_provider_update,
)
from idp.saml.xml import XMLRejected
from orgs.tree.selectors import organization_get

ENTITY_ID = OpenApiParameter("entity_id", str, description="Exact entity id.")


class _SPViews(TenantRowsView):
    model = ServiceProvider
    object_kwarg = "sp_id"
    serializer_class = SamlSPSerializer

    def _values(self, data: dict[str, Any]) -> dict[str, Any]:
        """The body's values, ``default_organization`` named by id or identifier turned into the row."""
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
    @doc_list("saml_sps_list", SamlSPSerializer, ENTITY_ID)
    def get(self, request: Request, tenant_slug: str) -> Response:
        return self.page_of(self.matching(self.reachable_objects().order_by("entity_id"), "entity_id"))

    @doc_create("saml_sps_create", SamlSPCreateSerializer, SamlSPSerializer)
    def post(self, request: Request, tenant_slug: str) -> Response:
        """Register an SP from its metadata XML (`metadata`) or from `entity_id` and fields."""
        values = self._values(self.validated(SamlSPCreateSerializer))
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
        return self.show(sp, status=status.HTTP_201_CREATED)


def _known(tenant: Any, metadata: str) -> bool:
    """Whether the metadata names an SP this tenant already has (create must not silently update)."""
    try:
        meta = read_sp_metadata(metadata.encode())
    except (XMLRejected, ValueError):
        return False  # the service reports why it is unusable
    return ServiceProvider.objects.filter(tenant=tenant, entity_id=meta.entity_id).exists()


class SamlSPDetailView(_SPViews):
    @doc_read("saml_sps_retrieve", SamlSPSerializer)
    def get(self, request: Request, tenant_slug: str, sp_id: int) -> Response:
        return self.show(self.object)

    @doc_update("saml_sps_partial_update", SamlSPUpdateSerializer, SamlSPSerializer)
    def patch(self, request: Request, tenant_slug: str, sp_id: int) -> Response:
        values = self._values(self.validated(SamlSPUpdateSerializer, partial=True))
        metadata_url = values.pop("metadata_url", None)
        if metadata_url is not None:
            values["metadata_source"] = metadata_url
        sp = self.change(self.object, lambda locked: service_provider_update(actor=self.actor, sp=locked, **values))
        if metadata_url:
            # Fetched now; a failure keeps the registration as it was and says why in metadata_error.
            service_provider_refresh_metadata(actor=self.actor, sp=sp)
        return self.show(sp)

    @doc_delete("saml_sps_destroy")
    def delete(self, request: Request, tenant_slug: str, sp_id: int) -> Response:
        return self.remove(self.object, lambda locked: service_provider_delete(actor=self.actor, sp=locked))
