"""Passkeys in the admin: listed per tenant (delegated admins: users of their subtree), revocable, never added here."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from idp.passkeys.models import PasskeyCredential
from idp.passkeys.services import passkey_revoke
from tenants.admin_base import TenantScopedAdmin


@admin.register(PasskeyCredential)
class PasskeyCredentialAdmin(TenantScopedAdmin):
    list_display = ("name", "user", "tenant", "created_at", "last_used_at", "backed_up")
    list_filter = ("tenant",)
    search_fields = ("name", "user__username", "user__email")
    fields = ("tenant", "user", "name", "aaguid", "transports", "backed_up", "sign_count", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # a passkey is made by its authenticator, in the user's browser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # nothing to edit; administrators may only revoke

    def delete_model(self, request: HttpRequest, obj: PasskeyCredential) -> None:
        passkey_revoke(actor=request.user, credential=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[PasskeyCredential]) -> None:
        for obj in queryset:
            passkey_revoke(actor=request.user, credential=obj)  # type: ignore[arg-type]
