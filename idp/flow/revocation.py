"""What to revoke when a user's credentials change or a session ends: registries other apps fill at ready().

The login journey must not import the protocol apps, and the protocol apps must not import one
another, so they meet here:

- Revokers: ``idp.oidc`` registers a function that revokes the user's refresh tokens and deletes
  their access tokens; a password reset calls :func:`revoke_everything`. Django sessions need no
  hook: changing the password changes the session auth hash, so every other session of the user
  is signed out on its next request.
- Session-ended listeners: a Canopy session (user, ``sid``) ended outside the logout page — the
  account page, a partner's logout (federation). ``idp.oidc`` registers its back-channel logout;
  the callers announce the end with :func:`sessions_ending` (sessions about to be deleted
  server-side) or :func:`this_session_ending` (this browser's session).
- Upstream sessions: a federated sign-in ties this browser's session to the upstream's session
  (:func:`upstream_session_started`), and a partner's back-channel logout ends the sessions tied to
  one (:func:`upstream_session_ended`). ``idp.federation`` announces both; ``idp.account``, which
  keeps the session records, registers the store (:func:`register_upstream_sessions`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import import_module
from typing import Any, Protocol

from django.conf import settings
from django.http import HttpRequest

from idp.flow.session import session_sid
from tenants.models import Tenant, User
from tenants.registry import Registry

Revoker = Callable[[User], int]
REVOKERS: Registry[Revoker] = Registry("revoker")


def register_revoker(revoker: Revoker) -> Revoker:
    """``revoker(user)`` → how many credentials it revoked."""
    return REVOKERS.register(revoker)


def revoke_everything(user: User) -> int:
    return sum(revoker(user) for revoker in REVOKERS)


class SessionEndedListener(Protocol):
    def __call__(self, *, tenant_id: int, user_id: int | None, sid: str) -> int:
        """Session ``sid`` of the user ended; returns how many parties it told."""
        ...


SESSION_ENDED: Registry[SessionEndedListener] = Registry("session-ended listener")


def register_session_ended(listener: SessionEndedListener) -> SessionEndedListener:
    """``listener(tenant_id=, user_id=, sid=)`` hears of every session that ends."""
    return SESSION_ENDED.register(listener)


def session_ended(*, tenant_id: int, user_id: int | None, sid: str) -> int:
    """Tell every listener that session ``sid`` of the user ended; how many parties were told."""
    return sum(listener(tenant_id=tenant_id, user_id=user_id, sid=sid) for listener in SESSION_ENDED)


def sessions_ending(*, tenant_id: int, session_keys: Iterable[str]) -> int:
    """Sessions about to be deleted server-side (account page, partner logout): read each one's
    user and sid before it goes, and tell the listeners."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    told = 0
    for key in session_keys:
        user_id, sid = session_sid(store_class(session_key=key).load())
        if sid:
            told += session_ended(tenant_id=tenant_id, user_id=user_id, sid=sid)
    return told


def this_session_ending(request: HttpRequest, *, tenant: Tenant) -> int:
    """This browser's session is about to end outside the logout page (a partner's SAML logout)."""
    user_id, sid = session_sid(request.session)
    user = getattr(request, "user", None)
    if sid and user is not None and getattr(user, "tenant_id", None) == tenant.pk:
        return session_ended(tenant_id=tenant.pk, user_id=user_id, sid=sid)
    return 0


class UpstreamSessions(Protocol):
    """Who keeps the link between Canopy sessions and the upstream sessions they came from."""

    def started(self, *, request: HttpRequest, idp: Any, sid: str, subject: str) -> None: ...

    def ended(self, *, idp: Any, sid: str, subject: str) -> int: ...


UPSTREAM_SESSIONS: Registry[UpstreamSessions] = Registry("upstream-session store")


def register_upstream_sessions(store: UpstreamSessions) -> UpstreamSessions:
    return UPSTREAM_SESSIONS.register(store)


def upstream_session_started(*, request: HttpRequest, idp: Any, sid: str, subject: str) -> None:
    """This browser's session came from upstream ``idp``'s session ``sid`` of ``subject``."""
    for store in UPSTREAM_SESSIONS:
        store.started(request=request, idp=idp, sid=sid, subject=subject)


def upstream_session_ended(*, idp: Any, sid: str, subject: str) -> int:
    """Upstream ``idp`` ended session ``sid`` (or every session of ``subject``): end the Canopy
    sessions that came from it; how many ended."""
    return sum(store.ended(idp=idp, sid=sid, subject=subject) for store in UPSTREAM_SESSIONS)
