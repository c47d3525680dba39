"""Django admin for organizations. Every write goes through ``orgs.tree.services``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest
from django.utils.html import format_html

from orgs.tree import services
from orgs.tree.models import ActsForLink, Membership, Organization, OrganizationDomain
from orgs.tree.selectors import organization_ancestors
from tenants.admin_base import TenantScopedAdmin
from tenants.admin_site import is_delegated_admin
from tenants.registry import Registry


def _copy_saved(target: Any, saved: Any) -> None:
    """Make the admin's unsaved instance stand for the row a service saved."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class ServiceValidatedForm(forms.ModelForm):
    """A model form whose ``clean`` asks the services, so the admin shows their field errors."""

    canopy_request: HttpRequest
    canopy_admin: TenantScopedAdmin

    def service_validate(self, data: dict[str, Any]) -> None:
        raise NotImplementedError  # each form says which service rules apply

    def tenant(self) -> Any:
        return self.canopy_admin.request_tenant(self.canopy_request, self) or getattr(self.instance, "tenant", None)

    def clean(self) -> dict[str, Any]:
        super().clean()  # ModelForm.clean returns self.cleaned_data
        data = self.cleaned_data
        if self.errors:
            return data
        try:
            self.service_validate(data)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errs in exc.error_dict.items():
                    self.add_error(field if field in self.fields else None, errs)
            else:
                self.add_error(None, exc)
        return data


# --- Organizations ----------------------------------------------------------


class OrganizationForm(ServiceValidatedForm):
    class Meta:
        model = Organization
        fields = ("tenant", "parent", "identifier", "display_name", "description", "logo_uri")

    def service_validate(self, data: dict[str, Any]) -> None:
        tenant = self.tenant()
        if tenant is None:
            raise ValidationError({"tenant": ["Choose a tenant."]})
        parent = data.get("parent")
        services.organization_validate(
            tenant=tenant,
            identifier=data.get("identifier", ""),
            display_name=data.get("display_name", ""),
            logo_uri=data.get("logo_uri", ""),
            parent=parent,
            instance=None if self.instance._state.adding else self.instance,
        )
        if not self.instance._state.adding and parent is not None and parent.path.startswith(self.instance.path):
            cycle = f"'{parent.identifier}' is this organization or one of its descendants: that would make a cycle."
            raise ValidationError({"parent": [cycle]})


def _404() -> Any:
    raise Http404("No such object.")


# Pages features add to the organization admin (the settings page of orgs.inheritance.admin):
# each entry takes the OrganizationAdmin and returns URL patterns.
ORGANIZATION_PAGES: Registry[Callable[[admin.ModelAdmin], list[Any]]] = Registry("organization admin page")


def organization_admin_pages(pages: Callable[[admin.ModelAdmin], list[Any]]) -> Callable[[admin.ModelAdmin], list[Any]]:
    """Register extra pages of the organization admin (usable as a decorator); a feature calls it
    from its admin module, so the tree's admin does not import the features."""
    return ORGANIZATION_PAGES.register(pages)


