"""Management API v1: user sharing policies (``orgs.sharing``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.schema import PROBLEMS
from idp.api.serializers.jobs import SharingJobSerializer
from idp.api.serializers.sharing import (
    SharingPolicyCreateSerializer,
    SharingPolicyResultSerializer,
    SharingPolicySerializer,
)
from orgs.sharing import services as sharing
from orgs.sharing.selectors import sharing_policies_visible
from orgs.tree import permissions

if TYPE_CHECKING:
    pass


class SharingPolicyListView(TenantAPIView):
    serializer_class = SharingPolicySerializer

    @extend_schema(
        operation_id="sharing_policies_list",
        parameters=[OpenApiParameter("user", str, description="User id or username.")],
        responses={200: SharingPolicySerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = sharing_policies_visible(actor=self.actor, tenant=self.tenant, user=request.query_params.get("user"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SharingPolicySerializer(page, many=True).data)

    @extend_schema(
        operation_id="sharing_policies_set",
        request=SharingPolicyCreateSerializer,
        responses={201: SharingPolicyResultSerializer, 202: SharingPolicyResultSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        """Share a user with an organization (and its children), or with all organizations."""
        data = SharingPolicyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        organization = self.organization_in_body(values["organization"], "organization")
        user = self.user_in_body(values["user"])
        policy, job = sharing.sharing_policy_share(
            actor=self.actor,
            tenant=self.tenant,
            user=user,
            organization=organization,
            mode=values["mode"],
            role=values["role"],
        )
        body = SharingPolicyResultSerializer(policy, context={"job": job}).data
        code = status.HTTP_202_ACCEPTED if job else status.HTTP_201_CREATED  # 202: a sharing job does the rest
        return Response(body, status=code, headers={"ETag": etag_of(body)})


class SharingPolicyDetailView(TenantAPIView):
    serializer_class = SharingPolicySerializer
    org_permissions = {"GET": lambda actor, org: True, "DELETE": permissions.can_manage_members}

    @extend_schema(operation_id="sharing_policies_retrieve", responses={200: SharingPolicySerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, policy_id: int) -> Response:
        body = SharingPolicySerializer(self.policy).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="sharing_policies_remove", responses={204: None, 202: SharingJobSerializer, **PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, policy_id: int) -> Response:
        """Stop sharing: the shared memberships only this policy accounted for are removed (202: by a job)."""
        _gone, job = sharing.sharing_policy_unshare(actor=self.actor, policy=self.policy)
        if job is not None:
            return Response(SharingJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        return Response(status=status.HTTP_204_NO_CONTENT)
