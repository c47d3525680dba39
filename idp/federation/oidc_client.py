"""Canopy as a relying party of an upstream OpenID Provider (Authlib client, joserfc for JWTs).

The transaction (state, nonce, PKCE verifier, expected issuer, ``next``) lives in the Django
session under its state; the callback pops it, so a state is used once.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.integrations.requests_client import OAuth2Session
from django.core.cache import cache
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.federation.models import UpstreamIdP
from idp.federation.services import decrypt_secret

SESSION_TX = "canopy.federation"
TX_SECONDS = 600
HTTP_TIMEOUT = 10
ALLOWED_ALGS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
LEEWAY = 30


class UpstreamError(Exception):
    """The upstream answer cannot be trusted; ``reason`` is for the audit/log, never a token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ProviderConfig:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str = ""


def _get_json(url: str) -> dict[str, Any]:
    response = requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False)
    response.raise_for_status()
    data = response.json()
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def provider_config(idp: UpstreamIdP) -> ProviderConfig:
    if not idp.discovery_url:
        return ProviderConfig(
            idp.issuer, idp.authorization_endpoint, idp.token_endpoint, idp.jwks_uri, idp.end_session_endpoint
        )
    key = f"canopy:federation:discovery:{idp.pk}:{idp.discovery_url}"
    data = cache.get(key)
    if data is None:
        try:
            data = _get_json(idp.discovery_url)
        except (requests.RequestException, ValueError) as exc:
            raise UpstreamError("discovery-unavailable") from exc
        cache.set(key, data, 300)
    issuer = idp.issuer or str(data.get("issuer", ""))
    if not issuer or str(data.get("issuer", "")) != issuer:
        raise UpstreamError("discovery-issuer-mismatch")
    return ProviderConfig(
        issuer=issuer,
        authorization_endpoint=idp.authorization_endpoint or str(data.get("authorization_endpoint", "")),
        token_endpoint=idp.token_endpoint or str(data.get("token_endpoint", "")),
        jwks_uri=idp.jwks_uri or str(data.get("jwks_uri", "")),
        end_session_endpoint=idp.end_session_endpoint or str(data.get("end_session_endpoint", "") or ""),
    )


def _session(idp: UpstreamIdP, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(
        idp.client_id,
        decrypt_secret(idp.client_secret_encrypted),
        scope=idp.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256" if idp.use_pkce else None,
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name, not a secret
    )


def begin(request: Any, *, idp: UpstreamIdP, redirect_uri: str, next_url: str, login_hint: str = "") -> str:
    """The upstream authorization URL; the transaction is parked in the session."""
    config = provider_config(idp)
    nonce = secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48) if idp.use_pkce else None
    extra: dict[str, Any] = {"nonce": nonce}
    if login_hint:
        extra["login_hint"] = login_hint
    url, state = _session(idp, redirect_uri).create_authorization_url(
        config.authorization_endpoint, code_verifier=verifier, **extra
    )
    now = time.time()
    txs = {
        k: v
        for k, v in (request.session.get(SESSION_TX) or {}).items()
        if isinstance(v, dict) and now - v.get("t", 0) < TX_SECONDS
    }
    txs[state] = {
        "idp": idp.pk,
        "nonce": nonce,
        "verifier": verifier,
        "issuer": config.issuer,
        "next": next_url,
        "redirect_uri": redirect_uri,
        "t": now,
    }
    request.session[SESSION_TX] = dict(list(txs.items())[-10:])
    return str(url)


def pop_transaction(request: Any, *, state: str, idp: UpstreamIdP) -> dict[str, Any] | None:
    txs = dict(request.session.get(SESSION_TX) or {})
    tx = txs.pop(state, None) if state else None
    request.session[SESSION_TX] = txs
    if not isinstance(tx, dict) or tx.get("idp") != idp.pk or time.time() - tx.get("t", 0) >= TX_SECONDS:
        return None
    return tx


def _jwks(uri: str, *, refresh: bool = False) -> KeySet:
    key = f"canopy:federation:jwks:{uri}"
    data = None if refresh else cache.get(key)
    if data is None:
        try:
            data = _get_json(uri)
        except (requests.RequestException, ValueError) as exc:
            raise UpstreamError("jwks-unavailable") from exc
        cache.set(key, data, 300)
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]  # checked by joserfc itself
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise UpstreamError("jwks-invalid") from exc


def validate_id_token(id_token: str, *, idp: UpstreamIdP, config: ProviderConfig, nonce: str) -> dict[str, Any]:
    """Signature against the partner's JWKS (asymmetric algorithms only), iss, aud, azp, exp, iat, nonce."""
    token = None
    for refresh in (False, True):  # a kid we do not know yet: fetch the JWKS once more (key rotation)
        try:
            token = jwt.decode(id_token, _jwks(config.jwks_uri, refresh=refresh), algorithms=ALLOWED_ALGS)
            break
        except (JoseError, ValueError, TypeError) as exc:
            if refresh:
                raise UpstreamError("id-token-signature") from exc
    assert token is not None  # noqa: S101 - the loop either set it or raised
    claims = dict(token.claims)
    now = time.time()
    if claims.get("iss") != config.issuer:
        raise UpstreamError("id-token-issuer")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if idp.client_id not in audiences:
        raise UpstreamError("id-token-audience")
    if len(audiences) > 1 and claims.get("azp") != idp.client_id:
        raise UpstreamError("id-token-azp")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or exp < now - LEEWAY:
        raise UpstreamError("id-token-expired")
    if not isinstance(iat, int | float) or iat > now + LEEWAY:
        raise UpstreamError("id-token-iat")
    if not isinstance(claims.get("nonce"), str) or not secrets.compare_digest(str(claims["nonce"]), nonce):
        raise UpstreamError("id-token-nonce")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise UpstreamError("id-token-subject")
    return claims


def finish(
    *, idp: UpstreamIdP, tx: dict[str, Any], authorization_response: str, iss: str | None
) -> tuple[dict[str, Any], str]:
    """Exchange the code (with the PKCE verifier): the validated ID token claims, and the ID token itself
    (kept server-side in the session as ``id_token_hint`` for the upstream logout)."""
    config = provider_config(idp)
    if config.issuer != tx["issuer"]:
        raise UpstreamError("issuer-changed")
    if iss is not None and iss != tx["issuer"]:  # RFC 9207: mix-up defence
        raise UpstreamError("authorization-response-issuer")
    session = _session(idp, tx["redirect_uri"])
    try:
        token = session.fetch_token(
            config.token_endpoint,
            authorization_response=authorization_response,
            code_verifier=tx.get("verifier"),
            timeout=HTTP_TIMEOUT,
        )
    except Exception as exc:  # noqa: BLE001 - Authlib and requests raise many kinds; none may leak
        raise UpstreamError("token-endpoint") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise UpstreamError("no-id-token")
    return validate_id_token(id_token, idp=idp, config=config, nonce=tx["nonce"]), id_token


def logout_url(*, idp: UpstreamIdP, id_token: str, post_logout_redirect_uri: str, state: str) -> str | None:
    """The upstream's RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0), or None without one."""
    endpoint = provider_config(idp).end_session_endpoint
    if not endpoint.startswith(("https://", "http://")):
        return None
    params = {"post_logout_redirect_uri": post_logout_redirect_uri, "state": state, "client_id": idp.client_id}
    if id_token:
        params["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
