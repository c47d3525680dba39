"""Canopy's admin site: tenant-aware login, and access for tenant administrators.

Platform staff (superusers with no tenant) see every tenant. A tenant
administrator signs in by naming their tenant, and every model admin derived
from ``TenantScopedAdmin`` shows them their tenant's rows only.

*Delegated administrators* (owners and admins of organizations, who are not tenant
administrators) may sign in too, when an app registered a delegation check
(``register_delegation_check``; ``orgs`` does, so ``tenants`` needs no import of it).
They see only the models that registered a delegated scope in ``tenants.admin_base``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from tenants.lockout import client_ip, failure_record, failures_reset, identifier_locked, ip_locked
from tenants.models import Tenant
from tenants.registry import Registry

DELEGATION_CHECKS: Registry[Callable[[Any], bool]] = Registry("delegation check")


def register_delegation_check(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``check(user)`` says whether a tenant user administers some part of their tenant."""
    return DELEGATION_CHECKS.register(check)


def can_use_admin(user: Any) -> bool:
    """Full administration: platform staff, or a tenant administrator of an active tenant."""
    if not (user.is_authenticated and user.is_active):
        return False
    if user.tenant_id is None:
        return bool(user.is_superuser and user.is_staff)
    return bool(user.is_tenant_admin and user.is_staff and user.tenant.is_active)


def is_delegated_admin(user: Any) -> bool:
    """Not a full administrator, but an owner/admin of some organization of an active tenant."""
    if not (user.is_authenticated and user.is_active) or user.tenant_id is None or can_use_admin(user):
        return False
    if not user.tenant.is_active:
        return False
    cached = getattr(user, "_canopy_delegated", None)
    if cached is None:
        cached = any(check(user) for check in DELEGATION_CHECKS)
        user._canopy_delegated = cached
    return bool(cached)


def can_enter_admin(user: Any) -> bool:
    return can_use_admin(user) or is_delegated_admin(user)


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
        "locked": "Too many unsuccessful attempts to sign in. Try again later, or ask an administrator "
        "to unlock your account.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        tenant = (self.cleaned_data.get("tenant") or "").strip().lower()
        if username is not None and password:
            self._password_check(tenant, username, password)
        return self.cleaned_data

    def _password_check(self, slug: str, username: str, password: str) -> None:
        """The same account lockout as the login journey (``tenants.lockout``): a locked account or
        address is refused before the password is checked, and a failure counts on its counter.
        A tenant that does not exist has no counters (nobody can sign in there); the address still
        must not be locked."""
        tenant = Tenant.objects.filter(slug=slug).first() if slug else None
        counted = not slug or tenant is not None
        ip = client_ip(self.request) if self.request is not None else ""
        if ip_locked(ip=ip) or (counted and identifier_locked(tenant=tenant, identifier=username)):
            raise ValidationError(self.error_messages["locked"], code="locked")
        self.user_cache = authenticate(self.request, username=username, password=password, tenant=slug)
        if self.user_cache is None:
            if counted and failure_record(tenant=tenant, identifier=username, ip=ip):
                raise ValidationError(self.error_messages["locked"], code="locked")
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        failures_reset(tenant=tenant, identifier=username, user=self.user_cache)
        self.confirm_login_allowed(self.user_cache)

    def confirm_login_allowed(self, user: Any) -> None:
        # Only "active" from Django; is_staff is decided by can_enter_admin (delegated
        # administrators are not staff: their power comes from their memberships).
        AuthenticationForm.confirm_login_allowed(self, user)
        if not can_enter_admin(user):
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login")


class CanopyAdminSite(admin.AdminSite):
    site_header = "Canopy administration"
    site_title = "Canopy"
    index_title = "Tenant administration"
    login_form = TenantAdminAuthenticationForm
    login_template = "admin/canopy_login.html"

    def has_permission(self, request: HttpRequest) -> bool:
        return can_enter_admin(request.user)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        user = request.user
        context["canopy_tenant"] = getattr(user, "tenant", None) if user.is_authenticated else None
        return context
