"""Who is signed in to a tenant, as the protocol apps see it.

A browser has one Django session for the whole host. ``SESSION_AUTH`` records
which tenant it signed in to, how and when; a session for another tenant counts
as not signed in here.

The record also carries when it ends (``expires``, epoch seconds) and the shortest lifetime
applied in this login session (``lifetime``, seconds from ``auth_time``). Sign-in sets them from
the effective ``login.session_lifetime_minutes`` of the organization in context, else of the
user's home organization, else of the tenant root; :func:`limit_lifetime` shortens them for
each organization a token or assertion is issued for. Past ``expires`` nobody is signed in,
and Django's session (its row and its cookie) ends at the same moment.
"""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import auth
from django.http import HttpRequest
from django.urls import reverse

from orgs.inheritance.selectors import effective_section
from orgs.tree.selectors import home_organization
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
    expires: int = 0  # epoch seconds; signed out from then on


def _record(request: HttpRequest, tenant: Tenant, user_id: Any) -> dict[str, Any] | None:
    """This tenant's auth record for ``user_id`` in the session, or None."""
    data = request.session.get(SESSION_AUTH) if hasattr(request, "session") else None
    if isinstance(data, dict) and data.get("tenant_id") == tenant.pk and data.get("user_id") == user_id:
        return data
    return None


def lifetime_seconds(*, tenant: Tenant, user: User, organization: uuid.UUID | None = None) -> int:
    """The effective ``login.session_lifetime_minutes``, in seconds, of ``organization``, else of the
    user's home organization, else of the tenant root."""
    if organization is None:
        home = home_organization(user=user)
        organization = home.pk if home is not None else None
    try:
        login = effective_section(tenant=tenant, organization=organization, section="login")
    except LookupError:  # not an organization of this tenant: the root's
        login = effective_section(tenant=tenant, organization=None, section="login")
    return int(login["session_lifetime_minutes"]) * 60


def _expires(data: dict[str, Any], *, tenant: Tenant, user: User) -> int:
    """When the record ends. A record written before records carried ``expires`` ends after the
    lifetime sign-in would give it now."""
    if "expires" in data:
        return int(data["expires"])
    return int(data["auth_time"]) + lifetime_seconds(tenant=tenant, user=user)


def _session_expiry_follow(request: HttpRequest, expires: int) -> None:
    """Django's session row and cookie end when the auth record does."""
    request.session.set_expiry(datetime.fromtimestamp(expires, tz=UTC))


def current_auth(request: HttpRequest, tenant: Tenant) -> AuthState | None:
    """The signed-in user of *this* tenant, or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if user.tenant_id != tenant.pk:
        return None
    data = _record(request, tenant, user.pk)
    if data is None:
        return None
    try:
        expires = _expires(data, tenant=tenant, user=user)
        if expires <= int(time.time()):
            return None
        return AuthState(
            user=user,
            tenant_id=int(data["tenant_id"]),
            auth_time=int(data["auth_time"]),
            amr=[str(m) for m in data.get("amr", [])],
            acr=str(data.get("acr", "")),
            upstream=str(data.get("upstream", "")),
            upstream_slug=str(data.get("idp", "")),
            sid=str(data.get("sid", "")),
            expires=expires,
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
    organization: uuid.UUID | None = None,
) -> AuthState:
    """Log ``user`` in (new session key) and record how. ``user`` came from ``authenticate``,
    or ``backend`` names the backend that authenticated it (a later step of the journey).
    ``upstream`` names the upstream IdP of a federated sign-in (tokens and assertions say so).

    The session lasts the ``login.session_lifetime_minutes`` of ``organization`` (the one in
    context, if any), else of the user's home organization, else of the tenant root. A
    re-authentication of the signed-in user (step-up, ``prompt=login``) keeps the login session:
    its ``sid`` and the shortest lifetime already applied to it, counted from the new
    ``auth_time`` (so a step-up never lifts a shorter limit of an organization used before)."""
    now = int(time.time())
    lifetime = lifetime_seconds(tenant=tenant, user=user, organization=organization)
    previous = _live_record(request, user=user, tenant=tenant, now=now)
    sid = ""
    if previous is not None:
        sid = str(previous.get("sid") or "")
        lifetime = min(lifetime, int(previous.get("lifetime") or lifetime))
    sid = sid or secrets.token_urlsafe(24)
    auth.login(request, user, backend=backend or None)
    state = AuthState(
        user=user,
        tenant_id=tenant.pk,
        auth_time=now,
        amr=list(amr),
        acr=acr,
        upstream=upstream,
        upstream_slug=upstream_slug,
        sid=sid,
        expires=now + lifetime,
    )
    data: dict[str, Any] = {
        "tenant_id": state.tenant_id,
        "user_id": user.pk,
        "auth_time": state.auth_time,
        "amr": state.amr,
        "acr": state.acr,
        "sid": state.sid,
        "expires": state.expires,
        "lifetime": lifetime,
    }
    if upstream:
        data.update(upstream=upstream, idp=upstream_slug)
    request.session[SESSION_AUTH] = data
    _session_expiry_follow(request, state.expires)
    return state


def _live_record(request: HttpRequest, *, user: User, tenant: Tenant, now: int) -> dict[str, Any] | None:
    """The signed-in user's unexpired record, which a re-authentication continues: tokens issued
    before it belong to the same login session (``sid``) for back-channel logout. An expired one
    is not continued: signing in again after it starts a new login session."""
    data = _record(request, tenant, user.pk)
    try:
        if data is not None and _expires(data, tenant=tenant, user=user) > now:
            return data
    except (KeyError, TypeError, ValueError):
        pass
    return None


def limit_lifetime(request: HttpRequest, tenant: Tenant, minutes: int) -> None:
    """Shorten the signed-in session of ``tenant`` to end at most ``minutes`` after its ``auth_time``
    (a token or assertion was issued for an organization with that lifetime); never lengthens it.

    The shortest limit is kept for the rest of the login session, re-authentications included.
    No auth record of this tenant (or an expired one): nothing to do.
    """
    user = getattr(request, "user", None)
    if not isinstance(user, User) or not user.is_authenticated:
        return
    data = _live_record(request, user=user, tenant=tenant, now=int(time.time()))
    if data is None:
        return
    limit = max(0, int(minutes)) * 60
    expires = min(_expires(data, tenant=tenant, user=user), int(data["auth_time"]) + limit)
    lifetime = min(int(data.get("lifetime") or limit), limit)
    if data.get("expires") == expires and data.get("lifetime") == lifetime:
        return
    request.session[SESSION_AUTH] = {**data, "expires": expires, "lifetime": lifetime}
    _session_expiry_follow(request, expires)


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
