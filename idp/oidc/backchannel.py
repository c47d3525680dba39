"""OpenID Connect Back-Channel Logout 1.0, Canopy as the OP: tell relying parties a session ended.

Every Canopy login session has a ``sid`` (``idp.flow.session``); tokens issued in it carry it
(``AuthenticationFields.sid``) and ID tokens name it. When a session ends — the logout page,
RP-initiated logout, a partner's logout, "sign out other sessions", a password reset — the
clients with a ``backchannel_logout_uri`` that received tokens in that session get a signed
logout token by POST, from a Celery task after the commit: a slow or dead RP never holds up
the browser, and a delivery that keeps failing is written to the audit log. That session's
refresh tokens for those clients are revoked at once. The token itself: ``idp.oidc.logout_token``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from idp.flow.logout import LogoutParticipant, register_logout_participant
from idp.flow.session import session_sid
from idp.oidc.models import AccessToken, Application, Grant, RefreshToken
from idp.oidc.tasks import send_logout_token
from tenants.models import Tenant

log = logging.getLogger(__name__)


def _clients_with_tokens(*, tenant_id: int, user_id: int, sid: str) -> set[int]:
    """Ids of the clients with a back-channel URI that received tokens in session ``sid``
    (without a sid: that hold live tokens of the user)."""
    ids: set[int] = set()
    if sid:
        for model in (Grant, AccessToken, RefreshToken):
            ids.update(
                model.objects.filter(tenant_id=tenant_id, user_id=user_id, sid=sid).values_list(
                    "application_id", flat=True
                )
            )
    else:
        ids.update(
            AccessToken.objects.filter(tenant_id=tenant_id, user_id=user_id, expires__gt=timezone.now()).values_list(
                "application_id", flat=True
            )
        )
        ids.update(
            RefreshToken.objects.filter(tenant_id=tenant_id, user_id=user_id, revoked__isnull=True).values_list(
                "application_id", flat=True
            )
        )
    return set(
        Application.objects.filter(tenant_id=tenant_id, pk__in=ids)
        .exclude(backchannel_logout_uri="")
        .values_list("pk", flat=True)
    )


def session_ended(*, tenant_id: int, user_id: int | None, sid: str, client_ids: Iterable[int] | None = None) -> int:
    """A Canopy session of the user ended: revoke its refresh tokens for the clients to tell and
    queue their logout tokens (sent after the commit). Returns how many clients will be told.

    ``client_ids`` are the clients found before the session's tokens were deleted (the logout
    participant looks them up before DOT's RP-initiated logout deletes the access tokens)."""
    if user_id is None:
        return 0
    found = _clients_with_tokens(tenant_id=tenant_id, user_id=user_id, sid=sid)
    if client_ids is not None:
        found |= set(
            Application.objects.filter(tenant_id=tenant_id, pk__in=list(client_ids))
            .exclude(backchannel_logout_uri="")
            .values_list("pk", flat=True)
        )
    if not found:
        return 0
    if sid:
        RefreshToken.objects.filter(
            tenant_id=tenant_id, user_id=user_id, sid=sid, application_id__in=found, revoked__isnull=True
        ).update(revoked=timezone.now())
    for app_id in sorted(found):
        _queue(app_id=app_id, user_id=user_id, sid=sid)
    return len(found)


def user_sessions_ended(*, tenant_id: int, user_id: int) -> int:
    """Every session of the user ended (a password reset): per client, a logout token for each
    session it holds tokens of when it requires ``sid``, else one naming the user only."""
    rows: set[tuple[int, str]] = set()
    for model in (AccessToken, RefreshToken):
        live = Q(expires__gt=timezone.now()) if model is AccessToken else Q(revoked__isnull=True)
        rows.update(
            model.objects.filter(live, tenant_id=tenant_id, user_id=user_id).values_list("application_id", "sid")
        )
    apps = {
        app.pk: app
        for app in Application.objects.filter(tenant_id=tenant_id, pk__in={a for a, _ in rows})
        .exclude(backchannel_logout_uri="")
        .only("pk", "backchannel_logout_session_required")
    }
    sent: set[tuple[int, str]] = set()
    for app_id, sid in rows:
        app = apps.get(app_id)
        if app is None:
            continue
        key = (app_id, sid if app.backchannel_logout_session_required else "")
        if key not in sent and not (app.backchannel_logout_session_required and not sid):
            sent.add(key)
            _queue(app_id=app_id, user_id=user_id, sid=key[1])
    return len(sent)


def _queue(*, app_id: int, user_id: int, sid: str) -> None:
    transaction.on_commit(lambda: send_logout_token.delay(app_id, user_id, sid))


@register_logout_participant("oidc-backchannel")
class BackchannelLogout(LogoutParticipant):
    """The logout page and RP-initiated logout: tell the session's clients. First in the chain
    and never needs the browser, so an upstream IdP that keeps the browser cannot skip it."""

    priority = 1

    @classmethod
    def prepare(cls, *, request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:
        user_id, sid = session_sid(request.session)
        if not sid or user_id is None:
            return None
        clients = sorted(_clients_with_tokens(tenant_id=tenant.pk, user_id=user_id, sid=sid))
        return {"user_id": user_id, "sid": sid, "clients": clients}

    @classmethod
    def redirect(cls, *, request: HttpRequest, tenant: Tenant, state: dict[str, Any], continue_url: str) -> str | None:
        session_ended(
            tenant_id=tenant.pk,
            user_id=int(state["user_id"]),
            sid=str(state["sid"]),
            client_ids=[int(c) for c in state.get("clients") or []],
        )
        return None
