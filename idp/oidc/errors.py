"""OAuth errors Canopy raises, as types that know their wire form (RFC 6749, RFC 7662, RFC 8693, OIDC Core).

They are oauthlib errors, so a grant (``idp.oidc.grants``) and the validator raise them and
oauthlib and DOT render them like their own (``json``, ``headers``, ``status_code``, and at the
authorization endpoint DOT's redirect with ``state``). Canopy's own code renders them with:

- :meth:`OAuthError.response` at the endpoints it answers itself (introspection):
  ``{"error": ..., "error_description": ...}`` with ``Cache-Control: no-store``; a 401 (a client
  that failed to authenticate) also says ``WWW-Authenticate: Basic realm="canopy"``;
- :meth:`OAuthError.redirect_to` for the authorization view's decisions: the client's registered
  (validated) redirect URI with ``error``, ``error_description`` and ``state``
  (``views.AuthorizationView.error_redirect`` adds ``iss`` and honours ``form_post``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

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

    def redirect_to(self, *, redirect_uri: str, state: str | None) -> str:
        """The authorization error response (RFC 6749 §4.1.2.1) at ``redirect_uri``."""
        params = {"error": self.error, "error_description": self.description}
        if state:
            params["state"] = state
        return redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(params)

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


# --- the authorization endpoint (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9470) ----------------
class AccessDenied(OAuthError):
    error = "access_denied"


class InteractionRequired(OAuthError):
    error = "interaction_required"


class AccountSelectionRequired(OAuthError):
    error = "account_selection_required"


class UnmetAuthenticationRequirements(OAuthError):
    """OpenID Connect Core Unmet Authentication Requirements 1.0: the asked-for ``acr`` cannot be met."""

    error = "unmet_authentication_requirements"
