"""Assertion encryption (optional per SP): AES-256-GCM content key, RSA-OAEP key transport.

The assertion is signed first (when the SP wants signed assertions), then replaced by an
``EncryptedAssertion``; the Response signature, if any, covers the encrypted form.
"""

from __future__ import annotations

from lxml import etree

from idp.saml import crypto
from idp.saml.xml import NS, SAML


def encrypt_assertion(response: etree._Element, certificate_pem: str) -> None:
    xmlsec = crypto.xmlsec_module()
    assertion = response.find(SAML + "Assertion")
    if assertion is None:
        return
    cert = crypto.pem(crypto.load_certificate(certificate_pem)).encode()
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(cert, xmlsec.KeyFormat.CERT_PEM))
    template = xmlsec.template.encrypted_data_create(
        response, xmlsec.Transform.AES256_GCM, type=xmlsec.EncryptionType.ELEMENT, ns="xenc"
    )
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="ds")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.Transform.RSA_OAEP)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    ctx = xmlsec.EncryptionContext(manager)
    ctx.key = xmlsec.Key.generate(xmlsec.KeyData.AES, 256, xmlsec.KeyDataType.SESSION)
    wrapper = etree.Element(SAML + "EncryptedAssertion", nsmap={"saml": NS["saml"]})
    assertion.addprevious(wrapper)
    wrapper.append(assertion)
    encrypted = ctx.encrypt_xml(template, assertion)
    if encrypted.getparent() is not wrapper:  # encrypt_xml replaces the node in place
        wrapper.append(encrypted)
