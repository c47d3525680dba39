"""The upstream identity providers as tokens and assertions name them.

A federated sign-in leaves the upstream's slug here in the session and on the grant; tokens say
who vouched by the upstream's issuer (OIDC) or entity id (SAML). ``idp.federation`` owns the
upstreams and registers the resolver at start-up, so the protocols ask the journey and never
import federation.
"""

from __future__ import annotations

from collections.abc import Callable

from tenants.registry import Registry

IssuerResolver = Callable[[int, str], str]  # (tenant id, upstream slug) -> issuer / entity id, "" if unknown

ISSUER_RESOLVERS: Registry[IssuerResolver] = Registry("issuer resolver")


def register_issuer_resolver(resolver: IssuerResolver) -> IssuerResolver:
    return ISSUER_RESOLVERS.register(resolver)


def upstream_issuer(*, tenant_id: int, slug: str) -> str:
    """The issuer of the upstream ``slug`` of this tenant; "" when no registered resolver knows it."""
    for resolver in ISSUER_RESOLVERS:
        found = resolver(tenant_id, slug)
        if found:
            return found
    return ""
