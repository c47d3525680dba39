"""SAML messages: reading requests (after :mod:`idp.saml.xml` parsing) and writing responses.

Nothing here trusts the message to say where answers go: ACS and SLO locations come from
the SP's registration.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from lxml import etree

from idp.flow.session import ACR_MFA, acr_for
from idp.saml import crypto
from idp.saml.models import (
    BINDING_POST,
    BINDING_REDIRECT,
    NAMEID_EMAIL,
    NAMEID_PERSISTENT,
    NAMEID_TRANSIENT,
    NAMEID_UNSPECIFIED,
    ServiceProvider,
)
from idp.saml.xml import MAX_METADATA_BYTES, MD, NS, SAML, SAMLP, XMLRejected, b64decode, inflate, parse, text

STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
STATUS_REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
STATUS_RESPONDER = "urn:oasis:names:tc:SAML:2.0:status:Responder"
STATUS_REQUEST_DENIED = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
STATUS_NO_PASSIVE = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
STATUS_INVALID_NAMEID_POLICY = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
STATUS_UNSUPPORTED_BINDING = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"
STATUS_NO_AUTHN_CONTEXT = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
STATUS_PARTIAL_LOGOUT = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
AC_PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"  # noqa: S105 - a URN
AC_MFA = "https://refeds.org/profile/mfa"  # REFEDS MFA profile: a password and another factor


def authn_context_for(amr: list[str]) -> str:
    """The AuthnContextClassRef for how the user signed in; MFA exactly when OIDC's acr is MFA."""
    return AC_MFA if acr_for(amr) == ACR_MFA else AC_PASSWORD_PROTECTED


# What a Canopy sign-in (a password over TLS) satisfies; anything stronger is refused, never claimed.
AC_SATISFIED = {
    AC_PASSWORD_PROTECTED,
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
}
ATTRNAME_BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

ISSUE_INSTANT_PAST = datetime.timedelta(minutes=5)
ISSUE_INSTANT_FUTURE = datetime.timedelta(minutes=3)
ASSERTION_LIFETIME = datetime.timedelta(minutes=5)
MAX_RELAY_STATE = 80 * 10  # SAML says 80 bytes; real SPs send more, keep a bound


class RequestRejected(Exception):
    """The message cannot be answered to the SP: show an error page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestFailed(Exception):
    """The SP and its ACS are known: answer with a SAML error status at the ACS."""

    def __init__(self, status: str, message: str, sub_status: str = "") -> None:
        super().__init__(message)
        self.status, self.sub_status, self.message = status, sub_status, message


def now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


def instant(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(value: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise RequestRejected("IssueInstant is not a date") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed


def new_id() -> str:
    return "_" + secrets.token_hex(20)


# --- incoming --------------------------------------------------------------------------------
@dataclass
class Incoming:
    """A decoded message, before the SP is known."""

    root: etree._Element
    binding: str
    relay_state: str
    # HTTP-Redirect signature, if any
    sig_alg: str = ""
    signature: bytes = b""
    signed_octets: bytes = b""

    @property
    def issuer(self) -> str:
        return text(self.root.find(SAML + "Issuer"))


def _raw_params(query_string: str) -> dict[str, str]:
    raw: dict[str, str] = {}
    for part in query_string.split("&"):
        name, _, value = part.partition("=")
        if name in raw:
            raise RequestRejected(f"{name} appears twice")
        raw[name] = value
    return raw


def decode_redirect(query_string: str, message_param: str) -> Incoming:
    """HTTP-Redirect: the raw query is kept so the signature is checked over the exact octets."""
    raw = _raw_params(query_string)
    if message_param not in raw:
        raise RequestRejected(f"no {message_param}")
    relay = unquote_plus(raw.get("RelayState", ""))
    if len(relay) > MAX_RELAY_STATE:
        raise RequestRejected("RelayState too long")
    try:
        root = parse(inflate(b64decode(unquote_plus(raw[message_param]))))
    except XMLRejected as exc:
        raise RequestRejected(f"unreadable {message_param}: {exc}") from exc
    incoming = Incoming(root=root, binding=BINDING_REDIRECT, relay_state=relay)
    if "Signature" in raw:
        octets = f"{message_param}={raw[message_param]}"
        if "RelayState" in raw:
            octets += f"&RelayState={raw['RelayState']}"
        octets += f"&SigAlg={raw.get('SigAlg', '')}"
        incoming.signed_octets = octets.encode("ascii", "replace")
        incoming.sig_alg = unquote_plus(raw.get("SigAlg", ""))
        try:
            incoming.signature = b64decode(unquote_plus(raw["Signature"]))
        except XMLRejected as exc:
            raise RequestRejected("Signature is not base64") from exc
    return incoming


def decode_post(message: str, relay_state: str) -> Incoming:
    if len(relay_state) > MAX_RELAY_STATE:
        raise RequestRejected("RelayState too long")
    try:
        root = parse(b64decode(message))
    except XMLRejected as exc:
        raise RequestRejected(f"unreadable message: {exc}") from exc
    return Incoming(root=root, binding=BINDING_POST, relay_state=relay_state)


def verify_signature(incoming: Incoming, sp: ServiceProvider, *, required: bool) -> bool:
    """Check the message signature against the SP's registered certificates. True if signed."""
    certs = list(sp.signing_certificates or [])
    try:
        embedded = crypto.check_signature_shape(incoming.root)
        if incoming.binding == BINDING_REDIRECT and embedded is not None:
            raise crypto.SignatureInvalid("HTTP-Redirect messages carry the signature in the query")
        if incoming.signature:
            if not certs:
                raise crypto.SignatureInvalid("the SP has no registered signing certificate")
            crypto.verify_raw(
                data=incoming.signed_octets, signature=incoming.signature, sig_alg=incoming.sig_alg, certificates=certs
            )
            return True
        if embedded is not None:
            if not certs:
                raise crypto.SignatureInvalid("the SP has no registered signing certificate")
            crypto.verify_enveloped(incoming.root, embedded, certs)
            return True
    except crypto.SignatureInvalid as exc:
        raise RequestRejected(f"bad signature: {exc}") from exc
    if required:
        raise RequestRejected("this service provider must sign its requests")
    return False


