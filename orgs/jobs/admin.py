"""Admin bases for rows written by services and jobs: read-only rows, and what every leased job
shows (progress bar, errors)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from orgs.jobs.models import LeasedJob
from tenants.admin_base import TenantScopedAdmin


class ReadOnlyAdmin(TenantScopedAdmin):
    """Rows written by the services and jobs only. Deleting stays allowed (scoped) because they
    cascade from an organization's deletion, which the admin would otherwise refuse."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class LeasedJobAdmin(ReadOnlyAdmin):
    """What propagation and sharing jobs show alike: a progress bar, the error list, no bulk delete.

    Each subclass keeps its own resume action (their messages to the administrator differ).
    """

    @admin.display(description="Progress")
    def progress_bar(self, obj: LeasedJob) -> str:
        return format_html(
            '<progress max="100" value="{}" aria-label="progress">{}%</progress> {}%',
            obj.progress,
            obj.progress,
            obj.progress,
        )

    @admin.display(description="Errors")
    def error_list(self, obj: LeasedJob) -> str:
        return "\n".join(f"{e.get('at')}: {e.get('error')}" for e in obj.errors) or "—"

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions
