"""Canopy's admin site: tenant-aware login, and access for tenant administrators.

Platform staff (superusers with no tenant) see every tenant. A tenant
administrator signs in by naming their tenant, and every model admin derived
from ``TenantScopedAdmin`` shows them their tenant's rows only.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.http import HttpRequest


def can_use_admin(user: Any) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user.tenant_id is None:
        return bool(user.is_superuser and user.is_staff)
    return bool(user.is_tenant_admin and user.is_staff and user.tenant.is_active)


class TenantAdminAuthenticationForm(AdminAuthenticationForm):
    tenant = forms.CharField(
        label="Tenant",
        required=False,
        max_length=50,
        help_text="Your tenant's short name, e.g. mightybank. Leave empty for platform staff.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "autocomplete": "organization"}),
    )
    field_order = ["tenant", "username", "password"]

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": "That tenant, username and password do not match an administrator account. "
        "Check all three; passwords are case-sensitive.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        tenant = (self.cleaned_data.get("tenant") or "").strip().lower()
        if username is not None and password:
            self.user_cache = authenticate(self.request, username=username, password=password, tenant=tenant)
            if self.user_cache is None:
                raise ValidationError(self.error_messages["invalid_login"], code="invalid_login")
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data

    def confirm_login_allowed(self, user: Any) -> None:
        super().confirm_login_allowed(user)
        if not can_use_admin(user):
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login")


class CanopyAdminSite(admin.AdminSite):
    site_header = "Canopy administration"
    site_title = "Canopy"
    index_title = "Tenant administration"
    login_form = TenantAdminAuthenticationForm
    login_template = "admin/canopy_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return can_use_admin(request.user)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        user = request.user
        context["canopy_tenant"] = getattr(user, "tenant", None) if user.is_authenticated else None
        return context
