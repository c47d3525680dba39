"""Federation rows for the fixture world (see tests/support/worlds/__init__.py)."""

from __future__ import annotations

from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant, User


def extend_world(*, tenant: Tenant, member: User, organization: Organization) -> None:
    """An upstream IdP with a domain, JIT into ``organization``, and one linked identity."""
    from idp.federation.models import UpstreamIdentity
    from idp.federation.services import upstream_idp_create

    idp = upstream_idp_create(
        actor=SYSTEM,
        tenant=tenant,
        slug=f"{tenant.slug}-partner",
        name=f"{tenant.slug} partner",
        issuer=f"https://idp.{tenant.slug}-partner.example",
        authorization_endpoint=f"https://idp.{tenant.slug}-partner.example/authorize",
        token_endpoint=f"https://idp.{tenant.slug}-partner.example/token",
        jwks_uri=f"https://idp.{tenant.slug}-partner.example/jwks",
        client_id="canopy",
        client_secret="partner-secret",  # noqa: S106 - fixture
        jit_organizations=[organization],
        domains=[f"{tenant.slug}-partner.example"],
    )
    UpstreamIdentity.objects.create(tenant=tenant, idp=idp, subject=f"{tenant.slug}-sub", user=member)
