"""Upstream IdPs, their domains and linked identities in the admin, scoped to the tenant.

Saves run the services' validation; secrets are entered write-only and stored encrypted.
"""

from __future__ import annotations

import secrets
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.timezone import now

from idp.federation import saml_sp
from idp.federation.backchannel import backchannel_logout_uri
from idp.federation.logout import logout_return_url
from idp.federation.models import UpstreamDomain, UpstreamIdentity, UpstreamIdP
from idp.federation.services import (
    MetadataError,
    domain_challenge,
    domain_check_dns,
    domain_set_verified,
    encrypt_secret,
    fetch_saml_metadata,
    saml_metadata_refresh,
    upstream_idp_validate,
)
from idp.federation.views import callback_url, domain_status, saml_metadata_status
from orgs.tree.services import normalize_domain
from tenants.admin_base import ServiceValidatedForm, TenantScopedAdmin
from tenants.audit import AuditAction, audit_record


class UpstreamIdPForm(ServiceValidatedForm):
    client_secret = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False), help_text="Leave empty to keep the current one."
    )

    class Meta:
        model = UpstreamIdP
        fields = (
            "tenant",
            "organization",
            "slug",
            "name",
            "kind",
            "enabled",
            "show_button",
            "issuer",
            "discovery_url",
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "client_id",
            "scopes",
            "use_pkce",
            "end_session_endpoint",
            "saml_metadata_url",
            "saml_metadata",
            "saml_sign_requests",
            "attribute_map",
            "jit_enabled",
            "jit_organizations",
            "jit_claim",
            "jit_claim_map",
            "jit_role",
            "sync_on_login",
            "linking",
        )

    def validate_instance(self, instance: UpstreamIdP) -> None:
        if self.cleaned_data.get("client_secret"):
            instance.client_secret_encrypted = encrypt_secret(self.cleaned_data["client_secret"])
        if instance.kind == UpstreamIdP.Kind.SAML and instance.saml_metadata_url and not instance.saml_metadata:
            try:
                instance.saml_metadata = fetch_saml_metadata(instance.saml_metadata_url)
            except MetadataError as exc:
                raise ValidationError({"saml_metadata_url": [str(exc)]}) from exc
            instance.saml_metadata_fetched_at = now()
        upstream_idp_validate(instance, jit_organizations=self.cleaned_data.get("jit_organizations") or [])


class UpstreamDomainInline(admin.TabularInline):
    model = UpstreamDomain
    fields = ("domain", "verified", "status", "last_checked_at")
    readonly_fields = ("verified", "status", "last_checked_at")
    extra = 0

    @admin.display(description="status")
    def status(self, obj: UpstreamDomain) -> str:
        return domain_status(obj) if obj.pk else ""


@admin.register(UpstreamIdP)
class UpstreamIdPAdmin(TenantScopedAdmin):
    form = UpstreamIdPForm
    list_display = ("name", "slug", "kind", "tenant", "organization", "enabled", "linking")
    list_filter = ("tenant", "kind", "enabled")
    search_fields = ("name", "slug", "client_id")
    autocomplete_fields = ("organization", "jit_organizations")
    readonly_fields = ("metadata_status", "partner_registration")
    actions = ("refresh_metadata",)

    @admin.display(description="SAML metadata status")
    def metadata_status(self, obj: UpstreamIdP) -> str:
        return saml_metadata_status(obj)

    @admin.display(description="Register at the partner")
    def partner_registration(self, obj: UpstreamIdP) -> str:
        """The URLs the partner's administrator registers for Canopy (saved IdPs only)."""
        if obj.pk is None:
            return "Save first: the URLs include the slug."
        if obj.kind == UpstreamIdP.Kind.SAML:
            return f"SP metadata (entity id): {saml_sp.sp_entity_id(obj)}"
        return (
            f"Redirect URI: {callback_url(obj.tenant, obj)} · Post-logout redirect URI: {logout_return_url(obj)} "
            f"· Back-channel logout URI: {backchannel_logout_uri(obj)}"
        )

    @admin.action(description="Fetch the SAML metadata from its URL now")
    def refresh_metadata(self, request: HttpRequest, queryset: QuerySet[UpstreamIdP]) -> None:
        for idp in queryset.exclude(saml_metadata_url=""):
            ok = saml_metadata_refresh(actor=request.user, idp=idp)  # type: ignore[arg-type]
            self.message_user(
                request, f"{idp.name}: {saml_metadata_status(idp)}", messages.SUCCESS if ok else messages.ERROR
            )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,  # type: ignore[arg-type]
            tenant=obj.tenant,
            action=AuditAction.FEDERATION_IDP_UPDATE if change else AuditAction.FEDERATION_IDP_CREATE,
            target=obj,
            data={"fields": sorted(f for f in form.changed_data if f != "client_secret")},
        )


