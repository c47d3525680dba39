"""Token introspection (RFC 7662), answered by Canopy: only about this tenant's tokens, and only
to the confidential client the token was issued to (anything else is ``{"active": false}``).

The client authenticates through the validator's ``authenticate_client``, as at the token
endpoint; the answer is the claims builder's (``ClaimsBuilder.introspection``).
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauthlib.common import Request as OAuthRequest
from oauthlib.common import urlencode

from idp.oidc import errors
from idp.oidc.claims import ClaimsBuilder
from idp.oidc.models import Application
from idp.oidc.validators import CanopyValidator


def introspect(request: HttpRequest, *, core: OAuthLibCore, validator: CanopyValidator) -> JsonResponse:
    oauth_request = OAuthRequest(
        request.get_full_path(),
        http_method="POST",
        body=urlencode(core.extract_body(request)),
        headers=core.extract_headers(request),
    )
    if (
        not validator.authenticate_client(oauth_request)
        or oauth_request.client.client_type == Application.CLIENT_PUBLIC
    ):
        return errors.InvalidClient().response()
    client: Application = oauth_request.client
    value = request.POST.get("token", "")
    if not value:
        return errors.InvalidRequest("The token parameter is missing.").response()
    token = validator.client_access_token(value, client)
    if token is None:
        return JsonResponse({"active": False})
    return JsonResponse(ClaimsBuilder.for_access_token(token, scopes=token.scope.split()).introspection(token))
