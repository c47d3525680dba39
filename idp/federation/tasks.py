"""Beat jobs for federation: re-fetch partners' SAML metadata, re-check DNS-verified domains.

Each row is handled on its own (one failure does not stop the others) and each run is safe to repeat.
"""

from __future__ import annotations

import logging

from celery import shared_task

from idp.federation.models import UpstreamDomain, UpstreamIdP
from idp.federation.services import domain_recheck, saml_metadata_refresh
from tenants.actors import SYSTEM

log = logging.getLogger(__name__)


@shared_task(name="idp.federation.tasks.refresh_saml_metadata")
def refresh_saml_metadata() -> dict[str, int]:
    """Fetch the metadata of every enabled SAML upstream that has a metadata URL."""
    counts = {"ok": 0, "failed": 0}
    rows = UpstreamIdP.objects.filter(kind=UpstreamIdP.Kind.SAML, enabled=True).exclude(saml_metadata_url="")
    for idp in rows.select_related("tenant").order_by("pk"):
        ok = saml_metadata_refresh(actor=SYSTEM, idp=idp)
        counts["ok" if ok else "failed"] += 1
        if not ok:
            log.warning("SAML metadata of upstream %s (tenant %s) not refreshed", idp.slug, idp.tenant.slug)
    return counts


@shared_task(name="idp.federation.tasks.recheck_domains")
def recheck_domains() -> dict[str, int]:
    """Look up the TXT record of every DNS-verified domain again; gone → unverified (and audited)."""
    counts = {"verified": 0, "unverified": 0}
    rows = UpstreamDomain.objects.filter(verified=True, verified_how="dns").select_related("idp__tenant")
    for domain in rows.order_by("pk"):
        counts["verified" if domain_recheck(domain=domain) else "unverified"] += 1
    return counts