def check_common(incoming: Incoming, *, expected_tag: str, destinations: set[str], signed: bool) -> str:
    """Version, IssueInstant window, Destination. Returns the message ID."""
    root = incoming.root
    if root.tag != expected_tag:
        raise RequestRejected(f"expected {etree.QName(expected_tag).localname}")
    if root.get("Version") != "2.0":
        raise RequestRejected("Version must be 2.0")
    message_id = root.get("ID") or ""
    if not message_id or len(message_id) > 256:
        raise RequestRejected("missing ID")
    issued = parse_instant(root.get("IssueInstant") or "")
    current = now()
    if issued < current - ISSUE_INSTANT_PAST or issued > current + ISSUE_INSTANT_FUTURE:
        raise RequestRejected("IssueInstant outside the accepted window")
    destination = root.get("Destination")
    if destination is None:
        if signed:
            raise RequestRejected("signed messages must carry a Destination")
    elif destination not in destinations:
        raise RequestRejected("Destination is not this endpoint")
    return message_id


@dataclass
class AuthnRequest:
    request_id: str
    acs_url: str
    force_authn: bool
    is_passive: bool
    nameid_format: str
    relay_state: str
    require_mfa: bool = False  # RequestedAuthnContext asked for REFEDS MFA


def read_authn_request(incoming: Incoming, sp: ServiceProvider, *, request_id: str) -> AuthnRequest:
    """ACS from the SP's registration (by URL or index); NameIDPolicy against the SP's format."""
    root = incoming.root
    acs_url_asked = root.get("AssertionConsumerServiceURL")
    acs_index = root.get("AssertionConsumerServiceIndex")
    binding = root.get("ProtocolBinding")
    acs = select_acs(sp, url=acs_url_asked, index=acs_index)
    if acs is None:
        raise RequestRejected("AssertionConsumerService not registered for this service provider")
    if binding is not None and binding != BINDING_POST:
        raise RequestFailed(STATUS_REQUESTER, "only the HTTP-POST binding is supported", STATUS_UNSUPPORTED_BINDING)
    policy = root.find(SAMLP + "NameIDPolicy")
    fmt = (policy.get("Format") if policy is not None else None) or NAMEID_UNSPECIFIED
    if fmt not in (NAMEID_UNSPECIFIED, sp.nameid_format):
        raise RequestFailed(
            STATUS_REQUESTER, "NameID format not offered to this service provider", STATUS_INVALID_NAMEID_POLICY
        )
    requested = root.find(SAMLP + "RequestedAuthnContext")
    require_mfa = False
    if requested is not None:
        refs = {text(el) for el in requested.findall(SAML + "AuthnContextClassRef")}
        comparison = requested.get("Comparison") or "exact"
        # REFEDS MFA asked for (exactly, or as the minimum) and no password context accepted:
        # the login journey steps up (idp.flow.stepup) and the answer must then be MFA.
        require_mfa = comparison in ("exact", "minimum") and AC_MFA in refs and not refs & AC_SATISFIED
        if not require_mfa and (
            comparison == "better" or (comparison in ("exact", "minimum") and refs and not refs & AC_SATISFIED)
        ):
            raise RequestFailed(
                STATUS_RESPONDER, "the requested authentication context is not available", STATUS_NO_AUTHN_CONTEXT
            )
    return AuthnRequest(
        request_id=request_id,
        acs_url=acs,
        force_authn=root.get("ForceAuthn") in ("true", "1"),
        is_passive=root.get("IsPassive") in ("true", "1"),
        nameid_format=sp.nameid_format,
        relay_state=incoming.relay_state,
        require_mfa=require_mfa,
    )


