"""Admin for invitations: listed per tenant, created, resent and revoked through the services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from orgs.invitations.models import Invitation
from orgs.invitations.services import invitation_create, invitation_resend, invitation_revoke, invitation_validate
from tenants.admin_base import TenantScopedAdmin


class InvitationForm(forms.ModelForm):
    """The add form: an address (with or without an account) invited to an organization.

    ``clean`` runs ``orgs.invitations.services.invitation_validate`` so refusals show on the fields.
    """

    canopy_request: HttpRequest
    canopy_admin: TenantScopedAdmin

    class Meta:
        model = Invitation
        fields = ("tenant", "organization", "email", "role")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        organization = data.get("organization")
        if self.errors or organization is None:
            return data
        tenant = self.canopy_admin.request_tenant(self.canopy_request, self)
        if tenant is not None and organization.tenant_id != tenant.pk:
            self.add_error("organization", "Choose an organization of this tenant.")
            return data
        try:
            data["email"] = invitation_validate(
                actor=self.canopy_request.user,  # type: ignore[arg-type]
                organization=organization,
                email=data.get("email", ""),
                role=data.get("role", ""),
            )
        except PermissionDenied as exc:
            self.add_error("role", str(exc))
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data


@admin.register(Invitation)
class InvitationAdmin(TenantScopedAdmin):
    form = InvitationForm
    list_display = (
        "email",
        "organization",
        "role",
        "tenant",
        "created_at",
        "expires_at",
        "sent_at",
        "accepted_at",
        "revoked_at",
    )
    actions = ("revoke_invitations", "resend_invitations")
    list_filter = ("tenant", "role")
    search_fields = ("email", "organization__identifier")
    list_select_related = ("organization", "tenant")
    fields = ("tenant", "organization", "email", "role", "invited_by", "created_at", "expires_at", "sent_at")
    readonly_fields = (*fields, "accepted_at", "accepted_by", "revoked_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:
            return super().get_fields(request, obj)
        return (
            ["organization", "email", "role"]
            if self._hide_tenant(request)
            else ["tenant", "organization", "email", "role"]
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return super().get_readonly_fields(request, obj) if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Invitation, form: Any, change: bool) -> None:
        """Adding goes through ``invitation_create`` (roles, audit, the email on commit)."""
        data = form.cleaned_data
        created = invitation_create(
            actor=request.user,  # type: ignore[arg-type]
            organization=data["organization"],
            email=data["email"],
            role=data["role"],
        )
        for field in created._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    def _each(self, request: HttpRequest, queryset: QuerySet[Invitation], change: Any, done: str) -> None:
        """Run one service per selected invitation; refusals are listed, the others go through."""
        count, refused = 0, []
        for invitation in queryset.select_related("organization", "tenant"):
            try:
                change(actor=request.user, invitation=invitation)
            except (ValidationError, PermissionDenied) as exc:
                refused.append(f"{invitation.email}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
            else:
                count += 1
        if count:
            self.message_user(request, f"{done} {count} invitation(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not done: " + "; ".join(refused), messages.WARNING)

    @admin.action(description="Revoke selected invitations (their links stop working)")
    def revoke_invitations(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        self._each(request, queryset, invitation_revoke, "Revoked")

    @admin.action(description="Resend selected invitations (a new link; the old one stops working)")
    def resend_invitations(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        self._each(request, queryset, invitation_resend, "Sent again")
