"""Reads of the upstream identity providers that other apps need (through ``idp.flow`` hooks)."""

from __future__ import annotations

from idp.federation.models import UpstreamIdP


def issuer_of(tenant_id: int, slug: str) -> str:
    """The issuer / entity id of this tenant's upstream ``slug`` ("" when there is none)."""
    found = UpstreamIdP.objects.filter(tenant_id=tenant_id, slug=slug).values_list("issuer", flat=True).first()
    return str(found or "")
