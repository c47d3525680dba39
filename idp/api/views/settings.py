"""Management API v1: an organization's settings overrides and its effective settings.

Writes go through ``orgs.inheritance.services`` (validation against ``orgs.inheritance.schema``,
the reason of non-overridable fields, a new section version, a propagation job enqueued on
commit, an audit event), exactly as the admin's settings page does.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.base import TenantAPIView, etag_of, tagged
from idp.api.schema import ETAG_PROBLEMS, IF_MATCH, doc_read
from idp.api.serializers.common import refuse_nul
from idp.api.serializers.jobs import PropagationJobSerializer
from idp.api.serializers.settings import (
    EffectiveSettingsSerializer,
    SectionOverridesSerializer,
    SettingsOverridesSerializer,
)
from orgs.inheritance.schema import DEFAULT, ROOT, SECTIONS
from orgs.inheritance.selectors import settings_overrides, settings_overview, settings_section_overrides
from orgs.inheritance.services import settings_section_change
from orgs.tree import permissions

if TYPE_CHECKING:
    from orgs.inheritance.models import PropagationJob
    from orgs.tree.models import Organization


SECTION_PARAM = OpenApiParameter("section", str, OpenApiParameter.PATH, enum=list(SECTIONS))
WANTED_SECTION = OpenApiParameter("section", OpenApiTypes.STR, enum=list(SECTIONS), required=False)


CHANGES = {
    "type": "object",
    "additionalProperties": True,
    "description": "Field name → new value; null reverts the field to the inherited value.",
}


def _job_location(request: Request, job: PropagationJob) -> str:
    return reverse("api:propagation-job", kwargs={"tenant_slug": job.tenant.slug, "propagation_job_id": job.pk})


class _LevelMixin(TenantAPIView):
    """The level whose settings a view addresses: the organization in the URL, or the tenant root."""

    @property
    def level(self) -> Organization | None:
        return getattr(self, "organization", None)

    def level_id(self) -> str | None:
        return str(self.level.pk) if self.level is not None else None


class OrganizationSettingsView(_LevelMixin):
    """Every section's overrides of one organization (only the fields it sets)."""

    serializer_class = SettingsOverridesSerializer
    pagination_class = None  # type: ignore[assignment]

    @doc_read("settings_overrides_list", SettingsOverridesSerializer)
    def get(self, request: Request, tenant_slug: str, org: str = "") -> Response:
        rows = settings_overrides(tenant=self.tenant, organization=self.level)
        return tagged({"organization": self.level_id(), "sections": {key: rows.get(key, {}) for key in SECTIONS}})


