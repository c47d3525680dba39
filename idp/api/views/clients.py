"""Management API v1: OIDC clients (tenant administrators only).

Writes go through ``idp.oidc.services``. The client secret is generated server-side, stored
hashed (``idp.oidc.hashers``) and returned exactly once: in the answer to the create and to
``rotate-secret/``. Redirect URIs are exact and must be https (or http on loopback).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.clients import (
    OIDCClientCreateSerializer,
    OIDCClientSerializer,
    OIDCClientUpdateSerializer,
    OIDCClientWithSecretSerializer,
)
from idp.oidc.models import Application
from idp.oidc.services import application_create, application_delete, application_rotate_secret, application_update
from tenants.preconditions import write_if_unchanged


class _ClientViews(TenantAPIView):
    tenant_admin_only = True
    object_kwarg = "client_pk"
    serializer_class = OIDCClientSerializer

    def reachable_objects(self) -> QuerySet[Any]:
        return Application.objects.filter(tenant=self.tenant).select_related("tenant")


class OIDCClientListView(_ClientViews):
    @extend_schema(
        operation_id="oidc_clients_list",
        parameters=[OpenApiParameter("client_id", str, description="Exact client id.")],
        responses={200: OIDCClientSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = self.reachable_objects().order_by("client_id")
        client_id = request.query_params.get("client_id")
        if client_id:
            qs = qs.filter(client_id=client_id.strip())
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OIDCClientSerializer(page, many=True).data)

    @extend_schema(
        operation_id="oidc_clients_create",
        request=OIDCClientCreateSerializer,
        responses={201: OIDCClientWithSecretSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        """Register a client; a confidential client's secret is in this answer only."""
        data = OIDCClientCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        app, secret = application_create(actor=self.actor, tenant=self.tenant, **data.validated_data)
        body = OIDCClientWithSecretSerializer(app, context={"secret": secret}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class OIDCClientDetailView(_ClientViews):
    @extend_schema(operation_id="oidc_clients_retrieve", responses={200: OIDCClientSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        body = OIDCClientSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="oidc_clients_partial_update",
        parameters=[IF_MATCH],
        request=OIDCClientUpdateSerializer,
        responses={200: OIDCClientSerializer, **ETAG_PROBLEMS},
    )
    def patch(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        data = OIDCClientUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        app = write_if_unchanged(
            self.object,
            lambda locked: application_update(actor=self.actor, app=locked, **data.validated_data),
            expected_etag=self.expected_etag(lambda app: OIDCClientSerializer(app).data),
            related=("tenant",),
        )
        body = OIDCClientSerializer(app).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="oidc_clients_destroy", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: application_delete(actor=self.actor, app=locked),
            expected_etag=self.expected_etag(lambda app: OIDCClientSerializer(app).data),
            related=("tenant",),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class OIDCClientRotateSecretView(_ClientViews):
    @extend_schema(
        operation_id="oidc_clients_rotate_secret",
        request=None,
        responses={200: OIDCClientWithSecretSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        """A new secret, in this answer only; the previous one stops working at once."""
        secret = application_rotate_secret(actor=self.actor, app=self.object)
        body = OIDCClientWithSecretSerializer(self.object, context={"secret": secret}).data
        return Response(body, headers={"Cache-Control": "no-store"})
