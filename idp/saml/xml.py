"""Hardened XML in and out: every incoming document passes :func:`parse` before anything else.

A DOCTYPE (so any entity, external or not) is refused by defusedxml first; the lxml
parse that follows loads no DTD, resolves no entity, touches no network and drops
comments (exclusive C14N ignores them, so signatures are unaffected, and no identity
value can be split by one: CVE-2017-11427).
"""

from __future__ import annotations

import base64
import binascii
import zlib

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as DefusedET
from lxml import etree

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xenc": "http://www.w3.org/2001/04/xmlenc#",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
SAMLP = "{{{}}}".format(NS["samlp"])
SAML = "{{{}}}".format(NS["saml"])
MD = "{{{}}}".format(NS["md"])
DS = "{{{}}}".format(NS["ds"])

MAX_MESSAGE_BYTES = 256 * 1024  # a SAML request is a few KB; cap encoded and inflated sizes
MAX_METADATA_BYTES = 2 * 1024 * 1024


class XMLRejected(ValueError):
    """The message is not acceptable XML (DTD, entities, malformed, too large)."""


_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse(data: bytes, *, limit: int = MAX_MESSAGE_BYTES) -> etree._Element:
    if len(data) > limit:
        raise XMLRejected("message too large")
    try:
        DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XMLRejected(f"forbidden XML construct: {type(exc).__name__}") from exc
    except Exception as exc:  # noqa: BLE001 - any parse error is a rejection
        raise XMLRejected("malformed XML") from exc
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise XMLRejected("malformed XML") from exc
    if root.getroottree().docinfo.doctype:
        raise XMLRejected("forbidden XML construct: DTD")
    return root


def b64decode(value: str) -> bytes:
    if len(value) > MAX_MESSAGE_BYTES * 2:
        raise XMLRejected("message too large")
    try:
        return base64.b64decode(value.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise XMLRejected("not base64") from exc


def inflate(data: bytes) -> bytes:
    """DEFLATE (HTTP-Redirect binding) with a cap on the inflated size (no deflate bombs)."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, MAX_MESSAGE_BYTES + 1)
    except zlib.error as exc:
        raise XMLRejected("not DEFLATE data") from exc
    if len(out) > MAX_MESSAGE_BYTES or inflater.unconsumed_tail:
        raise XMLRejected("message too large")
    return out


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def text(node: etree._Element | None) -> str:
    """All text of a node (comments were dropped at parse time)."""
    if node is None:
        return ""
    return "".join(node.itertext()).strip()


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=False, encoding="utf-8")
