"""Who is signed in to a tenant, as the protocol apps see it.

A browser has one Django session for the whole host. ``SESSION_AUTH`` records
which tenant it signed in to, how and when; a session for another tenant counts
as not signed in here.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import auth
from django.http import HttpRequest
from django.urls import reverse

from tenants.models import Tenant, User

SESSION_AUTH = "canopy.auth"
SESSION_PICKS = "canopy.picks"
SESSION_LOGIN = "canopy.login"  # the journey in progress: tenant, identifier, step
SESSION_PREFIX = "canopy."

AMR_PASSWORD = "pwd"  # noqa: S105 - a method name (RFC 8176), not a secret
ACR_PASSWORD = "urn:canopy:acr:pwd"  # noqa: S105 - an assurance level, not a secret
AMR_OTP = "otp"  # RFC 8176: a one-time code (email or SMS)
ACR_MFA = "urn:canopy:acr:mfa"  # a password and another factor


def acr_for(amr: list[str]) -> str:
    """The assurance level of a set of methods: two distinct factors are MFA (OIDC and SAML use this)."""
    return ACR_MFA if len(set(amr)) > 1 else ACR_PASSWORD


PROMPT_LOGIN = "login"  # ?prompt=login on flow:login: ask for the password even with a session


@dataclass
class AuthState:
    user: User
    tenant_id: int
    auth_time: int  # epoch seconds
    amr: list[str] = field(default_factory=list)
    acr: str = ""
    # Federated sign-in: the upstream IdP that vouched (its issuer / entity id), and its slug here.
    upstream: str = ""
    upstream_slug: str = ""
    # This login session's id, the ``sid`` of ID tokens and logout tokens (OIDC Back-Channel Logout).
    sid: str = ""


def current_auth(request: HttpRequest, tenant: Tenant) -> AuthState | None:
    """The signed-in user of *this* tenant, or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.tenant_id != tenant.pk:
        return None
    data = request.session.get(SESSION_AUTH)
    if not isinstance(data, dict) or data.get("tenant_id") != tenant.pk or data.get("user_id") != user.pk:
        return None
    try:
        return AuthState(
            user=user,
            tenant_id=int(data["tenant_id"]),
            auth_time=int(data["auth_time"]),
            amr=[str(m) for m in data.get("amr", [])],
            acr=str(data.get("acr", "")),
            upstream=str(data.get("upstream", "")),
            upstream_slug=str(data.get("idp", "")),
            sid=str(data.get("sid", "")),
        )
    except (KeyError, TypeError, ValueError):
        return None


def sign_in(
    request: HttpRequest,
    *,
    user: User,
    tenant: Tenant,
    amr: list[str],
    acr: str,
    backend: str | None = None,
    upstream: str = "",
    upstream_slug: str = "",
) -> AuthState:
    """Log ``user`` in (new session key) and record how. ``user`` came from ``authenticate``,
    or ``backend`` names the backend that authenticated it (a later step of the journey).
    ``upstream`` names the upstream IdP of a federated sign-in (tokens and assertions say so)."""
    sid = _same_login_sid(request, user=user, tenant=tenant) or secrets.token_urlsafe(24)
    auth.login(request, user, backend=backend or None)
    state = AuthState(
        user=user,
        tenant_id=tenant.pk,
        auth_time=int(time.time()),
        amr=list(amr),
        acr=acr,
        upstream=upstream,
        upstream_slug=upstream_slug,
        sid=sid,
    )
    data: dict[str, Any] = {
        "tenant_id": state.tenant_id,
        "user_id": user.pk,
        "auth_time": state.auth_time,
        "amr": state.amr,
        "acr": state.acr,
        "sid": state.sid,
    }
    if upstream:
        data.update(upstream=upstream, idp=upstream_slug)
    request.session[SESSION_AUTH] = data
    return state


def _same_login_sid(request: HttpRequest, *, user: User, tenant: Tenant) -> str:
    """A re-authentication (step-up, ``prompt=login``) of the signed-in user keeps the session's
    ``sid``: tokens issued before it belong to the same login session for back-channel logout."""
    data = request.session.get(SESSION_AUTH) if hasattr(request, "session") else None
    if isinstance(data, dict) and data.get("tenant_id") == tenant.pk and data.get("user_id") == user.pk:
        return str(data.get("sid") or "")
    return ""


def login_url(tenant: Tenant, next_url: str, *, prompt_login: bool = False) -> str:
    """flow:login with ``next``; ``prompt_login`` asks for the password even with a session."""
    url = reverse("flow:login", kwargs={"tenant_slug": tenant.slug})
    params: dict[str, Any] = {}
    if next_url:
        params["next"] = next_url
    if prompt_login:
        params["prompt"] = PROMPT_LOGIN
    return f"{url}?{urlencode(params)}" if params else url


def session_sid(session: Any) -> tuple[int | None, str]:
    """The (user id, sid) recorded in a session's auth record, for a session ended from elsewhere."""
    data = session.get(SESSION_AUTH) if session is not None else None
    if not isinstance(data, dict):
        return None, ""
    user_id = data.get("user_id")
    return (int(user_id) if isinstance(user_id, int) else None), str(data.get("sid") or "")


def logout(request: HttpRequest) -> None:
    """Sign out of every tenant in this browser: Django's logout (flushes the session) and canopy.* keys."""
    for key in [k for k in request.session.keys() if k.startswith(SESSION_PREFIX)]:
        del request.session[key]
    auth.logout(request)
