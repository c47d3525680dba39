"""Management API v1: members of an organization, users created in it, and their profile values there.

Writes go through ``orgs.tree.services``, which checks the role again and records the audit events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView
from idp.api.schema import doc_create, doc_delete, doc_list, doc_read, doc_update
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

if TYPE_CHECKING:
    from orgs.tree.models import Membership

ROLE = OpenApiParameter("role", str, enum=MembershipRole.values)


class _MemberViews(TenantAPIView):
    # One member of the organization in the URL, by user id (others, and ids beyond any key: 404).

    def member(self, user_id: int) -> Membership:
        found = organization_member(organization=self.organization, user_id=user_id) if 0 < user_id < 2**63 else None
        if found is None:
            raise Http404
        return found


class MemberListView(TenantAPIView):
    serializer_class = MembershipSerializer
    org_permissions = {"GET": lambda actor, org: True, "POST": permissions.can_manage_members}

    @doc_list("members_list", MembershipSerializer, ROLE)
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self.page_of(organization_members(organization=self.organization, role=request.query_params.get("role")))

    @doc_create("members_add", MembershipAddSerializer, MembershipSerializer)
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        values = self.validated(MembershipAddSerializer)
        user = self.user_in_body(values["user"].strip())
        membership = services.membership_add(
            actor=self.actor, organization=self.organization, user=user, role=values["role"]
        )
        return self.show(membership, status=status.HTTP_201_CREATED)


class MemberDetailView(_MemberViews):
    serializer_class = MembershipSerializer
    lock_related = ("user", "organization", "organization__tenant")
    org_permissions = {
        "GET": lambda actor, org: True,
        "PATCH": permissions.can_manage_members,
        "DELETE": permissions.can_manage_members,
    }

    @doc_read("members_retrieve", MembershipSerializer)
    def get(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        return self.show(self.member(user_id))

    @doc_update("members_set_role", MembershipRoleSerializer, MembershipSerializer)
    def patch(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        role = self.validated(MembershipRoleSerializer)["role"]
        membership = self.change(
            self.member(user_id),
            lambda locked: services.membership_set_role(actor=self.actor, membership=locked, role=role),
        )
        return self.show(membership)

    @doc_delete("members_remove")
    def delete(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        return self.remove(
            self.member(user_id), lambda locked: services.membership_remove(actor=self.actor, membership=locked)
        )


class OrganizationUserCreateView(TenantAPIView):
    serializer_class = UserCreateSerializer
    shown_as = MembershipSerializer
    org_permissions = {"POST": permissions.can_manage_members}

    @doc_create("organization_users_create", UserCreateSerializer, MembershipSerializer)
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Create a new profile whose home is this organization."""
        values = self.validated(UserCreateSerializer)
        user = services.organization_user_create(actor=self.actor, organization=self.organization, **values)
        membership = organization_member(organization=self.organization, user_id=user.pk)
        return self.show(membership, status=status.HTTP_201_CREATED)


class MemberProfileView(_MemberViews):
    """A member's profile values as this organization shows them, and the ones it sets itself."""

    serializer_class = MemberProfileSerializer
    pagination_class = None  # type: ignore[assignment]
    org_permissions = {"GET": permissions.can_manage_members, "PATCH": permissions.can_manage_members}

    def represent(self, obj: Any) -> dict[str, Any]:
        membership: Membership = obj
        return {
            "user": membership.user_id,
            "organization": str(self.organization.pk),
            "resolved": resolved_profile(user=membership.user, organization=self.organization),
            "own_values": profile_values_own(organization=self.organization, user_id=membership.user_id),
            "modes": source_modes(tenant_id=self.tenant.pk),
        }

    @doc_read("member_profile_retrieve", MemberProfileSerializer)
    def get(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        return self.show(self.member(user_id))

    @doc_update(
        "member_profile_partial_update",
        MemberProfilePatchSerializer,
        MemberProfileSerializer,
        description="Set this organization's own values (null or empty: clear). Only attributes whose source "
        "mode reads an organization's value may be set.",
    )
    def patch(self, request: Request, tenant_slug: str, org: str, user_id: int) -> Response:
        values = self.validated(MemberProfilePatchSerializer, partial=True)
        if not values:
            raise ValidationError({"non_field_errors": ["Name at least one attribute to set or clear."]})
        try:
            membership = profile_values_apply(
                actor=self.actor,
                membership=self.member(user_id),
                values=dict(values),
                expected_etag=self.expected_etag(self.represent),
            )
        except DjangoValidationError as exc:  # per attribute, as a field error of this request
            raise ValidationError(exc.message_dict) from exc
        return self.show(membership)
