"""The demo's partner IdP (``manage.py quickstart``): only when a real partner URL is given.

Without one, the demo routes nobody anywhere; the quickstart prints how to add a partner instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idp.federation.models import UpstreamIdP
from idp.federation.services import domain_set_verified, upstream_idp_create
from tenants.actors import SYSTEM
from tenants.models import Tenant

if TYPE_CHECKING:
    from orgs.tree.models import Organization

DEMO_SLUG = "contractor"
DEMO_DOMAIN = "contractor.example"


def demo_partner_idp(
    *, tenant: Tenant, organization: Organization, discovery_url: str, client_id: str, client_secret: str
) -> list[str]:
    """The contractor's upstream OIDC IdP claiming ``contractor.example`` (verified by hand); idempotent."""
    if UpstreamIdP.objects.filter(tenant=tenant, slug=DEMO_SLUG).exists():
        return []
    idp = upstream_idp_create(
        actor=SYSTEM,
        tenant=tenant,
        slug=DEMO_SLUG,
        name="Contractor",
        discovery_url=discovery_url,
        client_id=client_id,
        client_secret=client_secret,
        jit_organizations=[organization],
        domains=[DEMO_DOMAIN],
    )
    for domain in idp.domains.all():
        domain_set_verified(actor=SYSTEM, domain=domain, verified=True)
    return [f"upstream IdP {DEMO_SLUG} ({DEMO_DOMAIN})"]


def partner_report(tenant: Tenant, base_url: str) -> str:
    """What the quickstart says about the partner IdP: the configured one, or how to add one."""
    idp = UpstreamIdP.objects.filter(tenant=tenant, slug=DEMO_SLUG).first()
    if idp is not None:
        return (
            f"Partner IdP: {idp.name} ({idp.discovery_url}); {DEMO_DOMAIN} users sign in there. "
            f"Register {base_url}/t/{tenant.slug}/federation/{idp.slug}/callback as its redirect URI and "
            f"{base_url}/t/{tenant.slug}/federation/{idp.slug}/logout/return as its post-logout redirect URI and "
            f"{base_url}/t/{tenant.slug}/federation/{idp.slug}/backchannel-logout as its back-channel logout URI."
        )
    return (
        "Partner IdP: none configured. Run quickstart with --partner-oidc-discovery-url "
        "(or CANOPY_PARTNER_OIDC_DISCOVERY_URL), or add one (contractor.example users then sign in there):\n"
        f"  PARTNER_SECRET=... manage.py add_upstream_idp --tenant {tenant.slug} --slug contractor "
        "--name Contractor --discovery-url https://idp.contractor.example/.well-known/openid-configuration "
        "--client-id canopy --client-secret-env PARTNER_SECRET --domain contractor.example "
        "--jit-organization <organization identifier>"
    )
