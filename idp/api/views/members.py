"""Management API v1: members of an organization, users created in it, and their profile values there.

Writes go through ``orgs.tree.services``, which checks the role again and records the audit events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from idp.api.serializers.members import (
    MemberProfilePatchSerializer,
    MemberProfileSerializer,
    MembershipAddSerializer,
    MembershipRoleSerializer,
    MembershipSerializer,
    UserCreateSerializer,
)
from orgs.profiles.selectors import profile_values_own
from orgs.profiles.services import profile_values_apply, resolved_profile, source_modes
from orgs.tree import permissions, services
from orgs.tree.selectors import MembershipRole, organization_member, organization_members
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    from orgs.tree.models import Membership


class MemberListView(TenantAPIView):
    serializer_class = MembershipSerializer
    org_permissions = {"GET": lambda actor, org: True, "POST": permissions.can_manage_members}

    @extend_schema(
        operation_id="members_list",
        parameters=[OpenApiParameter("role", str, enum=MembershipRole.values)],
        responses={200: MembershipSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        qs = organization_members(organization=self.organization, role=request.query_params.get("role"))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(MembershipSerializer(page, many=True).data)

    @extend_schema(
        operation_id="members_add",
        request=MembershipAddSerializer,
        responses={201: MembershipSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        data = MembershipAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = data.validated_data["user"].strip()
        user = self.user_in_body(key)
        membership = services.membership_add(
            actor=self.actor, organization=self.organization, user=user, role=data.validated_data["role"]
        )
        body = MembershipSerializer(membership).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": etag_of(body)})


class MemberDetailView(TenantAPIView):
    serializer_class = MembershipSerializer
    org_permissions = {
        "GET": lambda actor, org: True,
        "PATCH": permissions.can_manage_members,
        "DELETE": permissions.can_manage_members,
    }

    LOCK_RELATED = ("user", "organization", "organization__tenant")

    def _membership(self, user_id: int) -> Membership:
        membership = organization_member(organization=self.organization, user_id=user_id)
        if membership is None:
            raise Http404
        return membership

    def _expected(self) -> Any:
        return self.expected_etag(lambda membership: MembershipSerializer(membership).data)

    @extend_schema(operation_id="members_retrieve", responses={200: MembershipSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        body = MembershipSerializer(self._membership(user_id)).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="members_set_role",
        parameters=[IF_MATCH],
        request=MembershipRoleSerializer,
        responses={200: MembershipSerializer, **ETAG_PROBLEMS},
    )
    def patch(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        data = MembershipRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = write_if_unchanged(
            self._membership(user_id),
            lambda locked: services.membership_set_role(
                actor=self.actor, membership=locked, role=data.validated_data["role"]
            ),
            expected_etag=self._expected(),
            related=self.LOCK_RELATED,
        )
        body = MembershipSerializer(membership).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="members_remove", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        write_if_unchanged(
            self._membership(user_id),
            lambda locked: services.membership_remove(actor=self.actor, membership=locked),
            expected_etag=self._expected(),
            related=self.LOCK_RELATED,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationUserCreateView(TenantAPIView):
    serializer_class = UserCreateSerializer
    org_permissions = {"POST": permissions.can_manage_members}

    @extend_schema(
        operation_id="organization_users_create",
        request=UserCreateSerializer,
        responses={201: MembershipSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Create a new profile whose home is this organization."""
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.organization_user_create(
            actor=self.actor, organization=self.organization, **data.validated_data
        )
        membership = organization_member(organization=self.organization, user_id=user.pk)
        body = MembershipSerializer(membership).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": etag_of(body)})


class MemberProfileView(TenantAPIView):
    """A member's profile values as this organization shows them, and the ones it sets itself."""

    serializer_class = MemberProfileSerializer
    pagination_class = None  # type: ignore[assignment]
    org_permissions = {"GET": permissions.can_manage_members, "PATCH": permissions.can_manage_members}

    def _membership(self, user_id: int) -> Membership:
        membership = (
            organization_member(organization=self.organization, user_id=user_id) if 0 < user_id < 2**63 else None
        )
        if membership is None:
            raise Http404
        return membership

    def _body(self, membership: Membership) -> dict[str, Any]:
        return {
            "user": membership.user_id,
            "organization": str(self.organization.pk),
            "resolved": resolved_profile(user=membership.user, organization=self.organization),
            "own_values": profile_values_own(organization=self.organization, user_id=membership.user_id),
            "modes": source_modes(tenant_id=self.tenant.pk),
        }

    @extend_schema(operation_id="member_profile_retrieve", responses={200: MemberProfileSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        body = self._body(self._membership(user_id))
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="member_profile_partial_update",
        parameters=[IF_MATCH],
        request=MemberProfilePatchSerializer,
        responses={200: MemberProfileSerializer, **ETAG_PROBLEMS},
        description="Set this organization's own values (null or empty: clear). Only attributes whose source "
        "mode reads an organization's value may be set.",
    )
    def patch(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        data = MemberProfilePatchSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise ValidationError({"non_field_errors": ["Name at least one attribute to set or clear."]})
        try:
            membership = profile_values_apply(
                actor=self.actor,
                membership=self._membership(user_id),
                values=dict(data.validated_data),
                expected_etag=self.expected_etag(self._body),
            )
        except DjangoValidationError as exc:  # per attribute, as a field error of this request
            raise ValidationError(exc.message_dict) from exc
        body = self._body(membership)
        return Response(body, headers={"ETag": etag_of(body)})
