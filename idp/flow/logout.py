"""Who else must hear about a sign-out: a small registry of logout participants.

Signing out of Canopy ends the local session, but the user may also be signed in at an
upstream identity provider (federation) or at downstream SAML service providers. The logout
views must not import those apps, so each registers a participant from its ``AppConfig.ready``::

    @register_logout_participant("upstream")
    class UpstreamLogout(LogoutParticipant):
        priority = 50

        @classmethod
        def prepare(cls, *, request, tenant):
            # Before the local sign-out: copy what you need out of the session (it is flushed).
            return {"idp": 3, "id_token": "..."} or None

        @classmethod
        def redirect(cls, *, request, tenant, state, continue_url):
            # After the local sign-out: a URL that takes the browser away and, in the end,
            # comes back to ``continue_url``; or None when nothing needs the browser.
            return "https://partner/logout?...&post_logout_redirect_uri=..."

A logout view does::

    pending = logout_prepare(request, tenant)      # before signing out locally
    logout(request)                                # the local sign-out (flushes the session)
    return redirect(logout_chain_start(request, tenant=tenant, pending=pending, final_url=final))

The chain (pending participants and the final destination) is kept server-side in the new,
signed-out session under a random id; ``continue_url`` carries only that id. The final
destination was validated by the view that started the chain (``next`` inside the tenant, or
an RP's registered ``post_logout_redirect_uri``), so it is never taken from the request again.
A participant that fails is skipped: a partner that is down must not stop the local sign-out.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tenants.models import Tenant
from tenants.registry import Registry
from tenants.routing import tenant_of

log = logging.getLogger(__name__)

SESSION_CHAIN = "canopy.logout-chain"
CHAIN_SECONDS = 600  # a partner that takes longer than this to send the browser back is skipped
MAX_HOPS = 10


class LogoutParticipant:
    """A party to sign out of. Subclasses set ``priority`` and override ``prepare`` and ``redirect``."""

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 100

    @classmethod
    def prepare(cls, *, request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:
        """JSON-serialisable state taken from the session *before* it is flushed; None: nothing to do."""
        return None

    @classmethod
    def redirect(cls, *, request: HttpRequest, tenant: Tenant, state: dict[str, Any], continue_url: str) -> str | None:
        """After the local sign-out: where the browser goes next (ending at ``continue_url``), or None."""
        return None


P = TypeVar("P", bound=type[LogoutParticipant])
LOGOUT_PARTICIPANTS: Registry[type[LogoutParticipant]] = Registry("logout participant")


def register_logout_participant(name: str) -> Callable[[P], P]:
    """Class decorator: ``@register_logout_participant("upstream")``. A name is registered once."""

    return LOGOUT_PARTICIPANTS.named(name)


def unregister_logout_participant(name: str) -> None:
    """For tests and apps that replace a participant."""
    LOGOUT_PARTICIPANTS.unregister(name)


def registered_logout_participants() -> dict[str, type[LogoutParticipant]]:
    return LOGOUT_PARTICIPANTS.all()


def logout_prepare(request: HttpRequest, *, tenant: Tenant) -> list[tuple[str, dict[str, Any]]]:
    """Ask every participant, in priority order, what it needs to sign out later; call before ``logout``."""
    pending: list[tuple[str, dict[str, Any]]] = []
    for participant in LOGOUT_PARTICIPANTS.by_priority():
        try:
            state = participant.prepare(request=request, tenant=tenant)
        except Exception:  # noqa: BLE001 - one broken participant must not stop the sign-out
            log.exception("logout participant %s failed to prepare", participant.name)
            continue
        if state is not None:
            pending.append((participant.name, state))
    return pending


def continue_url(tenant: Tenant, chain_id: str) -> str:
    """Where a participant sends the browser back to (a path inside the tenant)."""
    path = reverse("flow:logout_continue", kwargs={"tenant_slug": tenant.slug})
    return f"{path}?{urlencode({'chain': chain_id})}"


def logout_chain_start(
    request: HttpRequest, *, tenant: Tenant, pending: list[tuple[str, dict[str, Any]]], final_url: str
) -> str:
    """After the local sign-out: the first URL of the chain, or ``final_url`` when nobody needs the browser."""
    if not pending:
        return final_url
    chain_id = secrets.token_urlsafe(18)
    request.session[SESSION_CHAIN] = {
        "id": chain_id,
        "tenant_id": tenant.pk,
        "final": final_url,
        "pending": [[name, state] for name, state in pending][:MAX_HOPS],
        "t": time.time(),
    }
    return _next_hop(request, tenant=tenant, chain_id=chain_id)


def _next_hop(request: HttpRequest, *, tenant: Tenant, chain_id: str) -> str:
    """Run participants until one needs the browser; at the end, the chain's final destination."""
    chain = request.session.get(SESSION_CHAIN)
    if not isinstance(chain, dict) or chain.get("tenant_id") != tenant.pk:
        return _done_url(tenant)
    if chain.get("id") != chain_id:  # a stale or forged link: the chain in progress stays as it is
        return _done_url(tenant)
    if time.time() - float(chain.get("t", 0)) > CHAIN_SECONDS:
        request.session.pop(SESSION_CHAIN, None)
        return _done_url(tenant)
    pending = list(chain.get("pending") or [])
    while pending:
        name, state = pending.pop(0)
        chain["pending"] = pending
        request.session[SESSION_CHAIN] = chain
        participant = LOGOUT_PARTICIPANTS.get(str(name))
        if participant is None:
            continue
        try:
            url = participant.redirect(
                request=request, tenant=tenant, state=dict(state), continue_url=continue_url(tenant, chain_id)
            )
        except Exception:  # noqa: BLE001 - a partner that cannot be reached is skipped
            log.exception("logout participant %s failed", name)
            continue
        if url:
            return url
    request.session.pop(SESSION_CHAIN, None)
    return str(chain.get("final") or _done_url(tenant))


class _ChainRedirect(HttpResponseRedirect):
    """A redirect to a destination checked when the chain started (an RP may use its own scheme)."""

    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        extra = [scheme] if scheme and scheme.lower() not in {"javascript", "data", "vbscript", "file"} else []
        self.allowed_schemes = [*HttpResponseRedirect.allowed_schemes, *extra]
        super().__init__(url)


def logout_redirect(url: str) -> HttpResponse:
    """The redirect for a URL from :func:`logout_chain_start` or the chain (validated when it was stored)."""
    return _ChainRedirect(url)


def _done_url(tenant: Tenant) -> str:
    return reverse("flow:logout", kwargs={"tenant_slug": tenant.slug}) + "?done=1"


def chain_is_current(request: HttpRequest, *, tenant: Tenant, chain_id: str) -> bool:
    """Whether ``chain_id`` names the chain in progress in this browser (for participants' return views)."""
    chain = request.session.get(SESSION_CHAIN)
    return isinstance(chain, dict) and chain.get("tenant_id") == tenant.pk and chain.get("id") == chain_id


@never_cache
@require_GET
def logout_continue_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """A participant is done: go on to the next one, or to the destination the chain started with."""
    tenant = tenant_of(request)
    chain_id = request.GET.get("chain", "")[:64]
    return logout_redirect(_next_hop(request, tenant=tenant, chain_id=chain_id))