@admin.register(Organization)
class OrganizationAdmin(TenantScopedAdmin):
    form = OrganizationForm
    change_form_template = "admin/orgs/organization/change_form.html"
    list_display = ("tree_name", "identifier", "tenant", "id", "member_count")
    list_filter = ("tenant",)
    search_fields = ("identifier", "display_name", "description")
    ordering = ("tenant", "path")
    readonly_fields = ("id", "created_at", "updated_at")
    autocomplete_fields = ("parent",)
    list_per_page = 100
    actions = ["delete_selected_safely"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["tenant", "parent", "identifier", "display_name", "description", "logo_uri"]
        if obj is not None:
            fields = ["id", *fields, "created_at", "updated_at"]
        if self._hide_tenant(request):
            fields.remove("tenant")
        if (
            obj is not None
            and obj.parent_id is not None
            and is_delegated_admin(request.user)
            and not self.get_queryset(request).filter(pk=obj.parent_id).exists()
        ):
            fields.remove("parent")  # the top of a delegated admin's subtree: its parent is out of reach
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        ro = ["id", "created_at", "updated_at"]
        if obj is not None and not self._hide_tenant(request):
            ro.append("tenant")
        return ro

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return super().get_queryset(request).select_related("tenant").annotate(member_total=Count("memberships"))

    @admin.display(description="Organization", ordering="path")
    def tree_name(self, obj: Organization) -> str:
        return format_html(
            '<span style="padding-left:{}em">{}{}</span>',
            obj.depth * 1.5,
            "└ " if obj.depth else "",
            obj.display_name,
        )

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, obj: Organization) -> int:
        return obj.member_total  # type: ignore[attr-defined]

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would skip the children rule
        return actions

    @admin.action(description="Delete selected organizations (refused if they have sub-organizations)")
    def delete_selected_safely(self, request: HttpRequest, queryset: QuerySet[Organization]) -> None:
        deleted = 0
        for org in queryset.order_by("-depth"):
            try:
                deleted += services.organization_delete(actor=request.user, organization=org)  # type: ignore[arg-type]
            except ValidationError as exc:
                self.message_user(request, "; ".join(exc.messages), messages.ERROR)
        if deleted:
            self.message_user(request, f"Deleted {deleted} organization(s).", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        actor: Any = request.user
        data = form.cleaned_data
        if not change:
            created = services.organization_create(
                actor=actor,
                tenant=self.request_tenant(request, form) or obj.tenant,
                identifier=data["identifier"],
                display_name=data["display_name"],
                description=data.get("description", ""),
                logo_uri=data.get("logo_uri", ""),
                parent=data.get("parent"),
            )
            _copy_saved(obj, created)
            return
        current = Organization.objects.get(pk=obj.pk)
        services.organization_update(
            actor=actor,
            organization=current,
            identifier=data["identifier"],
            display_name=data["display_name"],
            description=data.get("description", ""),
            logo_uri=data.get("logo_uri", ""),
        )
        if "parent" in form.changed_data:
            services.organization_move(actor=actor, organization=current, new_parent=data.get("parent"))
        current.refresh_from_db()
        _copy_saved(obj, current)

    def delete_model(self, request: HttpRequest, obj: Organization) -> None:
        services.organization_delete(actor=request.user, organization=obj)  # type: ignore[arg-type]

    def get_urls(self) -> Any:
        """The organization admin's own pages plus the ones features add (``organization_admin_pages``)."""
        return [url for pages in ORGANIZATION_PAGES for url in pages(self)] + super().get_urls()

    def render_change_form(  # noqa: PLR0917 - signature fixed by ModelAdmin
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None:
            ancestors = organization_ancestors(organization=obj)
            visible = set(
                self.get_queryset(request).filter(pk__in=[a.pk for a in ancestors]).values_list("pk", flat=True)
            )
            context["org_ancestors"] = [a for a in ancestors if a.pk in visible]  # a delegated admin's subtree only
            context["org_children"] = list(obj.children.order_by("identifier"))
        return super().render_change_form(request, context, add, change, form_url, obj)


# --- Memberships ------------------------------------------------------------


class MembershipForm(ServiceValidatedForm):
    class Meta:
        model = Membership
        fields = ("tenant", "user", "organization", "role", "origin")

    def service_validate(self, data: dict[str, Any]) -> None:
        if not self.instance._state.adding:
            return  # only the role changes after creation
        org, user = data.get("organization"), data.get("user")
        if org is not None and user is not None:
            services.membership_validate(
                organization=org, user=user, origin=data.get("origin") or Membership.Origin.DIRECT
            )


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    form = MembershipForm
    list_display = ("user", "organization", "role", "origin", "tenant", "created_at")
    list_filter = ("tenant", "role", "origin")
    search_fields = ("user__username", "user__email", "organization__identifier", "organization__display_name")
    autocomplete_fields = ("user", "organization")
    list_select_related = ("user", "organization", "tenant")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("user", "organization", "origin", "created_at") if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = ["tenant", "user", "organization", "role", "origin"]
        if obj is not None:
            fields = ["user", "organization", "role", "origin", "created_at"]
        if self._hide_tenant(request) and "tenant" in fields:
            fields.remove("tenant")
        if obj is None and is_delegated_admin(request.user):
            fields.remove("origin")  # "created-here" would skip the parent rule: delegated adds are direct
        return fields

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        actor: Any = request.user
        if change:
            current = Membership.objects.select_related("organization__tenant").get(pk=obj.pk)
            services.membership_set_role(actor=actor, membership=current, role=form.cleaned_data["role"])
            _copy_saved(obj, current)
            return
        data = form.cleaned_data
        created = services.membership_add(
            actor=actor,
            organization=data["organization"],
            user=data["user"],
            role=data["role"],
            origin=data.get("origin") or Membership.Origin.DIRECT,
        )
        _copy_saved(obj, created)

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.membership_remove(actor=request.user, membership=obj)  # type: ignore[arg-type]


# --- Domains and acts-for links --------------------------------------------


class DomainForm(ServiceValidatedForm):
    class Meta:
        model = OrganizationDomain
        fields = ("tenant", "organization", "domain", "verified")

    def service_validate(self, data: dict[str, Any]) -> None:
        if not self.instance._state.adding:
            return
        tenant = self.tenant()
        org = data.get("organization")
        if tenant is not None and org is not None and org.tenant_id != tenant.pk:
            raise ValidationError({"organization": ["The organization belongs to another tenant."]})
        if org is not None:
            data["domain"] = services.domain_validate(tenant_id=org.tenant_id, domain=data.get("domain", ""))


@admin.register(OrganizationDomain)
class OrganizationDomainAdmin(TenantScopedAdmin):
    form = DomainForm
    list_display = ("domain", "organization", "verified", "verified_at", "tenant")
    list_filter = ("tenant", "verified")
    search_fields = ("domain", "organization__identifier")
    autocomplete_fields = ("organization",)
    list_select_related = ("organization", "tenant")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("organization", "domain", "verified_at") if obj is not None else ("verified_at",)

    def save_model(self, request: HttpRequest, obj: OrganizationDomain, form: Any, change: bool) -> None:
        actor: Any = request.user
        if change:
            current = OrganizationDomain.objects.select_related("organization__tenant").get(pk=obj.pk)
            services.domain_set_verified(actor=actor, domain=current, verified=form.cleaned_data["verified"])
            _copy_saved(obj, current)
            return
        data = form.cleaned_data
        created = services.domain_add(
            actor=actor, organization=data["organization"], domain=data["domain"], verified=data.get("verified", False)
        )
        _copy_saved(obj, created)

    def delete_model(self, request: HttpRequest, obj: OrganizationDomain) -> None:
        services.domain_remove(actor=request.user, domain=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[OrganizationDomain]) -> None:
        for obj in queryset.select_related("organization__tenant"):
            self.delete_model(request, obj)


class ActsForForm(ServiceValidatedForm):
    class Meta:
        model = ActsForLink
        fields = ("tenant", "organization", "on_behalf_of")

    def service_validate(self, data: dict[str, Any]) -> None:
        org, other = data.get("organization"), data.get("on_behalf_of")
        if org is not None and other is not None:
            services.acts_for_validate(organization=org, on_behalf_of=other)


@admin.register(ActsForLink)
class ActsForLinkAdmin(TenantScopedAdmin):
    form = ActsForForm
    list_display = ("organization", "on_behalf_of", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("organization__identifier", "on_behalf_of__identifier")
    autocomplete_fields = ("organization", "on_behalf_of")
    list_select_related = ("organization", "on_behalf_of", "tenant")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: ActsForLink, form: Any, change: bool) -> None:
        data = form.cleaned_data
        created = services.acts_for_add(
            actor=request.user,  # type: ignore[arg-type]
            organization=data["organization"],
            on_behalf_of=data["on_behalf_of"],
        )
        _copy_saved(obj, created)

    def delete_model(self, request: HttpRequest, obj: ActsForLink) -> None:
        services.acts_for_remove(actor=request.user, link=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ActsForLink]) -> None:
        for obj in queryset.select_related("organization__tenant"):
            self.delete_model(request, obj)
