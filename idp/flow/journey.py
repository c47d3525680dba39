"""The login journey between pages: the login state kept in the session, starting a factor
(a code sent, or another app's factor page), a factor passed, and signing in when the last one is.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse

from idp.flow import otp, pages
from idp.flow.branding import request_languages
from idp.flow.factors import get_factor
from idp.flow.redirects import HttpResponseSeeOther, home_url
from idp.flow.session import (
    AMR_PASSWORD,
    SESSION_LOGIN,
    acr_for,
    sign_in,
)
from idp.flow.steps import step_url
from tenants.models import Tenant, User


def login_state(request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:
    state = request.session.get(SESSION_LOGIN)
    if isinstance(state, dict) and state.get("tenant_id") == tenant.pk and state.get("identifier"):
        return state
    return None


OTP_PAGES = {otp.EMAIL_OTP: "flow:email_otp", otp.SMS_OTP: "flow:sms_otp"}


MSG_NOT_SENT = "We could not send your code just now. Try again in a few minutes."


def otp_page_url(tenant: Tenant, factor: str, next_url: str) -> str:
    return step_url(OTP_PAGES[factor], tenant=tenant, next_url=next_url)


def factor_start(
    *, request: HttpRequest, tenant: Tenant, state: dict[str, Any], user: User, factor: str, next_url: str
) -> HttpResponse:
    extra = get_factor(factor)
    if extra is not None:  # a factor of another app (passkeys): its own page does the rest
        state["step"] = factor
        request.session[SESSION_LOGIN] = state
        return HttpResponseSeeOther(extra.page_url(tenant=tenant, next_url=next_url))
    state.update(step=factor, otp_sends=0)
    state.pop("otp", None)
    try:
        send_code(request, tenant=tenant, state=state, user=user, factor=factor)
    except otp.DeliveryError:
        request.session.pop(SESSION_LOGIN, None)
        return pages.page(request, "error.html", tenant, status=503, title="Code not sent", message=MSG_NOT_SENT)
    request.session[SESSION_LOGIN] = state
    return HttpResponseSeeOther(otp_page_url(tenant, factor, next_url))


def state_organization(state: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=str(state.get("organization") or "")) if state.get("organization") else None
    except ValueError:
        return None


def send_code(
    request: HttpRequest, *, tenant: Tenant, state: dict[str, Any], user: User, factor: str
) -> tuple[bool, int]:
    """A code for this login, in the organization's template and branding and the reader's language."""
    return otp.challenge_send(
        state=state,
        tenant=tenant,
        organization=state_organization(state),
        user=user,
        factor=factor,
        languages=request_languages(request),
    )


def factor_passed(
    request: HttpRequest,
    *,
    tenant: Tenant,
    state: dict[str, Any],
    user: User,
    factor: str,
    amr: list[str],
    next_url: str,
) -> HttpResponse:
    """For the pages of registered factors (``idp.flow.factors``): ``factor`` passed, proving ``amr``."""
    return factor_done(request, tenant=tenant, state=state, user=user, factor=factor, next_url=next_url, proved=amr)


def factor_done(
    request: HttpRequest,
    *,
    tenant: Tenant,
    state: dict[str, Any],
    user: User,
    factor: str,
    next_url: str,
    proved: list[str] | None = None,
) -> HttpResponse:
    """One factor passed: the next one, or sign in with every method used."""
    added = proved if proved is not None else [otp.AMR[factor]]
    amr = [*[str(m) for m in state.get("amr", [AMR_PASSWORD])], *[m for m in added if m not in state.get("amr", [])]]
    state["amr"] = amr
    factors = [str(f) for f in state.get("factors", [])]
    later = factors[factors.index(factor) + 1 :] if factor in factors else []
    if later:
        return factor_start(request=request, tenant=tenant, state=state, user=user, factor=later[0], next_url=next_url)
    request.session.pop(SESSION_LOGIN, None)
    sign_in(request, user=user, tenant=tenant, amr=amr, acr=acr_for(amr), backend=str(state.get("backend") or ""))
    return HttpResponseSeeOther(next_url or home_url(tenant))
