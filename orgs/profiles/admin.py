"""Admin for profile attributes: user stores, their attribute mappings, organizations' own profile values."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from orgs.profiles import attributes as profile_attributes
from orgs.profiles.models import OrganizationProfileValue, UserStore, UserStoreAttributeMapping
from orgs.profiles.services import profile_value_clear
from tenants.admin_base import TenantScopedAdmin


class UserStoreForm(forms.ModelForm):
    class Meta:
        model = UserStore
        fields = ("tenant", "organization", "name", "description")


@admin.register(UserStore)
class UserStoreAdmin(TenantScopedAdmin):
    form = UserStoreForm
    list_display = ("name", "organization", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("name", "organization__identifier")
    autocomplete_fields = ("organization",)
    list_select_related = ("organization", "tenant")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("organization", "name") if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: UserStore, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["description"])
            return
        created = profile_attributes.user_store_create(
            actor=request.user,  # type: ignore[arg-type]
            organization=form.cleaned_data["organization"],
            name=form.cleaned_data["name"],
            description=form.cleaned_data.get("description", ""),
        )
        obj.pk, obj._state.adding = created.pk, False


class MappingForm(forms.ModelForm):
    class Meta:
        model = UserStoreAttributeMapping
        fields = ("tenant", "store", "attribute", "mapped_to", "multi_valued", "disabled")


@admin.register(UserStoreAttributeMapping)
class UserStoreAttributeMappingAdmin(TenantScopedAdmin):
    form = MappingForm
    list_display = ("attribute", "mapped_to", "store", "multi_valued", "disabled", "tenant")
    list_filter = ("tenant", "multi_valued", "disabled")
    search_fields = ("attribute", "mapped_to", "store__name")
    list_select_related = ("store", "tenant")

    def save_model(self, request: HttpRequest, obj: UserStoreAttributeMapping, form: Any, change: bool) -> None:
        data = form.cleaned_data
        try:
            saved = profile_attributes.user_store_mapping_set(
                actor=request.user,  # type: ignore[arg-type]
                store=data["store"],
                attribute=data["attribute"],
                mapped_to=data["mapped_to"],
                multi_valued=data["multi_valued"],
                disabled=data["disabled"],
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            raise
        obj.pk, obj._state.adding = saved.pk, False


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
