"""Signing out of the upstream IdP too: a participant of the logout chain (idp/flow/logout.py).

A federated sign-in parks what the upstream logout needs in the (server-side) session: the
upstream's ID token (``id_token_hint``) for OIDC, the NameID and SessionIndex for SAML. The
logout views read it before the local sign-out flushes the session; afterwards the browser
goes to the upstream's logout endpoint and comes back to one of our federation endpoints,
which sends it on along the chain.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from idp.federation import oidc_client, saml_sp
from idp.federation.models import UpstreamIdP
from idp.flow.logout import LogoutParticipant, register_logout_participant
from tenants.models import Tenant

SESSION_UPSTREAM = "canopy.federation.upstream"  # what the upstream logout needs, set at sign-in
SESSION_OIDC_LOGOUT = "canopy.federation.oidc-logout"  # state → where the chain goes on
TX_SECONDS = 600


def remember_upstream_session(
    request: HttpRequest, *, tenant: Tenant, idp: UpstreamIdP, id_token: str = "", saml: dict[str, Any] | None = None
) -> None:
    """Keep the upstream's session facts next to the local sign-in (never in a cookie)."""
    request.session[SESSION_UPSTREAM] = {
        "tenant_id": tenant.pk,
        "idp": idp.pk,
        "kind": idp.kind,
        "id_token": id_token,
        "saml": dict(saml or {}),
    }


def logout_return_url(idp: UpstreamIdP) -> str:
    """The ``post_logout_redirect_uri`` to register at the upstream OP (one per upstream)."""
    path = reverse("federation:logout_return", kwargs={"tenant_slug": idp.tenant.slug, "idp_slug": idp.slug})
    return f"{settings.CANOPY_BASE_URL}{path}"


def pop_oidc_logout(request: HttpRequest, *, idp: UpstreamIdP, state: str) -> str | None:
    """The chain's continue URL for the upstream logout that ``state`` started here, once."""
    pending = dict(request.session.get(SESSION_OIDC_LOGOUT) or {})
    tx = pending.pop(state, None) if state else None
    request.session[SESSION_OIDC_LOGOUT] = pending
    if not isinstance(tx, dict) or tx.get("idp") != idp.pk or time.time() - tx.get("t", 0) >= TX_SECONDS:
        return None
    return str(tx.get("continue") or "")


@register_logout_participant("federation-upstream")
class UpstreamLogout(LogoutParticipant):
    priority = 50  # after SAML SPs downstream of us (they may still need our session facts)

    @classmethod
    def prepare(cls, *, request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:
        data = request.session.get(SESSION_UPSTREAM)
        if not isinstance(data, dict) or data.get("tenant_id") != tenant.pk:
            return None
        return {"idp": data.get("idp"), "id_token": data.get("id_token", ""), "saml": data.get("saml") or {}}

    @classmethod
    def redirect(cls, *, request: HttpRequest, tenant: Tenant, state: dict[str, Any], continue_url: str) -> str | None:

        idp_pk = state.get("idp")
        idp = UpstreamIdP.objects.filter(tenant=tenant, pk=idp_pk, enabled=True).first() if idp_pk else None
        if idp is None:
            return None
        if idp.kind == UpstreamIdP.Kind.SAML:
            return saml_sp.logout_url(request, idp=idp, session=state.get("saml") or {}, continue_url=continue_url)
        logout_state = secrets.token_urlsafe(24)
        url = oidc_client.logout_url(
            idp=idp,
            id_token=str(state.get("id_token") or ""),
            post_logout_redirect_uri=logout_return_url(idp),
            state=logout_state,
        )
        if url is None:
            return None
        now = time.time()
        pending = {
            k: v
            for k, v in (request.session.get(SESSION_OIDC_LOGOUT) or {}).items()
            if isinstance(v, dict) and now - v.get("t", 0) < TX_SECONDS
        }
        pending[logout_state] = {"idp": idp.pk, "continue": continue_url, "t": now}
        request.session[SESSION_OIDC_LOGOUT] = dict(list(pending.items())[-5:])
        return url