class SectionSettingsView(_LevelMixin):
    """One section's overrides: read, change some fields (PATCH) or replace them all (PUT)."""

    serializer_class = SectionOverridesSerializer
    pagination_class = None  # type: ignore[assignment]
    org_permissions = {
        "GET": lambda actor, org: True,
        "PATCH": permissions.can_edit_organization,
        "PUT": permissions.can_edit_organization,
    }

    def _section(self, section: str) -> str:
        if section not in SECTIONS:
            raise Http404
        return section

    def _overrides(self, section: str) -> dict[str, Any]:
        return settings_section_overrides(tenant=self.tenant, organization=self.level, section=section)

    @staticmethod
    def _body(section: str, overrides: dict[str, Any]) -> dict[str, Any]:
        return {"section": section, "overrides": overrides}

    @doc_read("settings_section_retrieve", SectionOverridesSerializer, parameters=[SECTION_PARAM])
    def get(self, request: Request, tenant_slug: str, section: str, org: str = "") -> Response:
        return tagged(self._body(self._section(section), self._overrides(section)))

    def _change(self, request: Request, section: str, *, replace: bool) -> Response:
        section = self._section(section)
        changes = request.data
        if not isinstance(changes, dict):
            raise ValidationError({"non_field_errors": ["Send an object of field names and values."]})
        errors = {}
        for name, value in changes.items():
            try:
                refuse_nul(value)
                refuse_nul(name, "field name")
            except ValidationError as exc:
                errors[str(name).replace("\x00", "")] = exc.detail
        if errors:
            raise ValidationError(errors)
        job = settings_section_change(
            actor=self.actor,
            tenant=self.tenant,
            organization=self.level,
            section=section,
            changes=changes,
            replace=replace,
            expected_etag=self.expected_etag(lambda current: self._body(section, current)),
        )
        body = self._body(section, self._overrides(section))
        headers = {"ETag": etag_of(body)}  # the overrides' tag, as GET gives it (the job is not part of it)
        if job is None:
            return Response({**body, "job": None}, headers=headers)
        job.refresh_from_db()
        headers["Location"] = _job_location(request, job)
        answer = {**body, "job": PropagationJobSerializer(job).data}
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers=headers)

    @extend_schema(
        operation_id="settings_section_partial_update",
        parameters=[SECTION_PARAM, IF_MATCH],
        request={"application/json": CHANGES},
        responses={202: SectionOverridesSerializer, **ETAG_PROBLEMS},
        description="Set the given fields (null: revert to inherited); answers with the propagation job.",
    )
    def patch(self, request: Request, tenant_slug: str, section: str, org: str = "") -> Response:
        return self._change(request, section, replace=False)

    @extend_schema(
        operation_id="settings_section_update",
        parameters=[SECTION_PARAM, IF_MATCH],
        request={"application/json": CHANGES},
        responses={200: SectionOverridesSerializer, 202: SectionOverridesSerializer, **ETAG_PROBLEMS},
        description="Make the given fields this organization's only overrides of the section (others inherit).",
    )
    def put(self, request: Request, tenant_slug: str, section: str, org: str = "") -> Response:
        return self._change(request, section, replace=True)


class EffectiveSettingsView(_LevelMixin):
    """Effective values with provenance: which level (default, root, organization) each comes from."""

    serializer_class = EffectiveSettingsSerializer
    pagination_class = None  # type: ignore[assignment]

    @doc_read("settings_effective", EffectiveSettingsSerializer, parameters=[WANTED_SECTION])
    def get(self, request: Request, tenant_slug: str, org: str = "") -> Response:
        wanted = request.query_params.get("section")
        if wanted is not None and wanted not in SECTIONS:
            raise ValidationError({"section": [f"Unknown section. Use one of: {', '.join(SECTIONS)}."]})
        sections = []
        for sect, rows in settings_overview(tenant=self.tenant, organization=self.level):
            if wanted and sect.key != wanted:
                continue
            fields = [
                {
                    "name": f.name,
                    "label": f.label,
                    "value": f.value,
                    "source": f.source,
                    "source_organization": None if f.source in (DEFAULT, ROOT) else _uuid(f.source),
                    "source_label": f.source_label,
                    "overridden_here": f.overridden_here,
                    "editable": f.editable,
                    "reason": f.reason,
                }
                for f in rows
            ]
            sections.append({"key": sect.key, "label": sect.label, "fields": fields})
        return tagged({"organization": self.level_id(), "sections": sections})


def _uuid(hex_id: str) -> str:
    return str(uuid.UUID(hex=hex_id))


@extend_schema_view(get=extend_schema(operation_id="root_settings_overrides_list"))
class RootSettingsView(OrganizationSettingsView):
    """The tenant root's values of every section (what organizations inherit; root-only fields too)."""

    tenant_admin_only = True


@extend_schema_view(
    get=extend_schema(operation_id="root_settings_section_retrieve"),
    patch=extend_schema(operation_id="root_settings_section_partial_update"),
    put=extend_schema(operation_id="root_settings_section_update"),
)
class RootSectionSettingsView(SectionSettingsView):
    """One section at the tenant root; a change propagates to every organization."""

    tenant_admin_only = True


@extend_schema_view(get=extend_schema(operation_id="root_settings_effective"))
class RootEffectiveSettingsView(EffectiveSettingsView):
    tenant_admin_only = True
