"""Push approval as a second factor: a webhook out, a signed callback in, a page that waits.

- **When**: ``push`` is in the organization's effective ``login.authenticators`` and the tenant
  root enables ``connections.push`` (root-only: children inherit it and cannot override it). The
  deployment configures ``CANOPY_PUSH_WEBHOOK_URL`` and ``CANOPY_PUSH_WEBHOOK_SECRET``; without
  them the request cannot be sent and the page offers the code fallback (never password-only).
- **Out**: after a right password the journey creates a challenge (random id, in the cache with
  the tenant, user and expiry from ``connections.push.timeout_seconds``) and POSTs
  ``{"id","tenant","user","message","callback","expires_at"}`` to the push service, signed like
  the SMS webhook (:func:`idp.flow.sms.post_signed`).
- **In**: the push service POSTs ``{"id","decision":"approve"|"deny"}`` to
  ``/t/<slug>/login/push/callback/`` with ``X-Canopy-Timestamp`` and ``X-Canopy-Signature:
  sha256=<HMAC-SHA-256 of "<timestamp>.<body>">`` under the same secret. Refused: a bad signature
  (401), a timestamp more than 5 minutes away, a signature seen before (replay, 409), a challenge
  of another tenant or unknown (404), one already decided or expired (409).
- **The page** (``login/push/``) shows the status, polls ``login/push/status/`` (JSON) with
  JavaScript and refreshes itself every few seconds without it. Approved → the factor passed
  (amr ``swk``: the approving app holds a device key); denied → refused; no answer in time →
  the page offers the fallback, another factor the organization enables (email or SMS code).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from idp.flow import journey, pages, sms
from idp.flow.redirects import HttpResponseSeeOther
from idp.flow.session import SESSION_LOGIN, login_url
from idp.flow.steps import step_url
from idp.flow.stepup import stepup_factors
from orgs.inheritance.selectors import effective_section
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant, User
from tenants.routing import tenant_of

PUSH = "push"
AMR_PUSH = "swk"  # RFC 8176: proof of possession of a software-secured key (the approving app's)
PENDING, APPROVED, DENIED, EXPIRED = "pending", "approved", "denied", "expired"
CALLBACK_SKEW_SECONDS = 300
CACHE_PREFIX = "canopy:push"

MSG_DENIED = "The sign-in was denied on your device. If that was not you, tell your administrator."
MSG_EXPIRED = "No answer came from your device in time."
MSG_NOT_SENT = "We could not reach your device just now."


class PushError(Exception):
    """The push service did not take the request."""


def _secret() -> str:
    return str(getattr(settings, "CANOPY_PUSH_WEBHOOK_SECRET", "") or "")


def configured() -> bool:
    url = str(getattr(settings, "CANOPY_PUSH_WEBHOOK_URL", "") or "")
    return url.startswith(("https://", "http://")) and bool(_secret())


def required(*, tenant: Tenant, organization: uuid.UUID | None) -> bool:
    """Push is asked after the password for this organization (see the module docstring).

    The deployment's webhook settings are not part of the answer on purpose: an organization
    that asks for push never silently falls back to the password alone; without a push service
    the page says it could not reach the device and offers the code factor instead.
    """
    login = effective_section(tenant=tenant, organization=organization, section="login")
    connection = effective_section(tenant=tenant, organization=organization, section="connections")["push"] or {}
    return PUSH in (login["authenticators"] or []) and bool(connection.get("enabled"))


def can_step_up(*, tenant: Tenant, organization: uuid.UUID | None, user: User) -> bool:
    """Push serves a step-up (``acr_values``) where the organization enables it and a push service is set."""
    del user  # one device per user, reached through the push service by username
    connection = effective_section(tenant=tenant, organization=organization, section="connections")["push"] or {}
    return configured() and bool(connection.get("enabled"))


def page_url(*, tenant: Tenant, next_url: str) -> str:
    return step_url("flow:push", tenant=tenant, next_url=next_url)


def _key(challenge_id: str) -> str:
    return f"{CACHE_PREFIX}:c:{hashlib.sha256(challenge_id.encode()).hexdigest()}"


def challenge_start(*, tenant: Tenant, organization: uuid.UUID | None, user: User) -> str:
    """Record a pending challenge and send it to the push service; its id. Raises PushError."""
    connection = effective_section(tenant=tenant, organization=organization, section="connections")["push"] or {}
    timeout = int(connection.get("timeout_seconds", 60))
    challenge_id = secrets.token_urlsafe(24)
    expires = int(time.time()) + timeout
    record = {"tenant_id": tenant.pk, "user_id": user.pk, "status": PENDING, "expires": expires}
    cache.set(_key(challenge_id), record, timeout=timeout + 300)
    callback = reverse("flow:push_callback", kwargs={"tenant_slug": tenant.slug})
    payload = {
        "id": challenge_id,
        "tenant": tenant.slug,
        "user": user.get_username(),
        "message": f"Approve the sign-in to {tenant.display_name} as {user.get_username()}?",
        "callback": f"{settings.CANOPY_BASE_URL}{callback}",
        "expires_at": expires,
    }
    url = str(settings.CANOPY_PUSH_WEBHOOK_URL)
    timeout_s = float(getattr(settings, "CANOPY_PUSH_WEBHOOK_TIMEOUT", 10))
    if not configured() or not sms.post_signed(url=url, secret=_secret(), payload=payload, timeout=timeout_s):
        cache.delete(_key(challenge_id))
        raise PushError("not sent")
    audit_record(actor=SYSTEM, tenant=tenant, action=AuditAction.LOGIN_PUSH_SENT, target=user)
    return challenge_id


def challenge_status(*, tenant: Tenant, challenge_id: str, user_id: int) -> str:
    record = cache.get(_key(challenge_id)) if challenge_id else None
    if not isinstance(record, dict) or record.get("tenant_id") != tenant.pk or record.get("user_id") != user_id:
        return EXPIRED
    if record["status"] == PENDING and int(record["expires"]) < int(time.time()):
        return EXPIRED
    return str(record["status"])


def callback_accept(*, tenant: Tenant, body: bytes, timestamp: str, signature: str) -> tuple[int, str]:  # noqa: PLR0911 - one return per refusal
    """Check a callback and apply its decision: (HTTP status, reason in plain words)."""
    secret = _secret()
    if not secret:
        return 404, "Push is not configured."
    expected = sms.signature(secret, timestamp, body)
    if not hmac.compare_digest(expected, signature or ""):
        return 401, "Bad signature."
    try:
        skew = abs(int(time.time()) - int(timestamp))
    except ValueError:
        return 401, "Bad timestamp."
    if skew > CALLBACK_SKEW_SECONDS:
        return 401, "Stale timestamp."
    seen = f"{CACHE_PREFIX}:seen:{hashlib.sha256(signature.encode()).hexdigest()}"
    if not cache.add(seen, 1, timeout=2 * CALLBACK_SKEW_SECONDS):
        return 409, "This callback was already received."
    try:
        data = json.loads(body)
    except ValueError:
        return 400, "The body is not JSON."
    if not isinstance(data, dict) or data.get("decision") not in ("approve", "deny"):
        return 400, 'Send {"id": …, "decision": "approve" or "deny"}.'
    return _decide(tenant=tenant, challenge_id=str(data.get("id") or ""), approve=data["decision"] == "approve")


def _decide(*, tenant: Tenant, challenge_id: str, approve: bool) -> tuple[int, str]:
    key = _key(challenge_id)
    record = cache.get(key) if challenge_id else None
    if not isinstance(record, dict) or record.get("tenant_id") != tenant.pk:
        return 404, "No such request."
    if record["status"] != PENDING or int(record["expires"]) < int(time.time()):
        return 409, "This request was already answered or has expired."
    record["status"] = APPROVED if approve else DENIED
    cache.set(key, record, timeout=300)
    user = User.objects.filter(pk=record["user_id"], tenant=tenant).first()
    action = AuditAction.LOGIN_PUSH_APPROVED if approve else AuditAction.LOGIN_PUSH_DENIED
    audit_record(actor=SYSTEM, tenant=tenant, action=action, target=user)
    return 204, ""


def fallback_factor(*, tenant: Tenant, organization: uuid.UUID | None, user: User) -> str:
    """The factor offered instead of push: the first code factor enabled here that the user can receive."""

    found = stepup_factors(tenant=tenant, organization=organization, user=user)
    return found[0] if found else ""


# --- pages ------------------------------------------------------------------------------------


def _journey(request: HttpRequest, tenant: Tenant) -> tuple[dict[str, Any] | None, User | None]:

    state = journey.login_state(request, tenant)
    if state is None or state.get("step") != PUSH or not state.get("user_id"):
        return None, None
    return state, User.objects.filter(pk=state["user_id"], tenant=tenant, is_active=True).first()


@never_cache
@require_http_methods(["GET", "POST"])
def push_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:  # noqa: PLR0911 - one return per outcome
    """Wait for the device: GET shows (and acts on) the status; POST ``action=fallback`` switches factor."""

    tenant = tenant_of(request)
    next_url = pages.next_of(request, tenant)
    state, user = _journey(request, tenant)
    if state is None or user is None:
        return HttpResponseSeeOther(login_url(tenant, next_url))
    organization = journey.state_organization(state)
    fallback = fallback_factor(tenant=tenant, organization=organization, user=user)
    if request.method == "POST" and request.POST.get("action") == "fallback" and fallback:
        factors = [f for f in state.get("factors", []) if f != PUSH]
        state["factors"] = [fallback, *[f for f in factors if f != fallback]]
        return journey.factor_start(
            request=request, tenant=tenant, state=state, user=user, factor=fallback, next_url=next_url
        )
    if not state.get("push_id"):
        try:
            state["push_id"] = challenge_start(tenant=tenant, organization=organization, user=user)
        except PushError:
            state["push_id"] = ""
            request.session[SESSION_LOGIN] = state
            return _waiting(
                request, tenant, next_url, state, fallback, status=EXPIRED, error=MSG_NOT_SENT, http_status=503
            )
        request.session[SESSION_LOGIN] = state
    status = challenge_status(tenant=tenant, challenge_id=str(state["push_id"]), user_id=user.pk)
    if status == APPROVED:
        cache.delete(_key(str(state["push_id"])))  # single use
        return journey.factor_passed(
            request, tenant=tenant, state=state, user=user, factor=PUSH, amr=[AMR_PUSH], next_url=next_url
        )
    if status == DENIED:
        request.session.pop(SESSION_LOGIN, None)
        return pages.page(request, "error.html", tenant, status=403, title="Sign-in denied", message=MSG_DENIED)
    error = MSG_EXPIRED if status == EXPIRED else ""
    return _waiting(request, tenant, next_url, state, fallback, status=status, error=error)


def _waiting(
    request: HttpRequest,
    tenant: Tenant,
    next_url: str,
    state: dict[str, Any],
    fallback: str,
    *,
    status: str,
    error: str,
    http_status: int = 200,
) -> HttpResponse:

    return pages.page(
        request,
        "push.html",
        tenant,
        status=http_status,
        next=next_url,
        identifier=str(state.get("identifier", "")),
        pending=status == PENDING,
        error=error,
        fallback=fallback,
        by_sms=fallback == "sms_otp",
        here=page_url(tenant=tenant, next_url=next_url),
        status_url=reverse("flow:push_status", kwargs={"tenant_slug": tenant.slug}),
        restart_url=login_url(tenant, next_url),
    )


@never_cache
@require_GET
def push_status_view(request: HttpRequest, tenant_slug: str) -> JsonResponse:
    """``{"status": "pending"|"approved"|"denied"|"expired"}`` for this browser's challenge (no id in the URL)."""
    tenant = tenant_of(request)
    state, user = _journey(request, tenant)
    if state is None or user is None:
        return JsonResponse({"status": EXPIRED})
    return JsonResponse(
        {"status": challenge_status(tenant=tenant, challenge_id=str(state.get("push_id") or ""), user_id=user.pk)}
    )


# The push service calls this from its servers, with no browser and no cookie: CSRF does not apply.
# The call is authenticated by the HMAC signature over timestamp and body under the shared
# secret, checked before anything else, and replays are refused (timestamp window + seen set).
@csrf_exempt
@require_POST
def push_callback_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    status, reason = callback_accept(
        tenant=tenant,
        body=request.body[:10_000],
        timestamp=request.headers.get("X-Canopy-Timestamp", ""),
        signature=request.headers.get("X-Canopy-Signature", ""),
    )
    if status == 204:
        return HttpResponse(status=204)
    return JsonResponse({"error": reason}, status=status)
