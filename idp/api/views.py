"""Management API v1: organizations, members, users. Writes go through ``orgs.services``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.problems import PROBLEM_BASE, PROBLEM_CONTENT_TYPE
from idp.api.serializers import (
    InvitationCreateSerializer,
    InvitationSerializer,
    MembershipAddSerializer,
    MembershipRoleSerializer,
    MembershipSerializer,
    OrganizationCreateSerializer,
    OrganizationMoveSerializer,
    OrganizationSerializer,
    OrganizationTreeSerializer,
    OrganizationUpdateSerializer,
    ProblemSerializer,
    SharingJobSerializer,
    SharingPolicyCreateSerializer,
    SharingPolicyResultSerializer,
    SharingPolicySerializer,
    UserCreateSerializer,
)
from orgs import invitations, permissions, services, sharing
from orgs.selectors import (
    MembershipRole,
    organization_invitations,
    organization_list,
    organization_member,
    organization_members,
    sharing_policies_visible,
)
from tenants.models import User
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    from orgs.models import Invitation, Membership, Organization

PROBLEMS: dict[Any, OpenApiResponse] = {
    (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description=desc)
    for code, desc in {
        400: "Invalid input (problem+json with `errors` per field)",
        401: "Missing or invalid bearer token",
        403: "Your role does not allow this",
        404: "Not found, or outside your reach",
    }.items()
}
ETAG_PROBLEMS = {
    **PROBLEMS,
    (412, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description="If-Match does not match the ETag"),
}
IF_MATCH = OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)


@csrf_exempt  # nothing to protect: bearer-token API, and this only ever answers 404
def not_found(request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
    body = {"type": PROBLEM_BASE + "not-found", "title": "Not found.", "status": 404, "detail": "Not found."}
    return HttpResponse(json.dumps(body), status=404, content_type=PROBLEM_CONTENT_TYPE)


def _tenant_user(tenant: Any, key: str) -> User:
    users = User.objects.filter(tenant=tenant)
    key = key.strip()
    user = users.filter(pk=int(key)).first() if key.isdigit() and len(key) < 12 else None
    user = user or users.filter(username__iexact=key).first()
    if user is None:
        raise ValidationError({"user": ["No such user in this tenant."]})
    return user


def _can_move(actor: Any, org: Organization) -> bool:
    # Ownership strictly above the moved organization; the destination is checked by the service.
    return permissions.can_delete_organization(actor, org)


class OrganizationListView(TenantAPIView):
    serializer_class = OrganizationSerializer

    @extend_schema(
        operation_id="organizations_list",
        parameters=[
            OpenApiParameter("parent", str, description="Parent id or identifier; `none` for top-level ones."),
            OpenApiParameter("identifier", str, description="Exact identifier (case-insensitive)."),
        ],
        responses={200: OrganizationSerializer(many=True), **PROBLEMS},
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        qs = organization_list(
            actor=self.actor,
            tenant=self.tenant,
            parent=request.query_params.get("parent"),
            identifier=request.query_params.get("identifier"),
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(OrganizationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="organizations_create",
        request=OrganizationCreateSerializer,
        responses={201: OrganizationSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str) -> Response:
        data = OrganizationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        become_admin = values.pop("become_admin")
        parent = self.organization_in_body(values.pop("parent"), "parent")
        with transaction.atomic():
            org = services.organization_create(actor=self.actor, tenant=self.tenant, parent=parent, **values)
            if become_admin:
                sharing.sharing_share_creator(actor=self.actor, organization=org)
        body = OrganizationSerializer(org).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"ETag": etag_of(body)})


class OrganizationTreeView(TenantAPIView):
    serializer_class = OrganizationTreeSerializer
    pagination_class = None  # type: ignore[assignment]

    @extend_schema(
        operation_id="organizations_tree", responses={200: OrganizationTreeSerializer(many=True), **PROBLEMS}
    )
    def get(self, request: Request, tenant_slug: str) -> Response:
        """Everything you reach, nested; the tops are the organizations you administer."""
        orgs = list(self.reach().order_by("path"))
        ids = {o.pk for o in orgs}
        children: dict[Any, list[Organization]] = {}
        tops = []
        for o in orgs:
            if o.parent_id in ids:
                children.setdefault(o.parent_id, []).append(o)
            else:
                tops.append(o)
        context = {"children": children}
        return Response([OrganizationTreeSerializer(o, context=context).data for o in tops])


class OrganizationDetailView(TenantAPIView):
    serializer_class = OrganizationSerializer
    org_permissions = {
        "GET": lambda actor, org: True,
        "PATCH": permissions.can_edit_organization,
        "PUT": permissions.can_edit_organization,
        "DELETE": permissions.can_delete_organization,
    }

    def _body(self, org: Organization) -> dict[str, Any]:
        return dict(OrganizationSerializer(org).data)

    @extend_schema(operation_id="organizations_retrieve", responses={200: OrganizationSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        body = self._body(self.organization)
        return Response(body, headers={"ETag": etag_of(body)})

    def _update(self, request: Request, *, partial: bool) -> Response:
        data = OrganizationUpdateSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        org = write_if_unchanged(
            self.organization,
            lambda locked: services.organization_update(actor=self.actor, organization=locked, **data.validated_data),
            expected_etag=self.expected_etag(self._body),
        )
        body = self._body(org)
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="organizations_partial_update",
        parameters=[IF_MATCH],
        request=OrganizationUpdateSerializer,
        responses={200: OrganizationSerializer, **ETAG_PROBLEMS},
    )
    def patch(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self._update(request, partial=True)

    @extend_schema(
        operation_id="organizations_update",
        parameters=[IF_MATCH],
        request=OrganizationUpdateSerializer,
        responses={200: OrganizationSerializer, **ETAG_PROBLEMS},
    )
    def put(self, request: Request, tenant_slug: str, org: str) -> Response:
        return self._update(request, partial=False)

    @extend_schema(
        operation_id="organizations_destroy",
        parameters=[IF_MATCH, OpenApiParameter("cascade", bool, description="Delete the sub-organizations too.")],
        responses={204: None, **ETAG_PROBLEMS},
    )
    def delete(self, request: Request, tenant_slug: str, org: str) -> Response:
        cascade = request.query_params.get("cascade", "").lower() in ("1", "true", "yes")
        write_if_unchanged(
            self.organization,
            lambda locked: services.organization_delete(actor=self.actor, organization=locked, cascade=cascade),
            expected_etag=self.expected_etag(self._body),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrganizationMoveView(TenantAPIView):
    serializer_class = OrganizationMoveSerializer
    org_permissions = {"POST": _can_move}

    @extend_schema(
        operation_id="organizations_move",
        parameters=[IF_MATCH],
        request=OrganizationMoveSerializer,
        responses={200: OrganizationSerializer, **ETAG_PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        data = OrganizationMoveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        new_parent = self.organization_in_body(data.validated_data["parent"], "parent")
        moved = write_if_unchanged(
            self.organization,
            lambda locked: services.organization_move(actor=self.actor, organization=locked, new_parent=new_parent),
            expected_etag=self.expected_etag(lambda org: OrganizationSerializer(org).data),
        )
        body = OrganizationSerializer(moved).data
        return Response(body, headers={"ETag": etag_of(body)})


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
        user = _tenant_user(self.tenant, key)
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
        user = _tenant_user(self.tenant, values["user"])
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
