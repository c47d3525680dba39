"""Computing effective settings from the overrides, and where they are cached.

Shared by the reads (``orgs.inheritance.selectors``: a cache miss on an organization without a row)
and the writes (``orgs.inheritance.propagation``: materializing rows, the propagation job), so neither has to
import the other.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from django.conf import settings
from django.db.models import Q

from orgs.inheritance.models import SettingsOverride
from orgs.inheritance.schema import ROOT, Section, defaults, merge

Effective = tuple[dict[str, Any], dict[str, str]]


def number_setting(name: str, default: float) -> float:
    """A numeric Django setting, else the environment variable of that name, else ``default``."""
    value: Any = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return float(value)


def cache_seconds() -> int:
    return int(number_setting("CANOPY_SETTINGS_CACHE_SECONDS", 300))


def cache_key(*, tenant_id: int, organization_id: uuid.UUID | None, section: str) -> str:
    return f"orgs:eff:{organization_id.hex if organization_id else f'root-{tenant_id}'}:{section}"


def root_effective(*, tenant_id: int, section: Section, root_values: dict[str, Any] | None = None) -> Effective:
    if root_values is None:
        root_values = (
            SettingsOverride.objects.filter(tenant_id=tenant_id, organization__isnull=True, section=section.key)
            .values_list("values", flat=True)
            .first()
        )
    return merge(section, defaults(section), root_values, ROOT, is_root=True)


def _ids_of(path: str) -> list[uuid.UUID]:
    return [uuid.UUID(hex=s) for s in path.split("/") if s]


def lineage_effective(*, tenant_id: int, section: Section, path: str) -> Effective:
    """Effective values of the organization at ``path``, computed from the overrides (one query)."""
    ids = _ids_of(path)
    rows: dict[Any, Any] = dict(
        SettingsOverride.objects.filter(tenant_id=tenant_id, section=section.key)
        .filter(Q(organization__isnull=True) | Q(organization_id__in=ids))
        .values_list("organization_id", "values")
    )
    eff = root_effective(tenant_id=tenant_id, section=section, root_values=rows.get(None))
    for org_id in ids:
        eff = merge(section, eff, rows.get(org_id), org_id.hex, is_root=False)
    return eff
