from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants.admin_base import TenantScopedAdmin
from tenants.audit import AuditAction, audit_record
from tenants.lockout import lockout_clear
from tenants.models import AuditEvent, SigningKey, Tenant, User
from tenants.scoping import is_platform_user
from tenants.services import tenant_create

admin.site.unregister(Group)  # Canopy's powers come from tenants and memberships, not groups.


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdmin):
    list_display = ("slug", "display_name", "is_active", "created_at")
    search_fields = ("slug", "display_name")
    readonly_fields = ("created_at",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return ("slug", "created_at")
        return super().get_readonly_fields(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_platform_user(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_user(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_user(request.user)

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return

        created = tenant_create(actor=request.user, slug=obj.slug, display_name=obj.display_name)  # type: ignore[arg-type]
        obj.pk, obj.created_at = created.pk, created.created_at
        obj._state.adding = False


class TenantUserCreationForm(AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):  # type: ignore[name-defined]  # stubs lack Meta
        model = User
        fields = ("tenant", "username", "email")

    def clean_username(self) -> str:
        # Uniqueness is per tenant: the model's constraints check it with the tenant known.
        return self.cleaned_data["username"]


class TenantUserChangeForm(UserChangeForm):
    class Meta(UserChangeForm.Meta):  # type: ignore[name-defined]  # stubs lack Meta
        model = User
        fields = "__all__"


@admin.register(User)
class CanopyUserAdmin(TenantScopedAdmin, DjangoUserAdmin):
    form = TenantUserChangeForm
    add_form = TenantUserCreationForm
    list_display = ("username", "email", "tenant", "first_name", "last_name", "is_tenant_admin", "is_active")
    list_filter = ("tenant", "is_tenant_admin", "is_active")
    search_fields = ("username", "email", "first_name", "last_name")
    ordering = ("tenant", "username")
    fieldsets = (
        (None, {"fields": ("tenant", "username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Administration", {"fields": ("is_active", "is_tenant_admin")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("tenant", "username", "email", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
    filter_horizontal = ()
    actions = ["clear_login_lockout"]

    @admin.action(description="Clear login lockout", permissions=["change"])
    def clear_login_lockout(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        """Forget failed sign-ins for the selected users' usernames and emails (rows already tenant-scoped)."""
        locked = 0
        users = list(queryset.select_related("tenant").filter(tenant__isnull=False))
        for user in users:
            assert user.tenant is not None
            locked += lockout_clear(
                actor=request.user,  # type: ignore[arg-type]
                tenant=user.tenant,
                identifiers=[user.username, user.email],
            )
        self.message_user(
            request,
            f"Cleared the sign-in lockout of {len(users)} user(s); {locked} were locked out.",
            messages.SUCCESS,
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if is_platform_user(request.user):
            # Platform staff also manage staff/superuser flags.
            fieldsets = [*fieldsets, ("Platform", {"fields": ("is_staff", "is_superuser")})]
        return fieldsets

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        # A tenant administrator needs the admin site; nobody else in a tenant gets it.
        if obj.tenant_id is not None:
            obj.is_staff = obj.is_tenant_admin
            obj.is_superuser = False
        super().save_model(request, obj, form, change)

        audit_record(
            actor=request.user,  # type: ignore[arg-type]
            tenant=obj.tenant,
            action=AuditAction.USER_UPDATE if change else AuditAction.USER_CREATE,
            target=obj,
            data={"fields": sorted(form.changed_data)},
        )


@admin.register(SigningKey)
class SigningKeyAdmin(TenantScopedAdmin):
    list_display = ("kid", "tenant", "algorithm", "status", "created_at", "retired_at")
    list_filter = ("tenant", "algorithm", "status")
    search_fields = ("kid",)
    fields = ("tenant", "kid", "algorithm", "status", "public_jwk", "created_at", "retired_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # keys are generated by tenant creation and rotation only

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedAdmin):
    list_display = ("created_at", "tenant", "actor_label", "action", "target_type", "target_id")
    list_filter = ("tenant", "action")
    search_fields = ("action", "actor_label", "target_id")
    fields = ("created_at", "tenant", "actor_label", "action", "target_type", "target_id", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
