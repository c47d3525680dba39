"""Admin for inherited settings: the per-level settings page, propagation jobs, user stores.

The settings page (``/admin/orgs/organization/<id>/settings/`` and
``/admin/orgs/organization/root-settings/``) shows, for every section and field, the
effective value, where it comes from, and "override" / "revert to inherited" buttons;
fields a level may not change are read-only with the reason. Writes call the services.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path

from orgs.inheritance import services as settings_services
from orgs.inheritance.models import EffectiveSettings, PropagationJob, SettingsOverride
from orgs.inheritance.selectors import settings_overview
from orgs.jobs.admin import LeasedJobAdmin, ReadOnlyAdmin
from orgs.jobs.leases import job_resume
from orgs.tree.admin import organization_admin_pages
from orgs.tree.models import Organization
from tenants.admin_site import can_use_admin
from tenants.models import Tenant
from tenants.scoping import is_platform_user


@admin.register(SettingsOverride)
class SettingsOverrideAdmin(ReadOnlyAdmin):
    list_display = ("section", "level", "version", "updated_by", "updated_at", "tenant")
    list_filter = ("tenant", "section")
    search_fields = ("section", "organization__identifier", "updated_by")
    list_select_related = ("organization", "tenant")

    @admin.display(description="Level")
    def level(self, obj: SettingsOverride) -> str:
        return str(obj.organization) if obj.organization_id else "tenant root"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The root row carries the section's version clock: it is never deleted.
        return super().has_delete_permission(request, obj) and (obj is None or obj.organization_id is not None)

    def delete_model(self, request: HttpRequest, obj: SettingsOverride) -> None:
        """Deleting an organization's overrides = reverting them all (through the service, with a job)."""
        if obj.organization_id is None or not obj.values:
            return
        settings_services.settings_override_revert(
            actor=request.user,  # type: ignore[arg-type]
            tenant=obj.tenant,
            organization=obj.organization,
            section=obj.section,
            fields=list(obj.values),
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[SettingsOverride]) -> None:
        for obj in queryset.select_related("organization", "tenant"):
            self.delete_model(request, obj)


@admin.register(EffectiveSettings)
class EffectiveSettingsAdmin(ReadOnlyAdmin):
    list_display = ("organization", "section", "version", "computed_at", "tenant")
    list_filter = ("tenant", "section")
    search_fields = ("organization__identifier", "section")
    list_select_related = ("organization", "tenant")


@admin.register(PropagationJob)
class PropagationJobAdmin(LeasedJobAdmin):
    list_display = (
        "id",
        "section",
        "scope",
        "version",
        "status",
        "progress_bar",
        "processed",
        "total",
        "written",
        "attempts",
        "created_at",
        "finished_at",
        "tenant",
    )
    list_filter = ("tenant", "status", "section")
    search_fields = ("section", "organization__identifier", "reason")
    list_select_related = ("organization", "tenant")
    readonly_fields = ("progress_bar", "error_list")
    actions = ["resume_jobs"]

    @admin.display(description="Scope")
    def scope(self, obj: PropagationJob) -> str:
        return str(obj.organization) if obj.organization_id else "whole tenant"

    @admin.action(description="Resume selected jobs (pending, running with an expired lease, or failed)")
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet[PropagationJob]) -> None:
        """``orgs.jobs.leases.job_resume`` for each (as for sharing jobs): audited, enqueued after commit."""

        resumed, refused = 0, []
        for job in queryset.select_related("tenant", "organization"):
            try:
                job_resume(actor=request.user, job=job)  # type: ignore[arg-type]
            except (ValidationError, PermissionDenied) as exc:
                refused.append(f"job {job.pk}: {' '.join(getattr(exc, 'messages', [str(exc)]))}")
            else:
                resumed += 1
        if resumed:
            self.message_user(request, f"Resumed {resumed} job(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not resumed: " + "; ".join(refused), messages.WARNING)


# --- The settings page --------------------------------------------------------


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def settings_view(
    model_admin: admin.ModelAdmin, request: HttpRequest, organization: Organization | None, tenant: Tenant
) -> HttpResponse:
    actor: Any = request.user
    if request.method == "POST":
        section = request.POST.get("section", "")
        name = request.POST.get("field", "")
        try:
            if request.POST.get("action") == "revert":
                job = settings_services.settings_override_revert(
                    actor=actor, tenant=tenant, organization=organization, section=section, fields=[name]
                )
            else:
                raw = request.POST.get("value", "")
                try:
                    value = json.loads(raw)
                except ValueError:
                    value = raw  # a bare string
                job = settings_services.settings_override_set(
                    actor=actor, tenant=tenant, organization=organization, section=section, values={name: value}
                )
        except ValidationError as exc:
            model_admin.message_user(request, "Not saved: " + " ".join(exc.messages), messages.ERROR)
        except PermissionDenied as exc:
            model_admin.message_user(request, f"Not saved: {exc}", messages.ERROR)
        else:
            model_admin.message_user(
                request,
                f"Saved. Propagation job #{job.pk} (version {job.version}) updates {job.total} organization(s).",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(request.get_full_path())
    sections = [
        (sect, [(f, _pretty(f.value)) for f in rows])
        for sect, rows in settings_overview(tenant=tenant, organization=organization)
    ]
    jobs = PropagationJob.objects.filter(tenant=tenant)
    if organization is not None:
        jobs = jobs.filter(
            organization__path__in=[organization.path[: i + 33] for i in range(0, len(organization.path), 33)]
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"Settings of {organization.display_name if organization else 'the tenant root'}",
        "organization": organization,
        "tenant": tenant,
        "sections": sections,
        "jobs": jobs.select_related("organization")[:10],
    }
    return TemplateResponse(request, "admin/orgs/organization/settings.html", context)


def organization_settings_view(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str) -> HttpResponse:
    org = model_admin.get_object(request, object_id)
    if org is None or not model_admin.has_view_permission(request, org):
        raise Http404("No such object.")
    return settings_view(model_admin, request, org, org.tenant)


def root_settings_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    if not model_admin.has_view_permission(request):
        raise Http404("No such object.")
    if is_platform_user(request.user):
        tenant = Tenant.objects.filter(pk=request.GET.get("tenant") or 0).first()
        if tenant is None:
            raise Http404("Choose a tenant with ?tenant=<id>.")
    else:
        tenant = request.user.tenant  # type: ignore[union-attr]
        if tenant is None:
            raise Http404("No tenant.")
    return settings_view(model_admin, request, None, tenant)


@organization_admin_pages
def _settings_pages(model_admin: admin.ModelAdmin) -> list[Any]:
    wrap = model_admin.admin_site.admin_view

    def root(request: HttpRequest) -> HttpResponse:
        if not can_use_admin(request.user):
            raise Http404("No such object.")
        return root_settings_view(model_admin, request)

    return [
        path("root-settings/", wrap(root), name="orgs_organization_root_settings"),
        path(
            "<path:object_id>/settings/",
            wrap(lambda request, object_id: organization_settings_view(model_admin, request, object_id)),
            name="orgs_organization_settings",
        ),
    ]
