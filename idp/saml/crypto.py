"""Keys, the IdP certificate, XML signatures (two backends) and signature checks.

**Certificate.** SAML metadata publishes an X.509 certificate, and Canopy's tenant keys are
bare RS256 keys. The certificate is derived *deterministically* from the active RS256 key:
self-signed, subject/issuer ``CN=<tenant slug> SAML IdP``, serial from the SHA-256 of the kid,
valid from the key's creation (seconds) for ten years, signed with RSA PKCS#1 v1.5/SHA-256
(deterministic). Every process derives byte-identical PEM, so nothing is stored; a key
rotation yields a new certificate. Rollover (``idp_keys``): after a rotation the new key is
published in the metadata for ``CANOPY_SAML_NEXT_KEY_HOURS`` (default half the retention)
while the previous one still signs; then the new key signs and the previous certificate stays
published until the retired key is pruned. SPs that refresh metadata keep validating.

**Signing backends.** ``xmlsec`` (python-xmlsec, in-process) when importable, else the
``xmlsec1`` subprocess through pysaml2's ``CryptoBackendXmlSec1``. ``CANOPY_SAML_SIGNING_BACKEND``
(``auto`` | ``xmlsec`` | ``xmlsec1``) forces one. Both sign the same template: enveloped,
exclusive C14N, RSA-SHA256, SHA-256 digest, ``Reference URI="#<ID>"``, certificate in KeyInfo.

**Verification** (AuthnRequest / LogoutRequest) uses keys from the SP's registration only,
and first checks the shape SAML narrows XML-DSig to: one Signature, a direct child of the
root, one Reference to the root's ID, transforms ⊆ {enveloped, exc-c14n}, SHA-256/512 only,
unique IDs. HTTP-Redirect signatures are checked over the raw query octets.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import importlib
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.utils import timezone
from lxml import etree
from saml2.sigver import CryptoBackendXmlSec1

from idp.saml.xml import DS, NS, SAML, parse
from tenants.keys import load_private_key, overlap_keys
from tenants.models import SigningKey, Tenant

C14N_EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
RSA_SHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
SHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
ALLOWED_SIG_ALGS: dict[str, type[hashes.SHA256] | type[hashes.SHA512]] = {
    RSA_SHA256: hashes.SHA256,
    RSA_SHA512: hashes.SHA512,
    ECDSA_SHA256: hashes.SHA256,
}
ALLOWED_DIGESTS = {SHA256, SHA512}
ALLOWED_TRANSFORMS = {ENVELOPED, C14N_EXC}
CERT_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class IdpKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    certificate_pem: str  # PEM
    certificate_b64: str  # the base64 body, as KeyInfo and metadata carry it


def _serial(kid: str) -> int:
    return int.from_bytes(hashlib.sha256(kid.encode()).digest()[:16], "big") >> 1 | 1


@functools.lru_cache(maxsize=128)
def _derive(kid: str, encrypted: str, created: int, slug: str) -> IdpKey:
    key = load_private_key(kid, encrypted)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("SAML signing needs an RSA key")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{slug} SAML IdP"[:64])])
    start = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(_serial(kid))
        .not_valid_before(start)
        .not_valid_after(start + CERT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    return IdpKey(kid=kid, private_key=key, certificate_pem=pem, certificate_b64=body)


KEY_CACHE_SECONDS = 30  # as for OIDC tokens: a rotation reaches every process within this


@dataclass(frozen=True)
class IdpKeys:
    """The key that signs now and every certificate the metadata publishes (signing one first)."""

    signing: IdpKey
    published: list[IdpKey]


_active: dict[tuple[int, Any], tuple[float, IdpKeys]] = {}


def next_key_publication() -> datetime.timedelta:
    """How long a new key is published before SAML signs with it (and the old one kept after).

    ``CANOPY_SAML_NEXT_KEY_HOURS`` (setting or environment); by default half the retention of
    retired keys, so the previous certificate stays published as long after the switch.
    """
    hours = getattr(settings, "CANOPY_SAML_NEXT_KEY_HOURS", None)
    if hours is None:
        hours = os.environ.get("CANOPY_SAML_NEXT_KEY_HOURS") or None
    if hours is None:  # 0 is allowed: the new key signs at once
        return datetime.timedelta(hours=settings.CANOPY_SIGNING_KEY_RETENTION_HOURS / 2)
    return datetime.timedelta(hours=float(hours))


def idp_keys(tenant: Tenant) -> IdpKeys:
    """The tenant's RS256 keys as SAML uses them, with rotation overlap (tenants.keys.overlap_keys).

    Looked up at most every 30 s per process (sooner when the next key is about to sign).
    """
    now = time.monotonic()
    slot = (tenant.pk, tenant.created_at)  # a re-created tenant never reuses a cached key
    cached = _active.get(slot)
    if cached is not None and cached[0] > now:
        return cached[1]
    wall = timezone.now()
    cutoff = wall - datetime.timedelta(hours=settings.CANOPY_SIGNING_KEY_RETENTION_HOURS)
    rows = list(
        SigningKey.objects.filter(tenant=tenant, algorithm=SigningKey.Algorithm.RS256)
        .exclude(status=SigningKey.Status.RETIRED, retired_at__lt=cutoff)
        .only("kid", "status", "private_key_encrypted", "created_at")
    )
    publish_for = next_key_publication()
    overlap = overlap_keys(rows, now=wall, publish_for=publish_for)

    def derived(row: SigningKey) -> IdpKey:
        return _derive(row.kid, row.private_key_encrypted, int(row.created_at.timestamp()), tenant.slug)

    keys = IdpKeys(signing=derived(overlap.signing), published=[derived(r) for r in overlap.published])
    ttl = float(KEY_CACHE_SECONDS)
    if overlap.next_key is not None:  # re-read when the next key starts signing
        ttl = max(0.0, min(ttl, (overlap.next_key.created_at + publish_for - wall).total_seconds()))
    _active[slot] = (now + ttl, keys)
    return keys


def idp_key(tenant: Tenant) -> IdpKey:
    """The key SAML signs with now, and its derived certificate."""
    return idp_keys(tenant).signing


def forget_cached_keys() -> None:
    _active.clear()


# --- signing ----------------------------------------------------------------------------------
def signature_template(node: etree._Element) -> etree._Element:
    """Insert an empty enveloped signature right after the node's Issuer (schema order)."""
    sig = etree.Element(DS + "Signature", nsmap={"ds": NS["ds"]})
    info = etree.SubElement(sig, DS + "SignedInfo")
    etree.SubElement(info, DS + "CanonicalizationMethod", Algorithm=C14N_EXC)
    etree.SubElement(info, DS + "SignatureMethod", Algorithm=RSA_SHA256)
    ref = etree.SubElement(info, DS + "Reference", URI="#" + node.get("ID", ""))
    transforms = etree.SubElement(ref, DS + "Transforms")
    etree.SubElement(transforms, DS + "Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, DS + "Transform", Algorithm=C14N_EXC)
    etree.SubElement(ref, DS + "DigestMethod", Algorithm=SHA256)
    etree.SubElement(ref, DS + "DigestValue")
    etree.SubElement(sig, DS + "SignatureValue")
    data = etree.SubElement(etree.SubElement(sig, DS + "KeyInfo"), DS + "X509Data")
    etree.SubElement(data, DS + "X509Certificate")
    issuer = node.find(SAML + "Issuer")
    if issuer is not None:
        issuer.addnext(sig)
    else:
        node.insert(0, sig)
    return sig


class XmlsecBackend:
    """python-xmlsec (libxmlsec1 in-process)."""

    name = "xmlsec"

    def __init__(self) -> None:
        self.xmlsec = xmlsec_module()
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _key(self, key: IdpKey) -> Any:
        found = self._keys.get(key.kid)
        if found is None:
            pem = key.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            found = self.xmlsec.Key.from_memory(pem, self.xmlsec.KeyFormat.PEM)
            with self._lock:
                self._keys[key.kid] = found
        return found

    def sign(self, root: etree._Element, nodes: list[etree._Element], key: IdpKey) -> etree._Element:
        """Sign each node in order (inner first); returns the root."""
        for node in nodes:
            sig = signature_template(node)
            sig.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate").text = key.certificate_b64  # type: ignore[union-attr]
            ctx = self.xmlsec.SignatureContext()
            ctx.register_id(node, "ID")
            ctx.key = self._key(key)
            ctx.sign(sig)
        return root


class Xmlsec1Backend:
    """The ``xmlsec1`` binary, one subprocess per signature (pysaml2's CryptoBackendXmlSec1)."""

    name = "xmlsec1"

    def __init__(self) -> None:

        self.backend = CryptoBackendXmlSec1(getattr(settings, "CANOPY_XMLSEC1", "/usr/bin/xmlsec1"))
        self._dir = tempfile.mkdtemp(prefix="canopy-saml-keys-")  # 0700
        self._files: dict[str, str] = {}
        self._lock = threading.Lock()

    def _key_file(self, key: IdpKey) -> str:
        path = self._files.get(key.kid)
        if path is None:
            pem = key.private_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
            )
            path = os.path.join(self._dir, hashlib.sha256(key.kid.encode()).hexdigest() + ".pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
            with self._lock:
                self._files[key.kid] = path
        return path

    def sign(self, root: etree._Element, nodes: list[etree._Element], key: IdpKey) -> etree._Element:

        for node in nodes:
            sig = signature_template(node)
            sig.find(f"{DS}KeyInfo/{DS}X509Data/{DS}X509Certificate").text = key.certificate_b64  # type: ignore[union-attr]
        # Sign in the order given (inner first): xmlsec1 signs the first template under --node-id.
        xml = etree.tostring(root, encoding="unicode")
        for node in nodes:
            xml = self.backend.sign_statement(
                xml, f"{etree.QName(node).namespace}:{etree.QName(node).localname}", self._key_file(key), node.get("ID")
            )
        return parse(xml.encode("utf-8"))


_backends: dict[str, Any] = {}


def backend(name: str | None = None) -> XmlsecBackend | Xmlsec1Backend:
    choice = (
        name
        or os.environ.get("CANOPY_SAML_SIGNING_BACKEND")
        or getattr(settings, "CANOPY_SAML_SIGNING_BACKEND", "auto")
    )
    if choice == "auto":
        try:
            import xmlsec  # noqa: F401, PLC0415 - probing an optional binding
        except ImportError:
            choice = "xmlsec1"
        else:
            choice = "xmlsec"
    choice = str(choice)
    if choice not in _backends:
        _backends[choice] = XmlsecBackend() if choice == "xmlsec" else Xmlsec1Backend()
    found: XmlsecBackend | Xmlsec1Backend = _backends[choice]
    return found


# --- verification ---------------------------------------------------------------------------
class SignatureInvalid(ValueError):
    pass


def load_certificate(pem_or_b64: str) -> x509.Certificate:
    text = pem_or_b64.strip()
    if "-----BEGIN" not in text:
        body = "".join(text.split())
        text = "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        text += "\n-----END CERTIFICATE-----\n"
    return x509.load_pem_x509_certificate(text.encode("ascii"))


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def check_signature_shape(root: etree._Element) -> etree._Element | None:
    """The root's enveloped signature if there is one and it has SAML's narrow shape; raise if malformed.

    None when the document carries no signature at all.
    """
    signatures = root.findall(f".//{DS}Signature")
    if not signatures:
        return None
    if len(signatures) != 1 or signatures[0].getparent() is not root:
        raise SignatureInvalid("exactly one signature, enveloped in the message, is accepted")
    sig = signatures[0]
    ids = [el.get("ID") for el in root.iter() if isinstance(el.tag, str) and el.get("ID") is not None]
    if len(ids) != len(set(ids)):
        raise SignatureInvalid("duplicate ID attributes")
    info = sig.find(DS + "SignedInfo")
    if info is None:
        raise SignatureInvalid("no SignedInfo")
    c14n = info.find(DS + "CanonicalizationMethod")
    method = info.find(DS + "SignatureMethod")
    refs = info.findall(DS + "Reference")
    if c14n is None or c14n.get("Algorithm") != C14N_EXC:
        raise SignatureInvalid("canonicalization must be exclusive C14N")
    if method is None or method.get("Algorithm") not in ALLOWED_SIG_ALGS:
        raise SignatureInvalid("signature algorithm not allowed (RSA-SHA256/512, ECDSA-SHA256)")
    if len(refs) != 1 or refs[0].get("URI") != "#" + (root.get("ID") or "\0"):
        raise SignatureInvalid("the signature must reference the message itself")
    for transform in refs[0].findall(f"{DS}Transforms/{DS}Transform"):
        if transform.get("Algorithm") not in ALLOWED_TRANSFORMS or len(transform):
            raise SignatureInvalid("transform not allowed")
    digest = refs[0].find(DS + "DigestMethod")
    if digest is None or digest.get("Algorithm") not in ALLOWED_DIGESTS:
        raise SignatureInvalid("digest algorithm not allowed")
    return sig


def xmlsec_module() -> Any:
    """python-xmlsec, typed loosely (its stubs lack most of the API)."""
    return importlib.import_module("xmlsec")


def verify_enveloped(root: etree._Element, sig: etree._Element, certificates: list[str]) -> None:
    """Verify with each registered certificate in turn; KeyInfo in the message is never used."""
    xmlsec = xmlsec_module()

    for cert in certificates:
        try:
            key = xmlsec.Key.from_memory(pem(load_certificate(cert)).encode(), xmlsec.KeyFormat.CERT_PEM)
        except (ValueError, xmlsec.Error):
            continue
        ctx = xmlsec.SignatureContext()
        ctx.register_id(root, "ID")
        ctx.key = key
        try:
            ctx.verify(sig)
        except xmlsec.Error:
            continue
        return
    raise SignatureInvalid("signature does not verify with the SP's registered certificates")


def verify_raw(*, data: bytes, signature: bytes, sig_alg: str, certificates: list[str]) -> None:
    """An HTTP-Redirect binding signature over the raw query octets."""
    algorithm = ALLOWED_SIG_ALGS.get(sig_alg)
    if algorithm is None:
        raise SignatureInvalid("signature algorithm not allowed (RSA-SHA256/512, ECDSA-SHA256)")
    for cert in certificates:
        try:
            public = load_certificate(cert).public_key()
        except ValueError:
            continue
        try:
            if isinstance(public, rsa.RSAPublicKey) and sig_alg != ECDSA_SHA256:
                public.verify(signature, data, padding.PKCS1v15(), algorithm())
                return
            if isinstance(public, ec.EllipticCurvePublicKey) and sig_alg == ECDSA_SHA256:
                public.verify(signature, data, ec.ECDSA(algorithm()))
                return
        except InvalidSignature:
            continue
    raise SignatureInvalid("signature does not verify with the SP's registered certificates")


def sign_raw(key: IdpKey, data: bytes) -> bytes:
    return key.private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
