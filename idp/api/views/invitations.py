"""Management API v1: email invitations to an organization (``orgs.invitations``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView
from idp.api.schema import doc_action, doc_create, doc_delete, doc_list, doc_read
from idp.api.serializers.invitations import InvitationCreateSerializer, InvitationSerializer
from orgs.invitations import services as invitations
from orgs.invitations.selectors import organization_invitations
from orgs.tree import permissions

if TYPE_CHECKING:
    from orgs.invitations.models import Invitation


class InvitationListView(TenantAPIView):
    serializer_class = InvitationSerializer
    org_permissions = {"GET": permissions.can_manage_members, "POST": permissions.can_manage_members}

    @doc_list("invitations_list", InvitationSerializer)
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self.page_of(organization_invitations(organization=self.organization))

    @doc_create("invitations_create", InvitationCreateSerializer, InvitationSerializer)
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Email a signed, single-use, expiring link to join this organization."""
        values = self.validated(InvitationCreateSerializer)
        invitation = invitations.invitation_create(actor=self.actor, organization=self.organization, **values)
        return self.show(invitation, status=status.HTTP_201_CREATED)


class _InvitationViews(TenantAPIView):
    # One invitation of the organization in the URL, by id.
    serializer_class = InvitationSerializer
    object_kwarg = "invitation_id"

    def reachable_objects(self) -> QuerySet[Invitation]:
        return self.in_reach(organization_invitations(organization=self.organization))


class InvitationDetailView(_InvitationViews):
    """One invitation of the organization in the URL (others, and other organizations' ones: 404)."""

    org_permissions = {"GET": permissions.can_manage_members, "DELETE": permissions.can_manage_members}

    @doc_read("invitations_retrieve", InvitationSerializer)
    def get(self, request: Request, tenant_slug: str, org: str, invitation_id: int) -> Response:
        return self.show(self.object)

    @doc_delete("invitations_revoke")
    def delete(self, request: Request, tenant_slug: str, org: str, invitation_id: int) -> Response:
        """Revoke: the emailed link stops working (the row stays, with ``revoked_at``, for the record)."""
        return self.remove(
            self.object, lambda locked: invitations.invitation_revoke(actor=self.actor, invitation=locked)
        )


class InvitationResendView(_InvitationViews):
    org_permissions = {"POST": permissions.can_manage_members}

    @doc_action("invitations_resend", InvitationSerializer)
    def post(self, request: Request, tenant_slug: str, org: str, invitation_id: int) -> Response:
        """Email a pending invitation again with a new link and a fresh expiry; the previous link stops working."""
        return self.show(invitations.invitation_resend(actor=self.actor, invitation=self.object))
