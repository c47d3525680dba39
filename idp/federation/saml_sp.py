"""Canopy as a SAML service provider of an upstream IdP (pysaml2 ``Saml2Client``, one config per upstream).

Entity id ``<CANOPY_BASE_URL>/t/<slug>/federation/<idp>/saml/metadata`` (the stable SP metadata URL),
ACS ``…/saml/acs`` (HTTP-POST). Assertions must be signed by a key of the partner's metadata;
the response must answer our request (InResponseTo, from the session, used once), be for our
audience and our ACS; assertion ids are remembered until they expire (replay).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.urls import reverse

from idp.federation.models import UpstreamIdP

SESSION_SAML = "canopy.federation.saml"
TX_SECONDS = 600


class SamlError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sp_entity_id(idp: UpstreamIdP) -> str:
    path = reverse("federation:saml_metadata", kwargs={"tenant_slug": idp.tenant.slug, "idp_slug": idp.slug})
    return f"{settings.CANOPY_BASE_URL}{path}"


def acs_url(idp: UpstreamIdP) -> str:
    path = reverse("federation:saml_acs", kwargs={"tenant_slug": idp.tenant.slug, "idp_slug": idp.slug})
    return f"{settings.CANOPY_BASE_URL}{path}"


def _client(idp: UpstreamIdP) -> Any:
    from saml2 import BINDING_HTTP_POST
    from saml2.client import Saml2Client
    from saml2.config import SPConfig

    config = SPConfig().load(
        {
            "entityid": sp_entity_id(idp),
            "service": {
                "sp": {
                    "endpoints": {"assertion_consumer_service": [(acs_url(idp), BINDING_HTTP_POST)]},
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    "want_assertions_or_response_signed": True,
                    "authn_requests_signed": False,
                    "allow_unsolicited": False,
                    "only_use_keys_in_metadata": True,
                }
            },
            "metadata": {"inline": [idp.saml_metadata]},
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "allow_unknown_attributes": True,
            "accepted_time_diff": 60,
        }
    )
    return Saml2Client(config=config)


def _idp_entity_id(client: Any) -> str:
    idps = list(client.metadata.identity_providers())
    if len(idps) != 1:
        raise SamlError("metadata-not-one-idp")
    return str(idps[0])


def metadata_xml(idp: UpstreamIdP) -> str:
    from saml2.metadata import create_metadata_string

    return create_metadata_string(None, config=_client(idp).config).decode()


def begin(request: Any, *, idp: UpstreamIdP, next_url: str) -> str:
    from saml2 import BINDING_HTTP_REDIRECT

    client = _client(idp)
    relay = secrets.token_urlsafe(24)
    request_id, info = client.prepare_for_authenticate(
        entityid=_idp_entity_id(client), relay_state=relay, binding=BINDING_HTTP_REDIRECT
    )
    now = time.time()
    txs = {
        k: v
        for k, v in (request.session.get(SESSION_SAML) or {}).items()
        if isinstance(v, dict) and now - v.get("t", 0) < TX_SECONDS
    }
    txs[relay] = {"idp": idp.pk, "request_id": request_id, "next": next_url, "t": now}
    request.session[SESSION_SAML] = dict(list(txs.items())[-10:])
    return str(dict(info["headers"])["Location"])


def finish(request: Any, *, idp: UpstreamIdP, saml_response: str, relay_state: str) -> dict[str, Any]:
    """Validated claims from an HTTP-POST SAMLResponse, or :class:`SamlError`; the transaction is used once."""
    from saml2 import BINDING_HTTP_POST

    txs = dict(request.session.get(SESSION_SAML) or {})
    tx = txs.pop(relay_state, None) if relay_state else None
    request.session[SESSION_SAML] = txs
    if not isinstance(tx, dict) or tx.get("idp") != idp.pk or time.time() - tx.get("t", 0) >= TX_SECONDS:
        raise SamlError("no-transaction")
    client = _client(idp)
    try:
        response = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={tx["request_id"]: tx["next"]}
        )
    except Exception as exc:  # noqa: BLE001 - pysaml2 raises many kinds for a bad response
        raise SamlError(f"response-invalid:{type(exc).__name__}") from exc
    if response is None:
        raise SamlError("response-invalid")
    assertions = list(getattr(response.response, "assertion", None) or [])
    if len(assertions) != 1 or response.response.encrypted_assertion:
        raise SamlError("assertion-count")
    assertion = response.assertion
    if assertion is None or assertion.signature is None:
        raise SamlError("assertion-unsigned")
    if response.issuer() != _idp_entity_id(client):
        raise SamlError("issuer")
    # Replay: an assertion id is accepted once while it could still be valid.
    if not cache.add(f"canopy:federation:saml-assertion:{idp.pk}:{assertion.id}", 1, TX_SECONDS):
        raise SamlError("replayed")
    name_id = response.name_id
    subject = getattr(name_id, "text", "") or ""
    ava = response.get_identity()

    def first(*names: str) -> str:
        for name in names:
            values = ava.get(name) or []
            if values:
                return str(values[0])
        return ""

    claims: dict[str, Any] = {
        "sub": subject.strip(),
        "email": first("email", "mail", "emailAddress"),
        # A signed assertion from the partner vouches for the address; linking still requires the
        # address to be in a domain this IdP has verified (upstream_sign_in_user checks that).
        "email_verified": True,
        "given_name": first("givenName", "given_name"),
        "family_name": first("sn", "surname", "family_name"),
        "tx_next": tx["next"],
    }
    for name, values in ava.items():
        if name not in claims and values:
            claims[name] = [str(v) for v in values] if len(values) > 1 else str(values[0])
    return claims