def select_acs(sp: ServiceProvider, *, url: str | None = None, index: str | None = None) -> str | None:
    endpoints = [a for a in (sp.acs or []) if isinstance(a, dict) and a.get("binding", BINDING_POST) == BINDING_POST]
    if url is not None:
        return next((a["url"] for a in endpoints if a.get("url") == url), None)
    if index is not None:
        return next((a["url"] for a in endpoints if str(a.get("index")) == index), None)
    if not endpoints:
        return None
    default = next((a for a in endpoints if a.get("default")), None)
    chosen = default or min(endpoints, key=lambda a: int(a.get("index") or 0))
    return str(chosen["url"])


# --- outgoing --------------------------------------------------------------------------------
@dataclass
class Subject:
    name_id: str
    format: str


def name_id_for(*, sp: ServiceProvider, user: Any, fmt: str) -> Subject:
    if fmt == NAMEID_EMAIL and user.email:
        return Subject(user.email, NAMEID_EMAIL)
    if fmt == NAMEID_PERSISTENT:
        # CANOPY_SAML_PERSISTENT_ID_KEY keeps persistent NameIDs stable across SECRET_KEY rotations.
        secret = (os.environ.get("CANOPY_SAML_PERSISTENT_ID_KEY") or settings.SECRET_KEY).encode()
        digest = hmac.new(secret, f"saml-persistent|{sp.tenant_id}|{sp.entity_id}|{user.pk}".encode(), hashlib.sha256)
        return Subject(digest.hexdigest(), NAMEID_PERSISTENT)
    if fmt == NAMEID_TRANSIENT:
        return Subject("_" + secrets.token_hex(16), NAMEID_TRANSIENT)
    return Subject(user.username, NAMEID_UNSPECIFIED)


@dataclass
class Issued:
    """What a successful response asserted (kept in the session for logout)."""

    name_id: str
    name_id_format: str
    session_index: str
    extra: dict[str, Any] = field(default_factory=dict)


def _sub(parent: etree._Element, tag: str, value: str | None = None, **attrs: str | None) -> etree._Element:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if value is not None:
        el.text = value
    return el


def _response_root(*, tag: str, issuer: str, destination: str, in_response_to: str | None) -> etree._Element:
    attrs = {"ID": new_id(), "Version": "2.0", "IssueInstant": instant(now()), "Destination": destination}
    if in_response_to:
        attrs["InResponseTo"] = in_response_to
    root = etree.Element(tag, attrs, nsmap={"samlp": NS["samlp"], "saml": NS["saml"]})
    _sub(root, SAML + "Issuer", issuer)
    return root


def _status(root: etree._Element, code: str, sub_code: str = "", message: str = "") -> None:
    status = _sub(root, SAMLP + "Status")
    top = _sub(status, SAMLP + "StatusCode", Value=code)
    if sub_code:
        _sub(top, SAMLP + "StatusCode", Value=sub_code)
    if message:
        _sub(status, SAMLP + "StatusMessage", message)


