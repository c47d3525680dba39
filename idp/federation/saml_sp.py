"""Canopy as a SAML service provider of an upstream IdP (pysaml2 ``Saml2Client``, one config per upstream).

Entity id ``<CANOPY_BASE_URL>/t/<slug>/federation/<idp>/saml/metadata`` (the stable SP metadata URL),
ACS ``…/saml/acs`` (HTTP-POST). Assertions must be signed by a key of the partner's metadata;
the response must answer our request (InResponseTo, from the session, used once), be for our
audience and our ACS; assertion ids are remembered until they expire (replay).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, samlp
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import status_message_factory
from saml2.saml import NameID
from saml2.sigver import pem_format

from idp.federation.models import UpstreamIdP
from idp.federation.services import decrypt_secret, encrypt_secret

SESSION_SAML = "canopy.federation.saml"
SESSION_SAML_LOGOUT = "canopy.federation.saml-logout"
TX_SECONDS = 600
SIG_ALG = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
REDIRECT_SIG_ALGS = (SIG_ALG, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512")  # no SHA-1
SP_CERT_DAYS = 3650  # self-signed: partners pin it from our metadata, so it need not expire soon


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


def sls_url(idp: UpstreamIdP) -> str:
    path = reverse("federation:saml_sls", kwargs={"tenant_slug": idp.tenant.slug, "idp_slug": idp.slug})
    return f"{settings.CANOPY_BASE_URL}{path}"


def _generate_key_pair(idp: UpstreamIdP) -> tuple[str, str]:
    """A fresh RSA key and a self-signed certificate naming our SP entity id (what SAML metadata carries)."""

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Canopy SP {idp.tenant.slug}/{idp.slug}"[:64])])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=SP_CERT_DAYS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def ensure_sp_keys(idp: UpstreamIdP) -> None:
    """Give the upstream its own SP key pair once (the private key is encrypted at rest)."""
    if idp.sp_cert and idp.sp_key_encrypted:
        return
    key_pem, cert_pem = _generate_key_pair(idp)
    idp.sp_key_encrypted, idp.sp_cert = encrypt_secret(key_pem), cert_pem
    if idp.pk is not None:
        UpstreamIdP.objects.filter(pk=idp.pk, sp_cert="").update(
            sp_key_encrypted=idp.sp_key_encrypted, sp_cert=idp.sp_cert
        )
        idp.refresh_from_db(fields=["sp_key_encrypted", "sp_cert"])  # a concurrent first use wins once


def _key_files(idp: UpstreamIdP) -> tuple[str, str]:
    """xmlsec1 reads keys from files: a private (0700) directory, one file pair per certificate."""
    ensure_sp_keys(idp)
    digest = hashlib.sha256(idp.sp_cert.encode()).hexdigest()[:24]
    folder = Path(tempfile.gettempdir()) / f"canopy-sp-keys-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if folder.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SamlError("sp-key-folder-unsafe")  # someone else made it: never put a private key there
    key_file, cert_file = folder / f"{digest}.key", folder / f"{digest}.crt"
    if not key_file.exists():
        fd = os.open(str(key_file) + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(decrypt_secret(idp.sp_key_encrypted))
        os.replace(str(key_file) + ".tmp", key_file)
    if not cert_file.exists():
        cert_file.write_text(idp.sp_cert)
    return str(key_file), str(cert_file)


def _client(idp: UpstreamIdP) -> Any:

    key_file, cert_file = _key_files(idp)
    config = SPConfig().load(
        {
            "entityid": sp_entity_id(idp),
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(acs_url(idp), BINDING_HTTP_POST)],
                        "single_logout_service": [
                            (sls_url(idp), BINDING_HTTP_REDIRECT),
                            (sls_url(idp), BINDING_HTTP_POST),
                        ],
                    },
                    "want_assertions_signed": True,
                    "want_response_signed": False,
                    "want_assertions_or_response_signed": True,
                    "authn_requests_signed": idp.saml_sign_requests,
                    "logout_requests_signed": idp.saml_sign_requests,
                    "allow_unsolicited": False,
                    "only_use_keys_in_metadata": True,
                }
            },
            "key_file": key_file,
            "cert_file": cert_file,
            "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
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

    return create_metadata_string(None, config=_client(idp).config).decode()


def begin(request: Any, *, idp: UpstreamIdP, next_url: str) -> str:

    client = _client(idp)
    relay = secrets.token_urlsafe(24)
    request_id, info = client.prepare_for_authenticate(
        entityid=_idp_entity_id(client),
        relay_state=relay,
        binding=BINDING_HTTP_REDIRECT,
        sign=idp.saml_sign_requests,
        sigalg=SIG_ALG if idp.saml_sign_requests else None,
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
    # Plain or encrypted (decrypted with our SP key by pysaml2): exactly one assertion either way.
    if len(list(getattr(response, "assertions", None) or [])) != 1 or response.response.encrypted_assertion:
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
        # For single logout later: who we asked, and the partner's session (kept server-side).
        "tx_session": {
            "issuer": _idp_entity_id(client),
            "name_id": subject.strip(),
            "name_id_format": str(getattr(name_id, "format", "") or ""),
            "session_index": _session_index(assertion),
        },
    }
    for name, values in ava.items():
        if name not in claims and values:
            claims[name] = [str(v) for v in values] if len(values) > 1 else str(values[0])
    return claims


def _session_index(assertion: Any) -> str:
    for statement in getattr(assertion, "authn_statement", None) or []:
        if statement.session_index:
            return str(statement.session_index)
    return ""


# --- single logout (SP-initiated, HTTP-Redirect both ways) ---------------------------


def logout_url(request: Any, *, idp: UpstreamIdP, session: dict[str, Any], continue_url: str) -> str | None:
    """A signed LogoutRequest to the partner's SLO endpoint, or None when its metadata has none.

    The request id and where to go afterwards are parked in the (signed-out) session under the
    RelayState; :func:`logout_finish` checks the LogoutResponse answers that request.
    """

    client = _client(idp)
    entity_id = _idp_entity_id(client)
    if session.get("issuer") != entity_id or not session.get("name_id"):
        return None
    locations = _idp_slo_locations(client, entity_id)
    if not locations:
        return None
    name_id = NameID(text=str(session["name_id"]), format=str(session.get("name_id_format") or "") or None)
    request_id, logout_request = client.create_logout_request(
        locations[0],
        entity_id,
        name_id=name_id,
        session_indexes=[session["session_index"]] if session.get("session_index") else None,
        sign=False,  # HTTP-Redirect: the signature goes in the query string (apply_binding below)
    )
    relay = secrets.token_urlsafe(24)
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT,
        str(logout_request),
        locations[0],
        relay,
        sign=idp.saml_sign_requests,
        sigalg=SIG_ALG if idp.saml_sign_requests else None,
    )
    pending = dict(request.session.get(SESSION_SAML_LOGOUT) or {})
    pending[relay] = {"idp": idp.pk, "request_id": request_id, "continue": continue_url, "t": time.time()}
    request.session[SESSION_SAML_LOGOUT] = dict(list(pending.items())[-5:])
    return str(dict(info["headers"])["Location"])


def logout_finish(request: Any, *, idp: UpstreamIdP, saml_response: str, relay_state: str, raw_query: str) -> str:
    """The ``continue_url`` of the logout this LogoutResponse answers; :class:`SamlError` otherwise.

    ``raw_query`` is the request's query string as received: its ``Signature`` over ``SAMLResponse``,
    ``RelayState`` and ``SigAlg`` must verify with a signing key of the partner's metadata."""

    pending = dict(request.session.get(SESSION_SAML_LOGOUT) or {})
    tx = pending.pop(relay_state, None) if relay_state else None
    request.session[SESSION_SAML_LOGOUT] = pending
    if not isinstance(tx, dict) or tx.get("idp") != idp.pk or time.time() - tx.get("t", 0) >= TX_SECONDS:
        raise SamlError("no-logout-transaction")
    client = _client(idp)
    _check_redirect_signature(client, raw_query, "SAMLResponse")
    try:
        response = client.parse_logout_request_response(saml_response, BINDING_HTTP_REDIRECT)
    except Exception as exc:  # noqa: BLE001 - pysaml2 raises many kinds for a bad response
        raise SamlError(f"logout-response-invalid:{type(exc).__name__}") from exc
    if response is None or response.in_response_to != tx["request_id"]:
        raise SamlError("logout-response-mismatch")
    if response.issuer() != _idp_entity_id(client):
        raise SamlError("logout-response-issuer")
    return str(tx["continue"])


