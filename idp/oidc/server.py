"""The oauthlib server DOT builds (``OAUTH2_PROVIDER["OAUTH2_SERVER_CLASS"]``): oauthlib's OpenID
Connect server plus the grants Canopy adds, so DOT's token view handles them like any other."""

from __future__ import annotations

from typing import Any

from oauthlib.oauth2.rfc6749.endpoints.token import TokenEndpoint
from oauthlib.openid import Server

from idp.oidc.grants.token_exchange import TOKEN_EXCHANGE, TokenExchangeGrant


class CanopyServer(Server):
    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(request_validator, *args, **kwargs)
        self.token_exchange_grant = TokenExchangeGrant(request_validator)
        TokenEndpoint.__init__(
            self,
            default_grant_type=self.default_grant_type,
            grant_types={**self.grant_types, TOKEN_EXCHANGE: self.token_exchange_grant},
            default_token_type=self.default_token_type,
        )
