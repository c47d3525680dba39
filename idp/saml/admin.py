"""Service providers in the admin, scoped to the tenant; saves go through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from idp.saml.models import ServiceProvider
from idp.saml.services import service_provider_refresh_metadata, service_provider_validate
from tenants.admin_base import ServiceValidatedForm, TenantScopedAdmin
from tenants.audit import AuditAction, audit_record


class ServiceProviderForm(ServiceValidatedForm):
    class Meta:
        model = ServiceProvider
        fields = (
            "tenant",
            "entity_id",
            "name",
            "metadata_source",
            "acs",
            "slo",
            "signing_certificates",
            "encryption_certificate",
            "nameid_format",
            "sign_response",
            "sign_assertion",
            "encrypt_assertion",
            "want_authn_requests_signed",
            "idp_initiated",
            "attribute_release",
            "attribute_names",
            "org_name_source",
            "organization_required",
            "default_organization",
        )

    def validate_instance(self, instance: ServiceProvider) -> None:
        service_provider_validate(instance)


@admin.register(ServiceProvider)
class ServiceProviderAdmin(TenantScopedAdmin):
    form = ServiceProviderForm
    list_display = ("entity_id", "name", "tenant", "nameid_format", "idp_initiated", "organization_required")
    list_filter = ("tenant", "nameid_format", "idp_initiated")
    search_fields = ("entity_id", "name")
    autocomplete_fields = ("default_organization",)
    readonly_fields = ("metadata_fetched_at", "metadata_error")
    actions = ("refresh_metadata",)
    fieldsets = (
        (None, {"fields": ("tenant", "entity_id", "name", "metadata_source", "metadata_fetched_at", "metadata_error")}),
        ("Endpoints and keys", {"fields": ("acs", "slo", "signing_certificates", "encryption_certificate")}),
        (
            "Behaviour",
            {
                "fields": (
                    "nameid_format",
                    "sign_response",
                    "sign_assertion",
                    "encrypt_assertion",
                    "want_authn_requests_signed",
                    "idp_initiated",
                )
            },
        ),
        (
            "Attributes and organization",
            {
                "fields": (
                    "attribute_release",
                    "attribute_names",
                    "org_name_source",
                    "organization_required",
                    "default_organization",
                )
            },
        ),
    )

    @admin.action(description="Refresh metadata now (from its URL)", permissions=["change"])
    def refresh_metadata(self, request: HttpRequest, queryset: QuerySet[ServiceProvider]) -> None:
        """The selection is already this admin's (scoped queryset); SPs without a URL are skipped with a word."""
        for sp in queryset.select_related("tenant"):
            if not sp.metadata_source.startswith(("https://", "http://")):
                self.message_user(
                    request, f"{sp}: not registered from a metadata URL; nothing to refresh.", messages.WARNING
                )
                continue
            if service_provider_refresh_metadata(actor=request.user, sp=sp):  # type: ignore[arg-type]
                self.message_user(request, f"{sp}: metadata refreshed.", messages.SUCCESS)
            else:
                self.message_user(request, f"{sp}: metadata not refreshed: {sp.metadata_error}", messages.ERROR)

    def save_model(self, request: HttpRequest, obj: ServiceProvider, form: Any, change: bool) -> None:
        if not change and obj.tenant_id is None:
            obj.tenant = self.request_tenant(request, form)  # type: ignore[assignment]
        service_provider_validate(obj)  # the form ran it already; the tenant may have just been set
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,  # type: ignore[arg-type]
            tenant=obj.tenant,
            action=AuditAction.SAML_SP_UPDATE if change else AuditAction.SAML_SP_CREATE,
            target=obj,
            data={"via": "admin"},
        )