def _idp_slo_locations(client: Any, entity_id: str, *, response: bool = False) -> list[str]:
    """The partner's HTTP-Redirect SingleLogoutService (its ResponseLocation for a response)."""

    services = client.metadata.single_logout_service(entity_id, BINDING_HTTP_REDIRECT, "idpsso") or []
    if isinstance(services, dict):  # pysaml2 keys them by binding
        services = services.get(BINDING_HTTP_REDIRECT) or []
    keys = ("response_location", "location") if response else ("location",)
    return [
        str(next(s[k] for k in keys if s.get(k)))
        for s in services
        if isinstance(s, dict) and any(s.get(k) for k in keys)
    ]


def _check_redirect_signature(client: Any, raw_query: str, kind: str) -> None:
    """HTTP-Redirect binding (SAML bindings 3.4.4.1): the ``Signature`` over the URL-encoded
    ``kind``, ``RelayState`` and ``SigAlg`` exactly as received, by a signing key of the partner's
    metadata. Re-encoding the decoded values would break with partners that encode differently."""

    raw = dict(part.split("=", 1) for part in raw_query.split("&") if "=" in part)
    sigalg, signature = unquote_plus(raw.get("SigAlg", "")), unquote_plus(raw.get("Signature", ""))
    if not signature or sigalg not in REDIRECT_SIG_ALGS or kind not in raw:
        raise SamlError("unsigned")
    signed = "&".join(f"{k}={raw[k]}" for k in (kind, "RelayState", "SigAlg") if k in raw).encode("ascii", "replace")
    digest = hashes.SHA512() if sigalg.endswith("sha512") else hashes.SHA256()
    try:
        value = base64.b64decode(signature, validate=False)
    except ValueError as exc:
        raise SamlError("bad-signature") from exc
    for _name, cert in client.metadata.certs(_idp_entity_id(client), "idpsso", "signing"):
        key = x509.load_pem_x509_certificate(pem_format(cert)).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(value, signed, padding.PKCS1v15(), digest)
        except InvalidSignature:
            continue
        return
    raise SamlError("bad-signature")