class UpstreamDomainForm(forms.ModelForm):
    class Meta:
        model = UpstreamDomain
        fields = ("tenant", "idp", "domain")

    def clean_domain(self) -> str:
        return normalize_domain(self.cleaned_data.get("domain", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant, idp = data.get("tenant") or getattr(self.instance, "tenant", None), data.get("idp")
        if tenant is not None and idp is not None and idp.tenant_id != tenant.pk:
            self.add_error("idp", "This identity provider belongs to another tenant.")
        return data


@admin.register(UpstreamDomain)
class UpstreamDomainAdmin(TenantScopedAdmin):
    form = UpstreamDomainForm
    list_display = ("domain", "idp", "tenant", "verified", "status", "challenge")
    list_filter = ("tenant", "verified")
    search_fields = ("domain",)
    readonly_fields = ("verified", "verified_at", "verified_how", "last_check", "last_checked_at", "challenge")
    fields = (
        "tenant",
        "idp",
        "domain",
        "verified",
        "verified_at",
        "verified_how",
        "last_check",
        "last_checked_at",
        "challenge",
    )
    actions = ("check_dns", "mark_verified", "mark_unverified")

    @admin.display(description="status")
    def status(self, obj: UpstreamDomain) -> str:
        return domain_status(obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A claimed domain never changes name or owner: its verification is for that name and IdP.
        base = tuple(super().get_readonly_fields(request, obj))
        return (*base, "tenant", "idp", "domain") if obj is not None else base

    @admin.display(description="DNS challenge (TXT)")
    def challenge(self, obj: UpstreamDomain) -> str:
        if not obj.pk:
            return "Shown after saving."
        name, value = domain_challenge(obj)
        return f"{name} TXT {value}"

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:

        if not obj.verification_token:
            obj.verification_token = secrets.token_urlsafe(24)
        super().save_model(request, obj, form, change)
        audit_record(
            actor=request.user,  # type: ignore[arg-type]
            tenant=obj.tenant,
            action=AuditAction.FEDERATION_DOMAIN_CLAIM,
            target=obj,
            data={"domain": obj.domain},
        )

    @admin.action(description="Check the DNS TXT record")
    def check_dns(self, request: HttpRequest, queryset: QuerySet[UpstreamDomain]) -> None:
        for domain in queryset:
            ok = domain_check_dns(actor=request.user, domain=domain)  # type: ignore[arg-type]
            self.message_user(
                request, f"{domain.domain}: {domain_status(domain)}", messages.SUCCESS if ok else messages.WARNING
            )

    @admin.action(description="Mark verified (manual)")
    def mark_verified(self, request: HttpRequest, queryset: QuerySet[UpstreamDomain]) -> None:
        for domain in queryset:
            domain_set_verified(actor=request.user, domain=domain, verified=True)  # type: ignore[arg-type]

    @admin.action(description="Mark unverified")
    def mark_unverified(self, request: HttpRequest, queryset: QuerySet[UpstreamDomain]) -> None:
        for domain in queryset:
            domain_set_verified(actor=request.user, domain=domain, verified=False)  # type: ignore[arg-type]


@admin.register(UpstreamIdentity)
class UpstreamIdentityAdmin(TenantScopedAdmin):
    list_display = ("subject", "idp", "user", "tenant", "email", "last_login_at")
    list_filter = ("tenant",)
    search_fields = ("subject", "email")
    fields = ("tenant", "idp", "subject", "user", "email", "created_at", "last_login_at")
    readonly_fields = ("tenant", "idp", "subject", "user", "email", "created_at", "last_login_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # links are made by signing in; an administrator may only remove one
