"""Management API v1: an organization's domains, acts-for links and members' profile values.

Writes go through ``orgs.services`` (domains, acts-for links) and ``orgs.profiles`` (values of
shared users per organization), which check the role again and record the audit events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of
from idp.api.serializers import (
    ActsForCreateSerializer,
    ActsForLinkSerializer,
    MemberProfilePatchSerializer,
    MemberProfileSerializer,
    OrganizationDomainSerializer,
)
from idp.api.views import ETAG_PROBLEMS, IF_MATCH, PROBLEMS
from orgs import permissions, services
from orgs.profiles import resolved_profile, source_modes
from orgs.selectors import (
    acts_for_links,
    organization_domains,
    organization_get,
    organization_member,
    profile_values_own,
)
from tenants.actors import Actor
from tenants.preconditions import write_if_unchanged

if TYPE_CHECKING:
    from orgs.models import Membership, Organization


def _tenant_links(actor: Actor, organization: Organization) -> bool:
    return permissions.can_manage_tenant_links(actor, organization.tenant)


class _OrgObjectViews(TenantAPIView):
    """Objects of the organization in the URL (looked up after it, so outside the reach is 404)."""

    #: The organization's rows of this kind (an ``orgs.selectors`` function).
    rows: Callable[..., QuerySet[Any]]

    def reachable_objects(self) -> QuerySet[Any]:
        return self.rows(organization=self.organization)


class OrganizationDomainListView(_OrgObjectViews):
    rows = staticmethod(organization_domains)
    serializer_class = OrganizationDomainSerializer
    org_permissions = {"GET": lambda actor, org: True, "POST": permissions.can_edit_organization}

    @extend_schema(
        operation_id="organization_domains_list", responses={200: OrganizationDomainSerializer(many=True), **PROBLEMS}
    )
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        page = self.paginate_queryset(self.reachable_objects())
        return self.get_paginated_response(OrganizationDomainSerializer(page, many=True).data)

    @extend_schema(
        operation_id="organization_domains_add",
        request=OrganizationDomainSerializer,
        responses={201: OrganizationDomainSerializer, **PROBLEMS},
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Claim an email domain (unverified; verification is a tenant administrator's, in the admin)."""
        data = OrganizationDomainSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.domain_add(
            actor=self.actor, organization=self.organization, domain=data.validated_data["domain"]
        )
        return Response(OrganizationDomainSerializer(row).data, status=status.HTTP_201_CREATED)


class OrganizationDomainDetailView(_OrgObjectViews):
    rows = staticmethod(organization_domains)
    serializer_class = OrganizationDomainSerializer
    object_kwarg = "domain_id"
    org_permissions = {"GET": lambda actor, org: True, "DELETE": permissions.can_edit_organization}

    @extend_schema(
        operation_id="organization_domains_retrieve", responses={200: OrganizationDomainSerializer, **PROBLEMS}
    )
    def get(self, request: Request, tenant_slug: str, org: str, domain_id: int) -> Response:
        body = OrganizationDomainSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(
        operation_id="organization_domains_remove", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS}
    )
    def delete(self, request: Request, tenant_slug: str, org: str, domain_id: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: services.domain_remove(actor=self.actor, domain=locked),
            expected_etag=self.expected_etag(lambda domain: OrganizationDomainSerializer(domain).data),
            related=("organization__tenant",),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ActsForListView(_OrgObjectViews):
    rows = staticmethod(acts_for_links)
    serializer_class = ActsForLinkSerializer
    org_permissions = {"GET": lambda actor, org: True, "POST": _tenant_links}

    @extend_schema(operation_id="acts_for_list", responses={200: ActsForLinkSerializer(many=True), **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str) -> Response:
        page = self.paginate_queryset(self.reachable_objects())
        return self.get_paginated_response(ActsForLinkSerializer(page, many=True).data)

    @extend_schema(
        operation_id="acts_for_add", request=ActsForCreateSerializer, responses={201: ActsForLinkSerializer, **PROBLEMS}
    )
    def post(self, request: Request, tenant_slug: str, org: str) -> Response:
        """Let members of this organization act on behalf of another (tenant administrators only)."""
        data = ActsForCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        other = organization_get(tenant=self.tenant, key=data.validated_data["on_behalf_of"])
        if other is None:
            raise ValidationError({"on_behalf_of": ["No such organization."]})
        link = services.acts_for_add(actor=self.actor, organization=self.organization, on_behalf_of=other)
        return Response(ActsForLinkSerializer(link).data, status=status.HTTP_201_CREATED)


class ActsForDetailView(_OrgObjectViews):
    rows = staticmethod(acts_for_links)
    serializer_class = ActsForLinkSerializer
    object_kwarg = "link_id"
    org_permissions = {"GET": lambda actor, org: True, "DELETE": _tenant_links}

    @extend_schema(operation_id="acts_for_retrieve", responses={200: ActsForLinkSerializer, **PROBLEMS})
    def get(self, request: Request, tenant_slug: str, org: str, link_id: int) -> Response:
        body = ActsForLinkSerializer(self.object).data
        return Response(body, headers={"ETag": etag_of(body)})

    @extend_schema(operation_id="acts_for_remove", parameters=[IF_MATCH], responses={204: None, **ETAG_PROBLEMS})
    def delete(self, request: Request, tenant_slug: str, org: str, link_id: int) -> Response:
        write_if_unchanged(
            self.object,
            lambda locked: services.acts_for_remove(actor=self.actor, link=locked),
            expected_etag=self.expected_etag(lambda link: ActsForLinkSerializer(link).data),
            related=("organization__tenant", "on_behalf_of"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


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
            membership = services.profile_values_apply(
                actor=self.actor,
                membership=self._membership(user_id),
                values=dict(data.validated_data),
                expected_etag=self.expected_etag(self._body),
            )
        except DjangoValidationError as exc:  # per attribute, as a field error of this request
            raise ValidationError(exc.message_dict) from exc
        body = self._body(membership)
        return Response(body, headers={"ETag": etag_of(body)})