def build_response(
    *,
    issuer: str,
    sp: ServiceProvider,
    acs_url: str,
    in_response_to: str | None,
    subject: Subject,
    attributes: list[tuple[str, str, list[str]]],
    auth_instant: datetime.datetime,
    session_index: str,
    authn_context: str = AC_PASSWORD_PROTECTED,
    authenticating_authority: str = "",
) -> tuple[etree._Element, etree._Element]:
    """An unsigned Response with one Assertion; returns (response, assertion)."""
    issued = now()
    response = _response_root(tag=SAMLP + "Response", issuer=issuer, destination=acs_url, in_response_to=in_response_to)
    _status(response, STATUS_SUCCESS)
    assertion = _sub(response, SAML + "Assertion", ID=new_id(), Version="2.0", IssueInstant=instant(issued))
    _sub(assertion, SAML + "Issuer", issuer)
    subj = _sub(assertion, SAML + "Subject")
    _sub(subj, SAML + "NameID", subject.name_id, Format=subject.format, SPNameQualifier=sp.entity_id)
    confirmation = _sub(subj, SAML + "SubjectConfirmation", Method=BEARER)
    _sub(
        confirmation,
        SAML + "SubjectConfirmationData",
        NotOnOrAfter=instant(issued + ASSERTION_LIFETIME),
        Recipient=acs_url,
        InResponseTo=in_response_to,
    )
    conditions = _sub(
        assertion,
        SAML + "Conditions",
        NotBefore=instant(issued - datetime.timedelta(seconds=30)),
        NotOnOrAfter=instant(issued + ASSERTION_LIFETIME),
    )
    _sub(_sub(conditions, SAML + "AudienceRestriction"), SAML + "Audience", sp.entity_id)
    statement = _sub(assertion, SAML + "AuthnStatement", AuthnInstant=instant(auth_instant), SessionIndex=session_index)
    context = _sub(statement, SAML + "AuthnContext")
    _sub(context, SAML + "AuthnContextClassRef", authn_context)
    if authenticating_authority:  # a federated sign-in: the upstream IdP that authenticated the user
        _sub(context, SAML + "AuthenticatingAuthority", authenticating_authority)
    if attributes:
        attr_statement = _sub(assertion, SAML + "AttributeStatement")
        for name, friendly, values in attributes:
            attribute = _sub(
                attr_statement, SAML + "Attribute", Name=name, NameFormat=ATTRNAME_BASIC, FriendlyName=friendly
            )
            for value in values:
                el = etree.SubElement(attribute, SAML + "AttributeValue", nsmap={"xs": NS["xs"], "xsi": NS["xsi"]})
                el.set("{{{}}}type".format(NS["xsi"]), "xs:string")
                el.text = value
    return response, assertion


def build_error_response(
    *, issuer: str, acs_url: str, in_response_to: str | None, status: str, sub_status: str = "", message: str = ""
) -> etree._Element:
    response = _response_root(tag=SAMLP + "Response", issuer=issuer, destination=acs_url, in_response_to=in_response_to)
    _status(response, status, sub_status, message)
    return response


def build_logout_response(
    *, issuer: str, destination: str, in_response_to: str, status: str = STATUS_SUCCESS, sub_status: str = ""
) -> etree._Element:
    response = _response_root(
        tag=SAMLP + "LogoutResponse", issuer=issuer, destination=destination, in_response_to=in_response_to
    )
    _status(response, status, sub_status)
    return response


def build_logout_request(
    *, issuer: str, destination: str, name_id: str, name_id_format: str, sp_entity_id: str, session_index: str
) -> etree._Element:
    """A LogoutRequest to another SP of the session (propagated single logout)."""
    request = _response_root(tag=SAMLP + "LogoutRequest", issuer=issuer, destination=destination, in_response_to=None)
    _sub(request, SAML + "NameID", name_id, Format=name_id_format, SPNameQualifier=sp_entity_id)
    if session_index:
        _sub(request, SAMLP + "SessionIndex", session_index)
    return request


def status_code(root: etree._Element) -> str:
    code = root.find(f"{SAMLP}Status/{SAMLP}StatusCode")
    return (code.get("Value") or "") if code is not None else ""


