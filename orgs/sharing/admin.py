"""Admin for sharing policies and sharing jobs: listed per tenant; created through the API."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from orgs.jobs.admin import LeasedJobAdmin
from orgs.jobs.leases import job_resume
from orgs.sharing.models import SharingJob, SharingPolicy
from orgs.sharing.services import sharing_policy_remove
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


@admin.register(SharingJob)
class SharingJobAdmin(LeasedJobAdmin):
    """Large share/unshare runs: progress, errors, and a resume action (through ``orgs.jobs``)."""

    list_display = (
        "id",
        "kind",
        "user",
        "organization",
        "mode",
        "status",
        "progress_bar",
        "processed",
        "total",
        "changed",
        "attempts",
        "created_at",
        "finished_at",
        "tenant",
    )
    list_filter = ("tenant", "status", "kind")
    search_fields = ("user__username", "organization__identifier", "requested_by")
    list_select_related = ("user", "organization", "tenant")
    readonly_fields = ("progress_bar", "error_list")
    actions = ["resume_jobs"]

    @admin.action(description="Resume selected jobs (failed, or running with an expired lease)")
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet[SharingJob]) -> None:
        count = 0
        for job in queryset.select_related("tenant", "organization"):
            try:
                job_resume(actor=request.user, job=job)  # type: ignore[arg-type]
            except (ValidationError, PermissionDenied):
                continue
            count += 1
        self.message_user(request, f"Re-enqueued {count} job(s).", messages.SUCCESS)
