"""OpenID Connect Back-Channel Logout 1.0, Canopy as the relying party of an upstream OP.

The partner signs a person out and POSTs a ``logout_token`` (a JWT) to our per-upstream
``backchannel_logout_uri``. It is checked like an ID token (the partner's JWKS, through the
same joserfc/Authlib path as sign-in) plus the logout-token rules: ``events`` names the
back-channel logout event, ``sid`` and/or ``sub`` say whose session, there is no ``nonce``,
``iat`` is fresh and ``jti`` is used once. The Canopy sessions recorded with that upstream
session (``SessionRecord.upstream_sid``/``upstream_subject``) end; nothing else does.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from joserfc import jwt
from joserfc.errors import JoseError

from idp.federation.models import UpstreamIdP
from idp.federation.oidc_client import ALLOWED_ALGS, LEEWAY, UpstreamError, _jwks, provider_config
from idp.flow.revocation import upstream_session_ended
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record

log = logging.getLogger(__name__)

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_AGE = 300  # seconds: an older logout token is refused (and its jti is remembered this long)
JTI_KEY = "canopy:federation:bcl-jti:{idp}:{jti}"


def backchannel_logout_uri(idp: UpstreamIdP) -> str:
    """The ``backchannel_logout_uri`` to register at the upstream OP (one per upstream)."""
    path = reverse("federation:backchannel_logout", kwargs={"tenant_slug": idp.tenant.slug, "idp_slug": idp.slug})
    return f"{settings.CANOPY_BASE_URL}{path}"


def _decode(token: str, jwks_uri: str) -> dict[str, Any]:
    for refresh in (False, True):  # an unknown kid: fetch the partner's keys once more (rotation)
        try:
            return dict(jwt.decode(token, _jwks(jwks_uri, refresh=refresh), algorithms=ALLOWED_ALGS).claims)
        except (JoseError, ValueError, TypeError) as exc:
            if refresh:
                raise UpstreamError("logout-token-signature") from exc
    raise UpstreamError("logout-token-signature")  # pragma: no cover - the loop returns or raises


def validate_logout_token(token: str, *, idp: UpstreamIdP) -> dict[str, Any]:  # noqa: C901, PLR0912 - one check per spec rule
    """The logout token's claims after every check of the spec (section 2.6); raises UpstreamError."""
    if not token or len(token) > 20_000:
        raise UpstreamError("logout-token-missing")
    config = provider_config(idp)
    claims = _decode(token, config.jwks_uri)
    now = time.time()
    if claims.get("iss") != config.issuer:
        raise UpstreamError("logout-token-issuer")
    aud = claims.get("aud")
    if idp.client_id not in (aud if isinstance(aud, list) else [aud]):
        raise UpstreamError("logout-token-audience")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or iat > now + LEEWAY or iat < now - MAX_AGE:
        raise UpstreamError("logout-token-iat")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp < now - LEEWAY):
        raise UpstreamError("logout-token-expired")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
        raise UpstreamError("logout-token-events")
    if "nonce" in claims:
        raise UpstreamError("logout-token-nonce")
    sid, sub = claims.get("sid"), claims.get("sub")
    if not (isinstance(sid, str) and sid) and not (isinstance(sub, str) and sub):
        raise UpstreamError("logout-token-no-subject")
    if (sid is not None and not isinstance(sid, str)) or (sub is not None and not isinstance(sub, str)):
        raise UpstreamError("logout-token-no-subject")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 200:
        raise UpstreamError("logout-token-jti")
    # Used once: the first add wins; a replay inside the acceptance window finds the key.
    if not cache.add(JTI_KEY.format(idp=idp.pk, jti=jti), 1, MAX_AGE + LEEWAY):
        raise UpstreamError("logout-token-replayed")
    return claims


def backchannel_logout(*, idp: UpstreamIdP, token: str) -> int:
    """Validate the partner's logout token and end the Canopy sessions it names; how many ended."""

    claims = validate_logout_token(token, idp=idp)
    ended = upstream_session_ended(idp=idp, sid=str(claims.get("sid") or ""), subject=str(claims.get("sub") or ""))
    audit_record(
        actor=SYSTEM,
        tenant=idp.tenant,
        action=AuditAction.FEDERATION_BACKCHANNEL_LOGOUT,
        target=idp,
        data={"sessions": ended, "by": "sid" if claims.get("sid") else "sub"},
    )
    log.info("back-channel logout from %s ended %d session(s)", idp.slug, ended)
    return ended
