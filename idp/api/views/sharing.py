"""Management API v1: user sharing policies (``orgs.sharing``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, tagged
from idp.api.schema import PROBLEMS, doc_list, doc_read
from idp.api.serializers.jobs import SharingJobSerializer
from idp.api.serializers.sharing import (
    SharingPolicyCreateSerializer,
    SharingPolicyResultSerializer,
    SharingPolicySerializer,
)
from orgs.sharing import services as sharing
from orgs.sharing.selectors import sharing_policies_visible
from orgs.tree import permissions

USER = OpenApiParameter("user", str, description="User id or username.")


class SharingPolicyListView(TenantAPIView):
    serializer_class = SharingPolicySerializer

    @doc_list("sharing_policies_list", SharingPolicySerializer, USER)
    def get(self, request: Request, tenant_slug: str) -> Response:
        user = request.query_params.get("user")
        return self.page_of(sharing_policies_visible(actor=self.actor, tenant=self.tenant, user=user))

    @extend_schema(
        operation_id="sharing_policies_set",
        request=SharingPolicyCreateSerializer,
        responses={201: SharingPolicyResultSerializer, 202: SharingPolicyResultSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        """Share a user with an organization (and its children), or with all organizations."""
        values = self.validated(SharingPolicyCreateSerializer)
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
        return tagged(
            body, status=status.HTTP_202_ACCEPTED if job else status.HTTP_201_CREATED
        )  # 202: a job does the rest


class SharingPolicyDetailView(TenantAPIView):
    serializer_class = SharingPolicySerializer
    org_permissions = {"GET": lambda actor, org: True, "DELETE": permissions.can_manage_members}

    @doc_read("sharing_policies_retrieve", SharingPolicySerializer)
    def get(self, request: Request, tenant_slug: str, policy_id: int) -> Response:
        return self.show(self.policy)

    @extend_schema(operation_id="sharing_policies_remove", responses={204: None, 202: SharingJobSerializer, **PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, policy_id: int) -> Response:
        """Stop sharing: the shared memberships only this policy accounted for are removed (202: by a job)."""
        _gone, job = sharing.sharing_policy_unshare(actor=self.actor, policy=self.policy)
        if job is not None:
            return Response(SharingJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        return Response(status=status.HTTP_204_NO_CONTENT)
