"""The upstream identity providers as tokens and assertions name them.

A federated sign-in leaves the upstream's slug here in the session and on the grant; tokens say
who vouched by the upstream's issuer (OIDC) or entity id (SAML). ``idp.federation`` owns the
upstreams and registers the resolver at start-up, so the protocols ask the journey and never
import federation.
"""

from __future__ import annotations

from collections.abc import Callable

IssuerResolver = Callable[[int, str], str]  # (tenant id, upstream slug) -> issuer / entity id, "" if unknown

_resolvers: list[IssuerResolver] = []


def register_issuer_resolver(resolver: IssuerResolver) -> None:
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def upstream_issuer(*, tenant_id: int, slug: str) -> str:
    """The issuer of the upstream ``slug`` of this tenant; "" when no registered resolver knows it."""
    for resolver in _resolvers:
        found = resolver(tenant_id, slug)
        if found:
            return found
    return ""
