"""Session records in the admin: read-only, per tenant (they are written by signing in)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from idp.account.models import SessionRecord
from tenants.admin_base import TenantScopedAdmin


@admin.register(SessionRecord)
class SessionRecordAdmin(TenantScopedAdmin):
    list_display = ("user", "tenant", "created_at", "ip", "user_agent")
    list_filter = ("tenant",)
    search_fields = ("user__username",)
    fields = ("tenant", "user", "created_at", "ip", "user_agent")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
