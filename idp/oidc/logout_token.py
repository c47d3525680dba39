"""The logout token of OpenID Connect Back-Channel Logout 1.0 (section 2.4), signed with the client's key.

``idp.oidc.backchannel`` decides who hears that a session ended; ``idp.oidc.tasks`` builds this
token for each delivery (a fresh one per attempt, so a retry never carries an expired token).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from idp.oidc import jws
from idp.oidc.context import issuer_for
from idp.oidc.models import Application

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYP = "logout+jwt"  # noqa: S105 - a media type, not a secret
LOGOUT_TOKEN_SECONDS = 120  # short: the RP acts on it at once


def logout_token(*, app: Application, user_id: int, sid: str) -> str:
    """The signed logout token (section 2.4): no nonce, ``typ: logout+jwt``, short-lived."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer_for(app.tenant),
        "aud": app.client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_SECONDS,
        "jti": str(uuid.uuid4()),
        "sub": str(user_id),
        "events": {LOGOUT_EVENT: {}},
    }
    if sid:
        claims["sid"] = sid
    return jws.sign(tenant_id=app.tenant_id, algorithm=app.algorithm or "RS256", claims=claims, typ=LOGOUT_TOKEN_TYP)
