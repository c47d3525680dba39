"""Management API v1: OIDC clients (tenant administrators only).

Writes go through ``idp.oidc.services``. The client secret is generated server-side, stored
hashed (``idp.oidc.hashers``) and returned exactly once: in the answer to the create and to
``rotate-secret/``. Redirect URIs are exact and must be https (or http on loopback).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantRowsView
from idp.api.schema import doc_action, doc_create, doc_delete, doc_list, doc_read, doc_update
from idp.api.serializers.clients import (
    OIDCClientCreateSerializer,
    OIDCClientSerializer,
    OIDCClientUpdateSerializer,
    OIDCClientWithSecretSerializer,
)
from idp.oidc.models import Application
from idp.oidc.services import application_create, application_delete, application_rotate_secret, application_update

CLIENT_ID = OpenApiParameter("client_id", str, description="Exact client id.")


def _with_secret(app: Application, secret: Any, *, status: int = 200) -> Response:
    """The client and its secret, shown this once (never stored by a cache)."""
    body = OIDCClientWithSecretSerializer(app, context={"secret": secret}).data
    return Response(body, status=status, headers={"Cache-Control": "no-store"})


class _ClientViews(TenantRowsView):
    model = Application
    object_kwarg = "client_pk"
    serializer_class = OIDCClientSerializer


class OIDCClientListView(_ClientViews):
    @doc_list("oidc_clients_list", OIDCClientSerializer, CLIENT_ID)
    def get(self, request: Request, tenant_slug: str) -> Response:
        return self.page_of(self.matching(self.reachable_objects().order_by("client_id"), "client_id"))

    @doc_create("oidc_clients_create", OIDCClientCreateSerializer, OIDCClientWithSecretSerializer)
    def post(self, request: Request, tenant_slug: str) -> Response:
        """Register a client; a confidential client's secret is in this answer only."""
        values = self.validated(OIDCClientCreateSerializer)
        app, secret = application_create(actor=self.actor, tenant=self.tenant, **values)
        return _with_secret(app, secret, status=status.HTTP_201_CREATED)


class OIDCClientDetailView(_ClientViews):
    @doc_read("oidc_clients_retrieve", OIDCClientSerializer)
    def get(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        return self.show(self.object)

    @doc_update("oidc_clients_partial_update", OIDCClientUpdateSerializer, OIDCClientSerializer)
    def patch(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        values = self.validated(OIDCClientUpdateSerializer, partial=True)
        return self.show(self.change(self.object, lambda app: application_update(actor=self.actor, app=app, **values)))

    @doc_delete("oidc_clients_destroy")
    def delete(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        return self.remove(self.object, lambda app: application_delete(actor=self.actor, app=app))


class OIDCClientRotateSecretView(_ClientViews):
    @doc_action("oidc_clients_rotate_secret", OIDCClientWithSecretSerializer)
    def post(self, request: Request, tenant_slug: str, client_pk: int) -> Response:
        """A new secret, in this answer only; the previous one stops working at once."""
        return _with_secret(self.object, application_rotate_secret(actor=self.actor, app=self.object))
