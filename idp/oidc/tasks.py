"""Delivering back-channel logout tokens to relying parties (idp/oidc/backchannel.py).

Each delivery is its own task: one RP that is down does not delay the others. A few retries
with growing pauses; after the last one the failure goes to the tenant's audit log (the RP's
own users are signed in there until their session times out, and an administrator should know).
"""

from __future__ import annotations

import logging

import requests
from celery import shared_task

from idp.oidc.logout_token import logout_token
from idp.oidc.models import Application
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0
MAX_RETRIES = 2
BACKOFF_SECONDS = (2, 10)  # the pause before the 1st and the 2nd retry


@shared_task(bind=True, name="idp.oidc.tasks.send_logout_token", max_retries=MAX_RETRIES)
def send_logout_token(self: object, app_id: int, user_id: int, sid: str) -> bool:
    """POST a fresh logout token to the client's ``backchannel_logout_uri``; True when it said 200/204."""
    app = Application.objects.select_related("tenant").filter(pk=app_id).exclude(backchannel_logout_uri="").first()
    if app is None:
        return False  # removed, or the URI was cleared since
    problem = _deliver(app, user_id=user_id, sid=sid)
    if problem is None:
        return True
    request = self.request  # type: ignore[attr-defined]
    retries = int(getattr(request, "retries", 0) or 0)
    if retries < MAX_RETRIES and not getattr(request, "is_eager", False):
        raise self.retry(countdown=BACKOFF_SECONDS[retries])  # type: ignore[attr-defined]
    log.warning("back-channel logout to client %s failed: %s", app.client_id, problem)
    audit_record(
        actor=SYSTEM,
        tenant=app.tenant,
        action=AuditAction.OIDC_CLIENT_BACKCHANNEL_LOGOUT_FAILED,
        target=app,
        data={"client_id": app.client_id, "user": str(user_id), "problem": problem, "attempts": retries + 1},
    )
    return False


def _deliver(app: Application, *, user_id: int, sid: str) -> str | None:
    """One attempt; the problem in a few words, or None when the RP accepted the token."""
    token = logout_token(app=app, user_id=user_id, sid=sid)
    try:
        response = requests.post(
            app.backchannel_logout_uri,
            data={"logout_token": token},
            timeout=TIMEOUT_SECONDS,
            allow_redirects=False,  # the spec: a redirect is not success, and is not followed
        )
    except requests.RequestException as exc:
        return f"unreachable ({type(exc).__name__})"
    if response.status_code not in (200, 204):
        return f"answered HTTP {response.status_code}"
    return None
