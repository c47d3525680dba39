"""Management API v1: email invitations to an organization (``orgs.invitations``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.invitations import InvitationCreateSerializer, InvitationSerializer
from orgs.invitations import services as invitations
from orgs.invitations.selectors import organization_invitations
from orgs.tree import permissions
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    from orgs.invitations.models import Invitation


class InvitationListView(TenantAPIView):
    serializer_class = InvitationSerializer
    org_permissions = {"GET": permissions.can_manage_members, "POST": permissions.can_manage_members}

    @extend_schema(operation_id="invitations_list", responses={200: InvitationSerializer(many=True), **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        qs = organization_invitations(organization=self.organization)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(InvitationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="invitations_create",
        request=InvitationCreateSerializer,
        responses={201: InvitationSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Email a signed, single-use, expiring link to join this organization."""
        data = InvitationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = invitations.invitation_create(
            actor=self.actor, organization=self.organization, **data.validated_data
        )
        body = InvitationSerializer(invitation).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": etag_of(body)})


class InvitationDetailView(TenantAPIView):
    """One invitation of the organization in the URL (others, and other organizations' ones: 404)."""

    serializer_class = InvitationSerializer
    object_kwarg = "invitation_id"
    org_permissions = {"GET": permissions.can_manage_members, "DELETE": permissions.can_manage_members}

    def reachable_objects(self) -> QuerySet[Invitation]:
        return self.in_reach(organization_invitations(organization=self.organization))

    @extend_schema(operation_id="invitations_retrieve", responses={200: InvitationSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str, invitation_id: int) -> Response:
        body = InvitationSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="invitations_revoke", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, org: str, invitation_id: int) -> Response:
        """Revoke: the emailed link stops working (the row stays, with ``revoked_at``, for the record)."""
        write_if_unchanged(
            self.object,
            lambda locked: invitations.invitation_revoke(actor=self.actor, invitation=locked),
            expected_etag=self.expected_etag(lambda invitation: InvitationSerializer(invitation).data),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationResendView(TenantAPIView):
    serializer_class = InvitationSerializer
    object_kwarg = "invitation_id"
    org_permissions = {"POST": permissions.can_manage_members}

    def reachable_objects(self) -> QuerySet[Invitation]:
        return self.in_reach(organization_invitations(organization=self.organization))

    @extend_schema(operation_id="invitations_resend", request=None, responses={200: InvitationSerializer, **PROBLEMS})
    def post(self, request: Request, tenant_slug: str, org: str, invitation_id: int) -> Response:
        """Email a pending invitation again with a new link and a fresh expiry; the previous link stops working."""
        invitation = invitations.invitation_resend(actor=self.actor, invitation=self.object)
        body = InvitationSerializer(invitation).data
        return Response(body, headers={"ETag": etag_of(body)})
