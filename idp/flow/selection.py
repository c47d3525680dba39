"""Choosing the organization a sign-in is for.

A protocol view (the OIDC authorize endpoint; SAML later) calls :func:`begin` with
the organizations the user may act for. The browser goes to the picker, the user
chooses, and the browser returns to ``next`` with ``canopy_pick=<id>``; the
protocol view then calls :func:`consume` to learn the choice, exactly once.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from idp.flow.branding import page_branding
from idp.flow.redirects import safe_next, with_query_param
from idp.flow.session import SESSION_PICKS
from orgs.tree.models import Organization
from orgs.tree.selectors import EligibleOrganization, organizations_by_ids
from tenants.models import Tenant

PICK_PARAM = "canopy_pick"
PICK_TTL_SECONDS = 10 * 60
MAX_PICKS_PER_SESSION = 10
SEARCH_THRESHOLD = 7  # more entries than this: show the search box


@dataclass(frozen=True)
class PickChoice:
    """One entry on the picker page, ready to show."""

    value: str  # the organization id posted back
    label: str
    identifier: str
    search_text: str


def _picks(request: HttpRequest) -> dict[str, dict[str, Any]]:
    picks = request.session.get(SESSION_PICKS)
    return picks if isinstance(picks, dict) else {}


def _save_picks(request: HttpRequest, picks: dict[str, dict[str, Any]]) -> None:
    if picks:
        request.session[SESSION_PICKS] = picks
    else:
        request.session.pop(SESSION_PICKS, None)
    request.session.modified = True


def _fresh(pick: dict[str, Any], now: float) -> bool:
    created = pick.get("created")
    return isinstance(created, int | float) and 0 <= now - created < PICK_TTL_SECONDS


def begin(
    request: HttpRequest,
    *,
    tenant: Tenant,
    eligible: list[EligibleOrganization],
    next_url: str,
    client_name: str,
) -> HttpResponse:
    """Store a pick and send the browser (302) to the picker.

    ``next_url`` must be a relative path inside this tenant (``/t/<slug>/...``);
    anything else is a programming error (``ValueError``).
    """
    if safe_next(tenant=tenant, candidate=next_url) is None:
        raise ValueError("next_url must be a relative path under this tenant's /t/<slug>/.")
    now = int(time.time())
    picks = {k: v for k, v in _picks(request).items() if isinstance(v, dict) and _fresh(v, now)}
    while len(picks) >= MAX_PICKS_PER_SESSION:  # bound the session: drop the oldest
        picks.pop(min(picks, key=lambda k: picks[k]["created"]))
    pick_id = secrets.token_urlsafe(16)
    picks[pick_id] = {
        "tenant_id": tenant.pk,
        "next": next_url,
        "client_name": client_name,
        "eligible": [
            [str(e.organization.pk), str(e.via.pk) if e.via is not None else None]
            for e in eligible
            if e.organization.tenant_id == tenant.pk and (e.via is None or e.via.tenant_id == tenant.pk)
        ],
        "created": now,
    }
    _save_picks(request, picks)
    url = reverse("flow:select_org", kwargs={"tenant_slug": tenant.slug})
    return HttpResponseRedirect(with_query_param(url, name="pick", value=pick_id))


def pick_get(request: HttpRequest, *, tenant: Tenant, pick_id: str) -> dict[str, Any] | None:
    """The pick if it exists, belongs to this tenant and has not expired."""
    pick = _picks(request).get(pick_id) if pick_id else None
    if not isinstance(pick, dict) or pick.get("tenant_id") != tenant.pk or not _fresh(pick, time.time()):
        return None
    return pick


def _org_ids(pick: dict[str, Any]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for org_id, via_id in pick.get("eligible", []):
        ids += [uuid.UUID(org_id)] + ([uuid.UUID(via_id)] if via_id else [])
    return ids


def pick_choices(*, tenant: Tenant, pick: dict[str, Any]) -> list[PickChoice]:
    """The eligible organizations as they stand now (removed ones drop out), in the stored order."""
    found = {str(o.pk): o for o in organizations_by_ids(tenant=tenant, ids=_org_ids(pick))}
    choices = []
    for org_id, via_id in pick.get("eligible", []):
        org = found.get(org_id)
        via = found.get(via_id) if via_id else None
        if org is None or (via_id and via is None):
            continue
        label = f"on behalf of {org.display_name} (via {via.display_name})" if via is not None else org.display_name
        search = " ".join([label, org.identifier, via.identifier if via is not None else ""]).lower()
        choices.append(PickChoice(value=org_id, label=label, identifier=org.identifier, search_text=search))
    return choices


def pick_choose(request: HttpRequest, *, tenant: Tenant, pick_id: str, organization_id: str) -> str | None:
    """Record the choice if the organization is one of the pick's; return where to go next, or None."""
    pick = pick_get(request, tenant=tenant, pick_id=pick_id)
    if pick is None:
        return None
    match = next((entry for entry in pick.get("eligible", []) if entry[0] == organization_id), None)
    if match is None:
        return None
    picks = _picks(request)
    pick["chosen"] = [match[0], match[1]]
    picks[pick_id] = pick
    _save_picks(request, picks)
    return with_query_param(str(pick["next"]), name=PICK_PARAM, value=pick_id)


def consume(request: HttpRequest, *, tenant: Tenant, pick_id: str) -> tuple[Organization, Organization | None] | None:
    """The chosen (organization, via), once: the pick is removed. None if there is no valid choice."""
    picks = _picks(request)
    pick = picks.get(pick_id) if isinstance(pick_id, str) else None
    if not isinstance(pick, dict) or pick.get("tenant_id") != tenant.pk:
        return None
    del picks[pick_id]
    _save_picks(request, picks)
    chosen = pick.get("chosen")
    if not _fresh(pick, time.time()) or not isinstance(chosen, list) or len(chosen) != 2:
        return None
    org_id, via_id = chosen
    try:
        ids = [uuid.UUID(org_id)] + ([uuid.UUID(via_id)] if via_id else [])
    except (TypeError, ValueError):
        return None
    found = {str(o.pk): o for o in organizations_by_ids(tenant=tenant, ids=ids)}
    organization = found.get(org_id)
    via = found.get(via_id) if via_id else None
    if organization is None or (via_id and via is None):
        return None
    return organization, via


def error_page(
    request: HttpRequest,
    *,
    tenant: Tenant,
    title: str,
    message: str,
    status: int = 400,
    organization: uuid.UUID | None = None,
) -> HttpResponse:
    """A plain page that says what went wrong and what to do, in ``organization``'s branding (else the root's)."""
    context = {
        "tenant": tenant,
        "title": title,
        "message": message,
        "branding": page_branding(request, tenant=tenant, organization=organization),
    }
    return render(request, "flow/error.html", context, status=status)
