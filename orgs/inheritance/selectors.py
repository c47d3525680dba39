"""Reads of effective settings. The login path calls ``effective_section``: one cached row."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.functions import Lower

from orgs.inheritance.compute import cache_key, cache_seconds, lineage_effective, root_effective
from orgs.inheritance.models import EffectiveSettings, PropagationJob, SettingsOverride
from orgs.inheritance.schema import DEFAULT, ROOT, SECTIONS, Section, section_get
from orgs.tree.models import Organization
from tenants.models import Tenant


@dataclass(frozen=True)
class EffectiveSection:
    section: str
    values: dict[str, Any]
    sources: dict[str, str]  # field (or "field[key]") -> "default" | "root" | organization id hex
    version: int

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def organization_in_context(*, tenant: Tenant, key: str) -> uuid.UUID | None:
    """The id of the organization named by ``key`` (id or identifier) in this tenant, or None.

    Uses the (tenant, lower(identifier)) unique index, so the login page stays two indexed
    lookups at most (this, then the effective row or its cache entry).
    """
    key = (key or "").strip()[:100]
    if not key:
        return None
    qs = Organization.objects.filter(tenant=tenant)
    try:
        return qs.filter(pk=uuid.UUID(key)).values_list("pk", flat=True).first()
    except ValueError:
        return qs.annotate(i=Lower("identifier")).filter(i=key.lower()).values_list("pk", flat=True).first()


def _org_id(organization: Organization | uuid.UUID | str | None) -> uuid.UUID | None:
    if organization is None or isinstance(organization, uuid.UUID):
        return organization
    if isinstance(organization, Organization):
        return organization.pk
    return uuid.UUID(str(organization))


def effective_section(
    *, tenant: Tenant | int, organization: Organization | uuid.UUID | str | None, section: str
) -> EffectiveSection:
    """The effective values of one section for an organization (``None`` = the tenant root).

    A Redis hit, else one indexed row (organization, section). An organization that has no
    row yet (data from before this feature) is computed from its lineage's overrides.
    """
    sect = section_get(section)
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    org_id = _org_id(organization)
    key = cache_key(tenant_id=tenant_id, organization_id=org_id, section=section)
    hit = cache.get(key)
    if hit is not None:
        return EffectiveSection(section, hit[0], hit[1], hit[2])
    if org_id is None:
        row = (
            SettingsOverride.objects.filter(tenant_id=tenant_id, organization__isnull=True, section=section)
            .values_list("values", "clock")
            .first()
        )
        data, sources = root_effective(tenant_id=tenant_id, section=sect, root_values=row[0] if row else None)
        version = row[1] if row else 0
    else:
        found = (
            EffectiveSettings.objects.filter(organization_id=org_id, section=section)
            .values_list("tenant_id", "data", "sources", "version")
            .first()
        )
        if found is not None:
            if found[0] != tenant_id:
                raise LookupError("That organization belongs to another tenant.")
            _, data, sources, version = found
        else:
            org = Organization.objects.filter(tenant_id=tenant_id, pk=org_id).values_list("path", flat=True).first()
            if org is None:
                raise LookupError("No such organization in this tenant.")
            data, sources = lineage_effective(tenant_id=tenant_id, section=sect, path=org)
            return EffectiveSection(section, data, sources, 0)  # not cached: no row to invalidate yet
    cache.set(key, (data, sources, version), cache_seconds())
    return EffectiveSection(section, data, sources, version)


@dataclass(frozen=True)
class FieldView:
    """One field as the admin shows it for a level."""

    name: str
    label: str
    value: Any
    source: str  # "default" | "root" | organization id hex
    source_label: str
    overridden_here: bool
    editable: bool
    reason: str  # why it is read-only here


def settings_overview(*, tenant: Tenant, organization: Organization | None) -> list[tuple[Section, list[FieldView]]]:
    """Every section's fields for one level: effective value, provenance, override state, editability."""
    own: dict[str, dict[str, Any]] = dict(
        SettingsOverride.objects.filter(tenant=tenant, organization=organization).values_list("section", "values")
    )
    names: dict[str, str] = {DEFAULT: "built-in default", ROOT: f"tenant root ({tenant.display_name or tenant.slug})"}
    if organization is not None:
        for o in Organization.objects.filter(tenant=tenant, pk__in=organization.lineage_ids):
            names[o.pk.hex] = o.display_name + (" (this organization)" if o.pk == organization.pk else "")
    out = []
    for key, sect in SECTIONS.items():
        eff = effective_section(tenant=tenant, organization=organization, section=key)
        rows = []
        for f in sect.fields:
            source = eff.sources.get(f.name, DEFAULT)
            editable = organization is None or f.overridable
            rows.append(
                FieldView(
                    name=f.name,
                    label=f.label,
                    value=eff.values.get(f.name),
                    source=source,
                    source_label=names.get(source, source),
                    overridden_here=f.name in own.get(key, {}),
                    editable=editable,
                    reason="" if editable else f.reason,
                )
            )
        out.append((sect, rows))
    return out


def settings_overrides(*, tenant: Tenant, organization: Organization | None) -> dict[str, dict[str, Any]]:
    """Section → the fields this level sets (the tenant root when ``organization`` is None)."""
    rows = SettingsOverride.objects.filter(tenant=tenant, organization=organization)
    return dict(rows.values_list("section", "values"))


def settings_section_overrides(*, tenant: Tenant, organization: Organization | None, section: str) -> dict[str, Any]:
    """The fields this level sets in one section."""
    rows = SettingsOverride.objects.filter(tenant=tenant, organization=organization, section=section)
    return dict(rows.values_list("values", flat=True).first() or {})


def propagation_jobs(*, tenant: Tenant) -> QuerySet[PropagationJob]:
    return PropagationJob.objects.select_related("organization", "tenant").filter(tenant=tenant)
