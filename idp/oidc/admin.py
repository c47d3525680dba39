"""OIDC clients and issued tokens in the admin, scoped to the tenant."""

from __future__ import annotations

from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from idp.oidc.models import AccessToken, Application, Grant, IDToken, RefreshToken
from idp.oidc.services import clean_backchannel_logout_uri, validate_redirect_uris
from tenants.admin_base import TenantScopedAdmin

for model in (Application, AccessToken, RefreshToken, IDToken, Grant):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


ADMIN_FIELDS = (
    "tenant",
    "client_id",
    "name",
    "client_type",
    "authorization_grant_type",
    "client_secret",
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
    "allowed_origins",
    "algorithm",
    "skip_authorization",
    "organization_required",
    "org_name_source",
    "org_claim_names",
    "access_token_format",
    "allow_token_exchange",
)


class ApplicationForm(forms.ModelForm):
    """The admin keeps the service's redirect-URI rule (exact; https, or http on loopback)."""

    class Meta:
        model = Application
        fields = ADMIN_FIELDS

    def _uris(self, field: str) -> str:
        return " ".join(validate_redirect_uris(field, str(self.cleaned_data.get(field) or "").split()))

    def clean_redirect_uris(self) -> str:
        try:
            return self._uris("redirect_uris")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["redirect_uris"]) from None

    def clean_post_logout_redirect_uris(self) -> str:
        try:
            return self._uris("post_logout_redirect_uris")
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["post_logout_redirect_uris"]) from None

    def clean_backchannel_logout_uri(self) -> str:
        try:
            return clean_backchannel_logout_uri(self.cleaned_data.get("backchannel_logout_uri"))
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["backchannel_logout_uri"]) from None


@admin.register(Application)
class ApplicationAdmin(TenantScopedAdmin):
    form = ApplicationForm
    list_display = ("client_id", "name", "tenant", "client_type", "authorization_grant_type", "skip_authorization")
    list_filter = ("tenant", "client_type", "authorization_grant_type")
    search_fields = ("client_id", "name")
    fields = ADMIN_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("client_id",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Application, form: Any, change: bool) -> None:
        if not change and obj.tenant_id is None:
            obj.tenant = self.request_tenant(request, form)  # type: ignore[assignment]
        obj.hash_client_secret = True
        super().save_model(request, obj, form, change)


class TokenAdmin(TenantScopedAdmin):
    list_display: tuple[str, ...] = ("id", "user", "application", "tenant", "expires")
    list_filter = ("tenant",)
    search_fields = ("user__username", "application__client_id")
    list_select_related = ("user", "application", "tenant")
    exclude: ClassVar[tuple[str, ...]] = ("token", "token_checksum")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AccessToken)
class AccessTokenAdmin(TokenAdmin):
    list_display = ("id", "user", "application", "organization", "tenant", "expires")
    exclude = ("token", "token_checksum", "grant_code_hash")


@admin.register(RefreshToken)
class RefreshTokenAdmin(TokenAdmin):
    list_display = ("id", "user", "application", "organization", "tenant", "revoked")


@admin.register(IDToken)
class IDTokenAdmin(TokenAdmin):
    exclude = ()


@admin.register(Grant)
class GrantAdmin(TokenAdmin):
    exclude = ("code",)
