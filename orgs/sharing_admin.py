"""Admin for sharing policies and invitations: listed per tenant; created through the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from orgs.models import Invitation, OrganizationProfileValue, SharingPolicy
from orgs.profiles import profile_value_clear
from orgs.sharing import sharing_policy_remove
from tenants.admin_base import TenantScopedAdmin


@admin.register(SharingPolicy)
class SharingPolicyAdmin(TenantScopedAdmin):
    list_display = ("user", "organization", "mode", "role", "tenant", "created_at")
    list_filter = ("tenant", "mode", "role")
    search_fields = ("user__username", "organization__identifier")
    list_select_related = ("user", "organization", "tenant")
    fields = ("tenant", "user", "organization", "mode", "role", "created_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # the API (or invitations) create policies, with validation and expansion

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: SharingPolicy) -> None:
        sharing_policy_remove(actor=request.user, policy=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SharingPolicy]) -> None:
        for obj in queryset.select_related("organization", "tenant"):
            self.delete_model(request, obj)


@admin.register(Invitation)
class InvitationAdmin(TenantScopedAdmin):
    list_display = ("email", "organization", "role", "tenant", "created_at", "expires_at", "sent_at", "accepted_at")
    list_filter = ("tenant", "role")
    search_fields = ("email", "organization__identifier")
    list_select_related = ("organization", "tenant")
    fields = ("tenant", "organization", "email", "role", "invited_by", "created_at", "expires_at", "sent_at")
    readonly_fields = (*fields, "accepted_at", "accepted_by")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # created through the API (orgs.invitations), which checks roles and sends the email

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OrganizationProfileValue)
class OrganizationProfileValueAdmin(TenantScopedAdmin):
    """Organizations' own profile values of their members (read-only; set through orgs.profiles)."""

    list_display = ("user", "organization", "attribute", "value", "tenant", "updated_at")
    list_filter = ("tenant", "attribute")
    search_fields = ("user__username", "organization__identifier", "value")
    list_select_related = ("user", "organization", "tenant")
    fields = ("tenant", "organization", "user", "attribute", "value", "updated_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # values are set through orgs.profiles (modes, membership, permission, audit)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: OrganizationProfileValue) -> None:
        profile_value_clear(
            actor=request.user,  # type: ignore[arg-type]
            organization=obj.organization,
            user=obj.user,
            attribute=obj.attribute,
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[OrganizationProfileValue]) -> None:
        for obj in queryset.select_related("organization__tenant", "user"):
            self.delete_model(request, obj)