def build_metadata(
    *,
    entity_id: str,
    certificate_b64: str,
    sso_redirect: str,
    sso_post: str,
    slo_redirect: str,
    slo_post: str,
    other_certificates: list[str] | None = None,
) -> etree._Element:
    """The IdP's EntityDescriptor; ``other_certificates``: the next and previous signing certificates."""
    root = etree.Element(
        MD + "EntityDescriptor",
        {"entityID": entity_id, "ID": new_id()},
        nsmap={"md": NS["md"], "ds": NS["ds"], "saml": NS["saml"]},
    )
    idp = _sub(
        root,
        MD + "IDPSSODescriptor",
        WantAuthnRequestsSigned="false",
        protocolSupportEnumeration=NS["samlp"],
    )
    for cert in [certificate_b64, *(other_certificates or [])]:
        key = _sub(idp, MD + "KeyDescriptor", use="signing")
        info = _sub(key, "{{{}}}KeyInfo".format(NS["ds"]))
        _sub(_sub(info, "{{{}}}X509Data".format(NS["ds"])), "{{{}}}X509Certificate".format(NS["ds"]), cert)
    for binding, location in ((BINDING_REDIRECT, slo_redirect), (BINDING_POST, slo_post)):
        _sub(idp, MD + "SingleLogoutService", Binding=binding, Location=location)
    for fmt in (NAMEID_EMAIL, NAMEID_PERSISTENT, NAMEID_TRANSIENT, NAMEID_UNSPECIFIED):
        _sub(idp, MD + "NameIDFormat", fmt)
    for binding, location in ((BINDING_REDIRECT, sso_redirect), (BINDING_POST, sso_post)):
        _sub(idp, MD + "SingleSignOnService", Binding=binding, Location=location)
    return root


# --- SP metadata ------------------------------------------------------------------------------
@dataclass
class SpMetadata:
    entity_id: str
    acs: list[dict[str, Any]]
    slo: list[dict[str, Any]]
    signing_certificates: list[str]
    encryption_certificate: str
    nameid_formats: list[str]
    authn_requests_signed: bool


def read_sp_metadata(data: bytes) -> SpMetadata:
    """An SP's EntityDescriptor (or the first SP in an EntitiesDescriptor)."""

    root = parse(data, limit=MAX_METADATA_BYTES)
    entity = root if root.tag == MD + "EntityDescriptor" else None
    if entity is None and root.tag == MD + "EntitiesDescriptor":
        entity = next(
            (e for e in root.iter(MD + "EntityDescriptor") if e.find(MD + "SPSSODescriptor") is not None), None
        )
    if entity is None:
        raise XMLRejected("no EntityDescriptor")
    descriptor = entity.find(MD + "SPSSODescriptor")
    if descriptor is None:
        raise XMLRejected("no SPSSODescriptor")
    acs = [
        {
            "url": el.get("Location", ""),
            "binding": el.get("Binding", ""),
            "index": int(el.get("index") or 0),
            "default": el.get("isDefault") in ("true", "1"),
        }
        for el in descriptor.findall(MD + "AssertionConsumerService")
    ]
    slo = [
        {
            "url": el.get("Location", ""),
            "binding": el.get("Binding", ""),
            "response_url": el.get("ResponseLocation", ""),
        }
        for el in descriptor.findall(MD + "SingleLogoutService")
    ]
    signing: list[str] = []
    encryption = ""
    for key in descriptor.findall(MD + "KeyDescriptor"):
        cert = text(key.find(".//{{{}}}X509Certificate".format(NS["ds"])))
        if not cert:
            continue
        pem = crypto.pem(crypto.load_certificate(cert))
        use = key.get("use")
        if use in (None, "signing") and pem not in signing:
            signing.append(pem)
        if use in (None, "encryption") and not encryption:
            encryption = pem
    return SpMetadata(
        entity_id=entity.get("entityID", ""),
        acs=acs,
        slo=slo,
        signing_certificates=signing,
        encryption_certificate=encryption,
        nameid_formats=[text(el) for el in descriptor.findall(MD + "NameIDFormat")],
        authn_requests_signed=descriptor.get("AuthnRequestsSigned") in ("true", "1"),
    )
