"""Signing out at Canopy signs the browser out of its SAML service providers too (idp/flow/logout.py).

Before the local sign-out flushes the session, the participant copies which SPs this session
signed in to (and the NameID/SessionIndex each received). Afterwards the browser goes to
``slo/continue``, which runs the same front-channel chain as an SP-initiated single logout
(``idp.saml.views._slo_next``: a signed LogoutRequest to each SP in turn, each LogoutResponse
checked), and at the end comes back to the logout chain's continue URL instead of answering an SP.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import HttpRequest
from django.urls import reverse

from idp.flow.logout import LogoutParticipant, register_logout_participant
from idp.saml import protocol
from idp.saml.models import BINDING_REDIRECT
from idp.saml.views import SESSION_ISSUED, SLO_CHAIN_PREFIX, SLO_CHAIN_SECONDS
from tenants.models import Tenant


def slo_chain(*, tenant: Tenant, sps: list[dict[str, Any]], return_to: str) -> dict[str, Any]:
    """A logout chain (see ``idp.saml.views._slo_next``) that no SP asked for: it ends at ``return_to``."""

    return {
        "tenant_id": tenant.pk,
        "origin_sp": None,
        "in_response_to": "",
        "relay_state": "",
        "binding": BINDING_REDIRECT,
        "remaining": sps,
        "status": protocol.STATUS_SUCCESS,
        "partial": False,
        "awaiting": None,
        "return_to": return_to,
        "started": False,
    }


@register_logout_participant("saml-service-providers")
class SamlServiceProvidersLogout(LogoutParticipant):
    priority = 20  # before the upstream IdP (50): the SPs depend on our session, not the reverse

    @classmethod
    def prepare(cls, *, request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:

        issued = request.session.get(SESSION_ISSUED)
        if not isinstance(issued, dict) or not issued:
            return None
        sps = [{**entry, "entity_id": entity} for entity, entry in issued.items() if isinstance(entry, dict)]
        return {"sps": sps} if sps else None

    @classmethod
    def redirect(cls, *, request: HttpRequest, tenant: Tenant, state: dict[str, Any], continue_url: str) -> str | None:

        sps = [s for s in state.get("sps") or [] if isinstance(s, dict)]
        if not sps:
            return None
        token = secrets.token_urlsafe(24)
        chain = slo_chain(tenant=tenant, sps=sps, return_to=continue_url)
        cache.set(SLO_CHAIN_PREFIX + token, chain, timeout=SLO_CHAIN_SECONDS)
        path = reverse("saml:slo_continue", kwargs={"tenant_slug": tenant.slug})
        return f"{path}?{urlencode({'t': token})}"
