"""OAuth errors Canopy raises, as types that know their wire form (RFC 6749 §5.2, RFC 7662, RFC 8693).

They are oauthlib errors, so a grant (``idp.oidc.grants``) and the validator raise them and
oauthlib and DOT render them like their own (``json``, ``headers``, ``status_code``); the
endpoints Canopy answers itself render them with :meth:`OAuthError.response`.

Wire form: ``{"error": ..., "error_description": ...}`` with ``Cache-Control: no-store``; a
401 (a client that failed to authenticate) also says ``WWW-Authenticate: Basic realm="canopy"``.
"""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse
from oauthlib.oauth2.rfc6749 import errors as oauth_errors


class OAuthError(oauth_errors.OAuth2Error):
    """An error for the client, with its RFC ``error`` code and a description in plain words."""

    error = "server_error"

    def __init__(self, description: str, *, request: Any = None) -> None:
        super().__init__(description=description, request=request)

    @property
    def headers(self) -> dict[str, str]:
        headers = {"Cache-Control": "no-store"}
        if self.status_code == 401:
            headers["WWW-Authenticate"] = 'Basic realm="canopy"'
        return headers

    def response(self) -> JsonResponse:
        """The error as the token and introspection endpoints answer it."""
        response = JsonResponse(dict(self.twotuples), status=self.status_code)
        for name, value in self.headers.items():
            response[name] = value
        return response


# --- the token endpoint (RFC 6749 §5.2, RFC 8693 §2.2.2) and introspection (RFC 7662 §2.3) ---
class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status_code = 401

    def __init__(self, description: str = "Client authentication failed.", *, request: Any = None) -> None:
        super().__init__(description, request=request)


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class InvalidTarget(OAuthError):
    """RFC 8693: the target (here: the organization to switch to) is not acceptable."""

    error = "invalid_target"


class InsufficientUserAuthentication(OAuthError):
    """RFC 9470: the sign-in behind the token is not enough; send the user through the authorization endpoint."""

    error = "insufficient_user_authentication"
