"""The base every Canopy model admin derives from: it cannot forget the tenant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.forms import ModelChoiceField, ModelMultipleChoiceField
from django.http import Http404, HttpRequest

from tenants.admin_site import can_use_admin, is_delegated_admin
from tenants.models import Tenant
from tenants.registry import Registry
from tenants.scoping import is_platform_user, is_tenant_owned, object_in_scope, scope_queryset


@dataclass(frozen=True)
class DelegatedScope:
    """What a delegated administrator reaches of one model: ``rows(user)`` and whether they may write."""

    rows: Callable[[Any], models.QuerySet[Any]]
    writable: bool = False


DELEGATED_SCOPES: Registry[DelegatedScope] = Registry("delegated admin scope")  # by model label


def register_delegated_scope(
    model: type[models.Model], rows: Callable[[Any], models.QuerySet[Any]], *, writable: bool = False
) -> None:
    """Open ``model``'s admin to delegated administrators, limited to ``rows(user)``.

    Models without a registered scope stay closed to them (no module, no rows, 403).
    Writes still go through the services, which check the roles.
    """
    DELEGATED_SCOPES.register(DelegatedScope(rows, writable), name=model._meta.label, replace=True)


def delegated_rows(model: type[models.Model], user: Any) -> models.QuerySet[Any]:
    scope = DELEGATED_SCOPES.get(model._meta.label)
    if scope is None:
        return model._default_manager.none()
    return scope.rows(user)


class TenantScopedAdmin(admin.ModelAdmin):
    """Scopes querysets, related choices, permissions and the tenant field.

    Tenant administrators never see the ``tenant`` field: new rows get theirs.
    Direct URLs to another tenant's row answer 404, like a missing row.
    """

    tenant_field = "tenant"

    # --- querysets --------------------------------------------------------
    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return self._delegate(scope_queryset(super().get_queryset(request), request.user), request.user)

    @staticmethod
    def _delegate(qs: models.QuerySet[Any], user: Any) -> models.QuerySet[Any]:
        """For a delegated administrator, only the rows of their subtree (see ``register_delegated_scope``)."""
        if not is_delegated_admin(user):
            return qs
        return qs.filter(pk__in=delegated_rows(qs.model, user).values("pk"))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> ModelChoiceField | None:
        related = db_field.remote_field.model
        if related is Tenant or is_tenant_owned(related):
            base = kwargs.get("queryset")
            if base is None:
                base = related._default_manager.all()
            kwargs["queryset"] = self._delegate(scope_queryset(base, request.user), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> ModelMultipleChoiceField | None:
        related = db_field.remote_field.model
        if related is Tenant or is_tenant_owned(related):
            base = kwargs.get("queryset")
            if base is None:
                base = related._default_manager.all()
            kwargs["queryset"] = self._delegate(scope_queryset(base, request.user), request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _ensure_visible(self, request: HttpRequest, object_id: str) -> None:
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404("No such object.")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None) -> Any:
        self._ensure_visible(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        self._ensure_visible(request, object_id)
        return super().delete_view(request, object_id, extra_context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> Any:
        self._ensure_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> Any:
        # Another tenant's row and a missing row look the same: 404, so ids cannot be probed.
        raise Http404("No such object.")

    # --- permissions ------------------------------------------------------
    def _allowed(self, request: HttpRequest, obj: models.Model | None, *, write: bool = False) -> bool:
        user = request.user
        if can_use_admin(user):
            return obj is None or object_in_scope(obj, user)
        if not is_delegated_admin(user):
            return False
        scope = DELEGATED_SCOPES.get(self.model._meta.label)
        if scope is None or (write and not scope.writable):
            return False
        if obj is None:
            return True
        return object_in_scope(obj, user) and scope.rows(user).filter(pk=obj.pk).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_delegated_admin(request.user):
            return self.model._meta.label in DELEGATED_SCOPES
        return can_use_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._allowed(request, None, write=True)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, obj, write=True)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._allowed(request, obj, write=True)

    # --- the tenant field -------------------------------------------------
    def _hide_tenant(self, request: HttpRequest) -> bool:
        return not is_platform_user(request.user)

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> Any:
        exclude = list(super().get_exclude(request, obj) or [])
        if self._hide_tenant(request) and is_tenant_owned(self.model):
            exclude.append(self.tenant_field)
        return exclude

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_fields(request, obj))
        if self._hide_tenant(request) and self.tenant_field in fields and is_tenant_owned(self.model):
            fields.remove(self.tenant_field)
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if not self._hide_tenant(request):
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != self.tenant_field]})
            for name, opts in fieldsets
        ]

    def get_list_display(self, request: HttpRequest) -> Any:
        cols = list(super().get_list_display(request))
        return [c for c in cols if c != self.tenant_field] if self._hide_tenant(request) else cols

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        return [f for f in filters if f != self.tenant_field] if self._hide_tenant(request) else filters

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        ro = list(super().get_readonly_fields(request, obj))
        if self._hide_tenant(request):
            ro = [f for f in ro if f != self.tenant_field]
        return ro

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)
        hide = self._hide_tenant(request) and is_tenant_owned(self.model)
        tenant = request.user.tenant if hide else None  # type: ignore[union-attr]
        admin_self = self

        class ScopedForm(form_class):  # type: ignore[valid-type,misc]
            canopy_request = request
            canopy_admin = admin_self

            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                if hide and self.instance._state.adding:
                    self.instance.tenant = tenant

            def _get_validation_exclusions(self) -> Any:
                # The tenant field is hidden but set: keep per-tenant unique constraints checked.
                exclusions = super()._get_validation_exclusions()
                if hide:
                    exclusions.discard(admin_self.tenant_field)
                return exclusions

            def _update_errors(self, errors: Any) -> None:
                # Errors on the hidden tenant field (or per-tenant constraints) show at the top.
                if hide and hasattr(errors, "error_dict") and admin_self.tenant_field in errors.error_dict:
                    moved = errors.error_dict.pop(admin_self.tenant_field)
                    errors.error_dict.setdefault(NON_FIELD_ERRORS, []).extend(moved)
                super()._update_errors(errors)

        ScopedForm.__name__ = form_class.__name__
        return ScopedForm

    def request_tenant(self, request: HttpRequest, form: Any = None) -> Tenant | None:
        """The tenant a new row belongs to: the admin's own, or the one platform staff chose."""
        if self._hide_tenant(request):
            return request.user.tenant  # type: ignore[union-attr]
        if form is not None:
            return form.cleaned_data.get(self.tenant_field)
        return None


class ServiceValidatedForm(forms.ModelForm):
    """A model form whose unsaved row the owning service validates, once it has its tenant.

    Subclasses implement ``validate_instance`` (prepare the row, then call the service's
    validation); a ``ValidationError`` it raises lands on the named fields (others: the form).
    """

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]  # ModelForm's hook, absent from the stubs
        if self.instance.tenant_id is None:
            return
        try:
            self.validate_instance(self.instance)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)

    def validate_instance(self, instance: Any) -> None:
        raise NotImplementedError