# --- single logout started by the partner (LogoutRequest to our SLS) -------------------


@dataclass(frozen=True)
class PartnerLogout:
    """A LogoutRequest from the partner, checked: whom it names, and how to answer it."""

    request_id: str
    name_id: str
    session_indexes: tuple[str, ...]
    message: Any


def partner_logout_request(
    *, idp: UpstreamIdP, binding: str, saml_request: str, raw_query: str
) -> tuple[PartnerLogout | None, str]:
    """Parse and check the partner's LogoutRequest: (the request, "") when it may sign someone out;
    (the request or None, reason) when not. None: too broken to answer with a LogoutResponse."""

    client = _client(idp)
    bind = BINDING_HTTP_POST if binding == "post" else BINDING_HTTP_REDIRECT
    try:
        parsed = client.parse_logout_request(saml_request, bind)  # an XML signature, if any, is verified here
    except Exception as exc:  # noqa: BLE001 - pysaml2 raises many kinds for a bad request
        # Refused; still answer it (InResponseTo) when its ID can be read, to the partner's own SLO endpoint.
        unverified = _unverified_logout_request(client, saml_request, bind)
        return unverified, f"logout-request-invalid:{type(exc).__name__}"
    message = getattr(parsed, "message", None)
    if message is None or message.name_id is None or not message.name_id.text:
        return None, "logout-request-invalid"
    found = PartnerLogout(
        request_id=str(message.id),
        name_id=str(message.name_id.text),
        session_indexes=tuple(str(i.text) for i in (message.session_index or []) if i.text),
        message=message,
    )
    if message.issuer is None or message.issuer.text != _idp_entity_id(client):
        return found, "issuer"
    try:
        if bind == BINDING_HTTP_REDIRECT:
            _check_redirect_signature(client, raw_query, "SAMLRequest")
        elif message.signature is None:
            raise SamlError("unsigned")
    except SamlError as exc:
        return found, exc.reason
    # Used once: the same signed request replayed later signs no one out.
    if not cache.add(f"canopy:federation:saml-logout-request:{idp.pk}:{found.request_id}", 1, 2 * 86400):
        return found, "replayed"
    return found, ""


def _unverified_logout_request(client: Any, saml_request: str, binding: str) -> PartnerLogout | None:
    """The ID of a LogoutRequest that failed its checks, only to address the error LogoutResponse."""

    try:
        message = samlp.logout_request_from_string(client.unravel(saml_request, binding, "SAMLRequest"))
    except Exception:  # noqa: BLE001 - unreadable: no answer can be addressed
        return None
    if message is None or not message.id:
        return None
    return PartnerLogout(request_id=str(message.id), name_id="", session_indexes=(), message=message)


def partner_logout_response(
    *, idp: UpstreamIdP, logout: PartnerLogout, relay_state: str, failure: tuple[str, str, str] | None = None
) -> str:
    """The signed LogoutResponse (HTTP-Redirect) to the partner's SLO endpoint: Success, or
    ``failure`` = (top-level status, second-level status, plain-words message)."""

    client = _client(idp)
    locations = _idp_slo_locations(client, _idp_entity_id(client), response=True)
    if not locations:
        raise SamlError("no-partner-slo")
    status = None
    if failure is not None:
        top, second, words = failure
        status = status_message_factory(words, second, fro=top)
    # Always to the SLO endpoint of the partner's metadata, never to an address the request names.
    response = client._status_response(  # noqa: SLF001 - create_logout_response looks the issuer up again
        samlp.LogoutResponse,
        client._issuer(),  # noqa: SLF001 - our entity id, as pysaml2 writes it
        status,
        sign=False,
        in_response_to=logout.request_id,
        destination=locations[0],
    )
    info = client.apply_binding(
        BINDING_HTTP_REDIRECT, str(response), locations[0], relay_state, response=True, sign=True, sigalg=SIG_ALG
    )
    return str(dict(info["headers"])["Location"])
