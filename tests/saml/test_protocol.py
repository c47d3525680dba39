"""SAML Web SSO against Canopy's IdP, driven by an independent SP (python3-saml) through Django's test client.

Positive paths (bindings, organization selection, NameID formats, encryption, both signing
backends, SLO) and the negatives of issue 4 and SECURITY-CATALOG §3: each refusal is a SAML
error status or an error page, and never an assertion.
"""

from __future__ import annotations

import base64
import io
import re
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from idp.saml.models import ServiceProvider
from orgs.tree.models import Organization
from tenants.models import Tenant, User
from tests.support.saml import (
    BASE,
    ORG_ATTRIBUTES,
    SP_ENTITY,
    SSO_REDIRECT,
    acs_receive,
    form_fields,
    keypair,
    login_url,
    path_and_query,
    post_request_xml,
    post_sso,
    response_xml,
    saml_status,
    signed_in,
    sp_metadata,
    sp_request,
    sp_settings,
)

pytestmark = pytest.mark.django_db


def assert_no_assertion(response: Any) -> None:
    body = response.content.decode()
    if "SAMLResponse" in body:
        _, post = form_fields(body)
        assert "Assertion" not in response_xml(post)
    else:
        assert response.status_code in (400, 403), response.status_code


def assert_error_page(response: Any, text: str = "") -> None:
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert b"SAMLResponse" not in response.content
    if text:
        assert text in response.content.decode()


def acme(tenant: Tenant) -> Organization:
    return Organization.objects.get(tenant=tenant, identifier="acme-bank")


# --- positive paths ---------------------------------------------------------------------------
def test_redirect_binding_signed_request_organization_parameter(idp: dict) -> None:
    url, request_id = login_url(idp["sp"])
    response = signed_in("alice", idp["tenant"]).get(url + "&organization=acme-bank")
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    action, post = form_fields(response.content.decode())
    assert action == "http://127.0.0.1:8766/acs" and post["RelayState"] == "relay-123"
    auth = acs_receive(idp["sp"], post, request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.get_nameid() == "alice@acme.example"
    attrs = auth.get_attributes()
    org = acme(idp["tenant"])
    americas = Organization.objects.get(identifier="mightybank-americas")
    assert attrs["org_id"] == [str(org.pk)] and attrs["org_name"] == ["acme-bank"]
    assert sorted(attrs["org_ids"]) == sorted([str(org.pk), str(americas.pk)])
    assert sorted(attrs["org_names"]) == ["acme-bank", "mightybank-americas"]
    assert attrs["org_acting_for"] == []  # present, no value: not acting for anyone
    assert set(ORG_ATTRIBUTES) <= set(auth.get_friendlyname_attributes())
    assert attrs["email"] == ["alice@acme.example"] and attrs["username"] == ["alice"]


def test_response_conditions_are_exact(idp: dict) -> None:
    url, request_id = login_url(idp["sp"])
    response = signed_in("bob", idp["tenant"]).get(url)
    xml = response_xml(form_fields(response.content.decode())[1])
    assert f'InResponseTo="{request_id}"' in xml
    assert 'Destination="http://127.0.0.1:8766/acs"' in xml and 'Recipient="http://127.0.0.1:8766/acs"' in xml
    assert f"<saml:Audience>{SP_ENTITY}</saml:Audience>" in xml
    assert len(re.findall(r"<ds:Signature[ >]", xml)) == 2  # response and assertion (both default on)
    assert 'Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"' in xml and "NotOnOrAfter=" in xml
    assert "PasswordProtectedTransport" in xml


def test_signatures_cover_exactly_the_assertion_and_response_sent(idp: dict) -> None:
    """XSW invariant on what we emit: one Assertion, each signature references its own parent's ID."""
    from lxml import etree

    url, _ = login_url(idp["sp"])
    xml = response_xml(form_fields(signed_in("bob", idp["tenant"]).get(url).content.decode())[1])
    root = etree.fromstring(xml.encode())
    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#", "saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
    assertions = root.findall(".//saml:Assertion", ns)
    signatures = root.findall(".//ds:Signature", ns)
    assert len(assertions) == 1 and len(signatures) == 2
    for sig in signatures:
        refs = sig.findall("ds:SignedInfo/ds:Reference", ns)
        assert len(refs) == 1 and refs[0].get("URI") == "#" + sig.getparent().get("ID")
        transforms = {t.get("Algorithm") for t in refs[0].findall("ds:Transforms/ds:Transform", ns)}
        assert transforms == {
            "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
            "http://www.w3.org/2001/10/xml-exc-c14n#",
        }
    assert {sig.getparent() for sig in signatures} == {root, assertions[0]}


def test_post_binding_signed_request_single_organization_silent(idp: dict) -> None:
    xml, request_id = post_request_xml(idp["sp"])
    response = post_sso(signed_in("bob", idp["tenant"]), xml)
    action, post = form_fields(response.content.decode())
    assert post["RelayState"] == "relay-post"
    auth = acs_receive(idp["sp"], post, request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    mexbanco = Organization.objects.get(identifier="mexbanco")
    assert auth.get_attributes()["org_id"] == [str(mexbanco.pk)]


def test_picker_after_authentication_then_response(idp: dict) -> None:
    client = signed_in("alice", idp["tenant"])
    url, request_id = login_url(idp["sp"])
    picker = client.get(url)
    assert picker.status_code == 302 and "/select-organization/" in picker["Location"]
    pick = parse_qs(urlsplit(picker["Location"]).query)["pick"][0]
    back = client.post(picker["Location"], {"pick": pick, "organization": str(acme(idp["tenant"]).pk)})
    assert back.status_code == 303 and "/saml/sso/continue" in back["Location"], back["Location"]
    response = client.get(back["Location"])
    auth = acs_receive(idp["sp"], form_fields(response.content.decode())[1], request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.get_attributes()["org_name"] == ["acme-bank"]
    # the parked request is gone: the continue URL cannot mint a second response
    again = client.get(back["Location"])
    assert_error_page(again)
    assert pick


def test_carol_acts_for_my_corporation(idp: dict) -> None:
    url, request_id = login_url(idp["sp"])
    response = signed_in("carol", idp["tenant"]).get(url + "&organization=my-corporation")
    auth = acs_receive(idp["sp"], form_fields(response.content.decode())[1], request_id)
    contractor = Organization.objects.get(identifier="contractor")
    corp = Organization.objects.get(identifier="my-corporation")
    assert auth.get_attributes()["org_acting_for"] == [str(contractor.pk)]
    assert auth.get_attributes()["org_id"] == [str(corp.pk)]


def test_sp_default_organization(idp: dict) -> None:
    sp = idp["model"]
    sp.default_organization = acme(idp["tenant"])
    sp.save()
    url, request_id = login_url(idp["sp"])
    response = signed_in("alice", idp["tenant"]).get(url)
    auth = acs_receive(idp["sp"], form_fields(response.content.decode())[1], request_id)
    assert auth.get_attributes()["org_name"] == ["acme-bank"]


def test_attribute_names_and_release_are_per_sp(idp: dict) -> None:
    sp = idp["model"]
    sp.attribute_release = ["org_id", "org_name"]
    sp.attribute_names = {"org_id": {"name": "urn:example:org-id", "friendly_name": "orgId"}}
    sp.org_name_source = ServiceProvider.OrgNameSource.DISPLAY_NAME
    sp.save()
    url, request_id = login_url(idp["sp"])
    response = signed_in("alice", idp["tenant"]).get(url + "&organization=acme-bank")
    auth = acs_receive(idp["sp"], form_fields(response.content.decode())[1], request_id)
    assert auth.get_attributes() == {"urn:example:org-id": [str(acme(idp["tenant"]).pk)], "org_name": ["Acme Bank"]}
    assert auth.get_friendlyname_attributes()["orgId"] == [str(acme(idp["tenant"]).pk)]


@pytest.mark.parametrize("fmt", ["persistent", "transient", "unspecified"])
def test_nameid_formats(idp: dict, fmt: str) -> None:
    sp = idp["model"]
    sp.nameid_format = getattr(ServiceProvider.NameIDFormat, fmt.upper())
    sp.save()
    settings = {**idp["sp"], "sp": {**idp["sp"]["sp"], "NameIDFormat": sp.nameid_format}}
    ids = []
    for _ in range(2):
        url, request_id = login_url(settings)
        response = signed_in("bob", idp["tenant"]).get(url)
        auth = acs_receive(settings, form_fields(response.content.decode())[1], request_id)
        assert auth.get_errors() == [], auth.get_last_error_reason()
        assert auth.get_nameid_format() == sp.nameid_format
        ids.append(auth.get_nameid())
    if fmt == "persistent":
        assert ids[0] == ids[1] and "bob" not in ids[0] and len(ids[0]) == 64
    elif fmt == "transient":
        assert ids[0] != ids[1]
    else:
        assert ids == ["bob", "bob"]


def test_encrypted_assertion(idp: dict) -> None:
    sp = idp["model"]
    sp.encryption_certificate = keypair()[1]
    sp.encrypt_assertion = True
    sp.save()
    settings = {**idp["sp"], "security": {**idp["sp"]["security"], "wantAssertionsEncrypted": True}}
    url, request_id = login_url(settings)
    response = signed_in("alice", idp["tenant"]).get(url + "&organization=acme-bank")
    post = form_fields(response.content.decode())[1]
    assert "EncryptedAssertion" in response_xml(post) and "alice@acme.example" not in response_xml(post)
    auth = acs_receive(settings, post, request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert auth.get_nameid() == "alice@acme.example"
    assert auth.get_attributes()["org_name"] == ["acme-bank"]


@pytest.mark.parametrize("backend", ["xmlsec", "xmlsec1"])
def test_both_signing_backends_produce_valid_responses(idp: dict, backend: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("CANOPY_SAML_SIGNING_BACKEND", backend)
    url, request_id = login_url(idp["sp"])
    response = signed_in("bob", idp["tenant"]).get(url)
    auth = acs_receive(idp["sp"], form_fields(response.content.decode())[1], request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()


def test_force_authn_sends_the_user_back_to_the_password(idp: dict) -> None:
    client = signed_in("bob", idp["tenant"], auth_time=int(time.time()) - 60)
    url, _ = login_url(idp["sp"], force_authn=True)
    response = client.get(url)
    assert response.status_code == 302
    assert "/t/mightybank/login/" in response["Location"] and "prompt=login" in response["Location"]
    # the continue URL does not answer until the user has signed in again
    nxt = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    again = client.get(nxt)
    assert again.status_code == 302 and "prompt=login" in again["Location"]


def test_no_session_goes_to_login_and_comes_back(idp: dict) -> None:
    client = Client()
    url, request_id = login_url(idp["sp"])
    response = client.get(url)
    assert response.status_code == 302 and "/t/mightybank/login/" in response["Location"]
    nxt = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    assert nxt.startswith("/t/mightybank/saml/sso/continue?k=")
    bob = User.objects.get(username="bob")
    client.force_login(bob)
    session = client.session
    session["canopy.auth"] = {"tenant_id": bob.tenant_id, "user_id": bob.pk, "auth_time": int(time.time())}
    session.save()
    auth = acs_receive(idp["sp"], form_fields(client.get(nxt).content.decode())[1], request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()


def test_is_passive_without_session_answers_no_passive(idp: dict) -> None:
    url, _ = login_url(idp["sp"], is_passive=True)
    response = Client().get(url)
    post = form_fields(response.content.decode())[1]
    assert saml_status(post) == [
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "urn:oasis:names:tc:SAML:2.0:status:NoPassive",
    ]
    assert "Assertion" not in response_xml(post)


def test_idp_initiated_only_when_enabled(idp: dict) -> None:
    client = signed_in("bob", idp["tenant"])
    url = f"/t/mightybank/saml/sso/init?sp={quote_plus(SP_ENTITY)}&RelayState=home"
    assert_error_page(client.get(url))
    idp["model"].idp_initiated = True
    idp["model"].save()
    response = client.get(url)
    post = form_fields(response.content.decode())[1]
    assert post["RelayState"] == "home"
    auth = acs_receive(idp["sp"], post, None)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    assert "InResponseTo" not in response_xml(post)


def test_slo_round_trip(idp: dict) -> None:
    client = signed_in("bob", idp["tenant"])
    url, request_id = login_url(idp["sp"])
    auth = acs_receive(idp["sp"], form_fields(client.get(url).content.decode())[1], request_id)
    sp = OneLogin_Saml2_Auth(sp_request(path="/logout"), idp["sp"])
    logout = sp.logout(return_to="bye", name_id=auth.get_nameid(), session_index=auth.get_session_index())
    response = client.get(path_and_query(logout))
    assert response.status_code == 302 and response["Location"].startswith("http://127.0.0.1:8766/sls?")
    get = {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}
    assert get["RelayState"] == "bye"
    back = OneLogin_Saml2_Auth(sp_request(get=get, path="/sls"), idp["sp"])
    back.process_slo(request_id=sp.get_last_request_id(), keep_local_session=True)
    assert back.get_errors() == [], back.get_last_error_reason()
    assert "_auth_user_id" not in client.session  # signed out at the IdP


def test_slo_propagates_to_the_other_sps_of_the_session(idp: dict, tmp_path: Path) -> None:
    """SP 1 logs out; the IdP sends a signed LogoutRequest to SP 2, takes its answer, then answers SP 1."""
    second = sp_settings(idp["metadata"], entity_id="http://127.0.0.1:8767/metadata", base="http://127.0.0.1:8767")
    path = tmp_path / "sp2.xml"
    path.write_bytes(sp_metadata(second))
    call_command("add_saml_sp", "--tenant", "mightybank", "--metadata-file", str(path), stdout=io.StringIO())
    client = signed_in("bob", idp["tenant"])
    url, request_id = login_url(idp["sp"])
    first_auth = acs_receive(idp["sp"], form_fields(client.get(url).content.decode())[1], request_id)
    sp2 = OneLogin_Saml2_Auth(sp_request(path="/login", host="127.0.0.1:8767"), second)
    url2 = path_and_query(sp2.login())
    second_auth = acs_receive(
        second, form_fields(client.get(url2).content.decode())[1], sp2.get_last_request_id(), host="127.0.0.1:8767"
    )
    assert first_auth.get_errors() == [] and second_auth.get_errors() == []

    sp1 = OneLogin_Saml2_Auth(sp_request(path="/logout"), idp["sp"])
    logout = sp1.logout(return_to="bye", name_id=first_auth.get_nameid(), session_index=first_auth.get_session_index())
    to_sp2 = client.get(path_and_query(logout))
    assert to_sp2.status_code == 302 and to_sp2["Location"].startswith("http://127.0.0.1:8767/sls?SAMLRequest=")
    assert "_auth_user_id" not in client.session  # signed out at the IdP already
    get = {k: v[0] for k, v in parse_qs(urlsplit(to_sp2["Location"]).query).items()}
    at_sp2 = OneLogin_Saml2_Auth(sp_request(get=get, path="/sls", host="127.0.0.1:8767"), second)
    answer = at_sp2.process_slo(keep_local_session=True)
    assert at_sp2.get_errors() == [], at_sp2.get_last_error_reason()
    assert answer.startswith(f"{BASE}/t/mightybank/saml/slo/redirect?SAMLResponse=")
    to_sp1 = client.get(path_and_query(answer))
    assert to_sp1.status_code == 302 and to_sp1["Location"].startswith("http://127.0.0.1:8766/sls?SAMLResponse=")
    get = {k: v[0] for k, v in parse_qs(urlsplit(to_sp1["Location"]).query).items()}
    assert get["RelayState"] == "bye"
    back = OneLogin_Saml2_Auth(sp_request(get=get, path="/sls"), idp["sp"])
    back.process_slo(request_id=sp1.get_last_request_id(), keep_local_session=True)
    assert back.get_errors() == [], back.get_last_error_reason()
    # the chain is spent: replaying SP 2's answer is refused
    assert_error_page(client.get(path_and_query(answer)), "Unexpected logout response")


# --- negatives --------------------------------------------------------------------------------
def test_unknown_sp_is_an_error_page(idp: dict) -> None:
    settings = sp_settings(idp["metadata"], entity_id="https://stranger.example/sp")
    url, _ = login_url(settings)
    response = signed_in("alice", idp["tenant"]).get(url)
    assert_error_page(response, "not registered")


def test_sp_of_another_tenant_is_unknown_here(idp: dict, world_a: Any) -> None:
    # world_a registered https://tenant-a.example/saml/metadata in tenant-a
    settings = sp_settings(idp["metadata"], entity_id="https://tenant-a.example/saml/metadata", sign_requests=False)
    url, _ = login_url(settings)
    assert_error_page(signed_in("alice", idp["tenant"]).get(url), "not registered")


def test_acs_url_not_in_metadata_is_refused(idp: dict) -> None:
    settings = {**idp["sp"], "sp": {**idp["sp"]["sp"]}}
    settings["sp"]["assertionConsumerService"] = {"url": "https://evil.example/acs", "binding": C.BINDING_HTTP_POST}
    url, _ = login_url(settings)
    response = signed_in("alice", idp["tenant"]).get(url)
    assert_error_page(response, "AssertionConsumerService")
    assert b"evil.example" not in response.content


def test_unsigned_request_refused_where_signing_is_required(idp: dict) -> None:
    assert idp["model"].want_authn_requests_signed  # AuthnRequestsSigned="true" in the SP's metadata
    url, _ = login_url(sp_settings(idp["metadata"], sign_requests=False))
    assert_error_page(signed_in("alice", idp["tenant"]).get(url), "must sign")
    xml, _ = post_request_xml(idp["sp"], sign=False)
    assert_error_page(post_sso(signed_in("alice", idp["tenant"]), xml), "must sign")


def test_bad_signature_redirect_binding(idp: dict) -> None:
    url, _ = login_url(idp["sp"])
    tampered = url.replace("RelayState=relay-123", "RelayState=relay-124")
    assert tampered != url
    assert_error_page(signed_in("alice", idp["tenant"]).get(tampered), "bad signature")


def test_bad_signature_post_binding(idp: dict) -> None:
    xml, _ = post_request_xml(idp["sp"])
    tampered = xml.replace('ForceAuthn="false"', "").replace(
        "<samlp:AuthnRequest ", '<samlp:AuthnRequest IsPassive="true" ', 1
    )
    assert tampered != xml
    assert_error_page(post_sso(signed_in("alice", idp["tenant"]), tampered), "bad signature")


def test_signature_by_another_key_is_refused(idp: dict) -> None:
    settings = {**idp["sp"], "sp": {**idp["sp"]["sp"]}}
    settings["sp"]["privateKey"], settings["sp"]["x509cert"] = keypair("attacker")
    url, _ = login_url(settings)
    assert_error_page(signed_in("alice", idp["tenant"]).get(url), "bad signature")


def test_sha1_signature_is_refused(idp: dict) -> None:
    settings = {**idp["sp"], "security": {**idp["sp"]["security"], "signatureAlgorithm": C.RSA_SHA1}}
    settings["security"]["rejectDeprecatedAlgorithm"] = False
    url, _ = login_url(settings)
    assert_error_page(signed_in("alice", idp["tenant"]).get(url), "not allowed")


def test_replayed_request_id_is_refused(idp: dict) -> None:
    url, _ = login_url(idp["sp"])
    client = signed_in("bob", idp["tenant"])
    assert b"SAMLResponse" in client.get(url).content
    assert_error_page(client.get(url), "already used")
    xml, _ = post_request_xml(idp["sp"])
    assert b"SAMLResponse" in post_sso(client, xml).content
    assert_error_page(post_sso(client, xml), "already used")


def test_stale_issue_instant_and_wrong_destination_are_refused(idp: dict) -> None:
    def stale(xml: str) -> str:
        return re.sub(r'IssueInstant="[^"]+"', 'IssueInstant="2020-01-01T00:00:00Z"', xml, count=1)

    def elsewhere(xml: str) -> str:
        return xml.replace("/saml/sso/post", "/saml/sso/other")

    client = signed_in("bob", idp["tenant"])
    assert_error_page(post_sso(client, post_request_xml(idp["sp"], mutate=stale)[0]), "IssueInstant")
    assert_error_page(post_sso(client, post_request_xml(idp["sp"], mutate=elsewhere)[0]), "Destination")


DTD_PAYLOADS = [
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>',
    '<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://127.0.0.1:1/evil.dtd">',
]


@pytest.mark.parametrize("prolog", DTD_PAYLOADS)
def test_dtd_and_external_entities_are_refused_before_anything(idp: dict, prolog: str) -> None:
    xml, _ = post_request_xml(idp["sp"], sign=False)
    evil = prolog + xml.replace(f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>", "<saml:Issuer>&x;</saml:Issuer>")
    client = signed_in("alice", idp["tenant"])
    assert_error_page(post_sso(client, evil), "forbidden XML")
    deflated = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflated.compress(evil.encode()) + deflated.flush()
    query = "SAMLRequest=" + quote_plus(base64.b64encode(raw).decode())
    assert_error_page(client.get(f"{SSO_REDIRECT}?{query}"), "forbidden XML")


def test_deflate_bomb_is_refused(idp: dict) -> None:
    deflated = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = deflated.compress(b"<a>" + b" " * (4 * 1024 * 1024) + b"</a>") + deflated.flush()
    query = "SAMLRequest=" + quote_plus(base64.b64encode(raw).decode())
    assert_error_page(signed_in("alice", idp["tenant"]).get(f"{SSO_REDIRECT}?{query}"), "too large")


def test_organization_the_user_does_not_belong_to(idp: dict) -> None:
    url, request_id = login_url(idp["sp"])
    response = signed_in("alice", idp["tenant"]).get(url + "&organization=mexbanco")
    post = form_fields(response.content.decode())[1]
    assert saml_status(post) == [
        "urn:oasis:names:tc:SAML:2.0:status:Responder",
        "urn:oasis:names:tc:SAML:2.0:status:RequestDenied",
    ]
    assert "Assertion" not in response_xml(post)
    auth = acs_receive(idp["sp"], post, request_id)
    assert not auth.is_authenticated() and auth.get_errors()


def test_organization_required_and_none_eligible_is_an_error_page(idp: dict) -> None:
    idp["model"].organization_required = True
    idp["model"].save()
    url, _ = login_url(idp["sp"])
    response = signed_in("sam", idp["tenant"]).get(url)
    assert response.status_code == 403 and b"SAMLResponse" not in response.content


def test_xsw_wrapped_request_is_refused(idp: dict) -> None:
    """A signed request moved inside a forged one (XSW shape): the signature must enclose the root."""
    xml, _ = post_request_xml(idp["sp"])
    forged, _ = post_request_xml(idp["sp"], sign=False)
    inner = xml[xml.index("<samlp:AuthnRequest") :]
    wrapped = forged.replace(
        "</samlp:AuthnRequest>", "<samlp:Extensions>" + inner + "</samlp:Extensions></samlp:AuthnRequest>"
    )
    wrapped = wrapped.replace(
        "</samlp:Extensions>" + "</samlp:AuthnRequest>", "</samlp:Extensions></samlp:AuthnRequest>"
    )
    assert_error_page(post_sso(signed_in("alice", idp["tenant"]), wrapped), "bad signature")


def test_signature_reference_to_another_element_is_refused(idp: dict) -> None:
    xml, request_id = post_request_xml(idp["sp"])
    other = xml.replace(f'ID="{request_id}"', 'ID="_forged"', 1)
    assert_error_page(post_sso(signed_in("alice", idp["tenant"]), other), "bad signature")


def test_unsigned_logout_request_is_refused_when_the_sp_has_a_key(idp: dict) -> None:
    client = signed_in("bob", idp["tenant"])
    settings = {**idp["sp"], "security": {**idp["sp"]["security"], "logoutRequestSigned": False}}
    sp = OneLogin_Saml2_Auth(sp_request(path="/logout"), settings)
    response = client.get(path_and_query(sp.logout(name_id="bob@mexbanco.example")))
    assert_error_page(response, "must sign")
    assert "_auth_user_id" in client.session


def test_comment_in_issuer_does_not_split_the_value(idp: dict) -> None:
    """Comments are dropped at parse time, so the Issuer is read whole (CVE-2017-11427 family)."""
    xml, _ = post_request_xml(idp["sp"], sign=False)
    idp["model"].want_authn_requests_signed = False
    idp["model"].signing_certificates = []
    idp["model"].save()
    split = xml.replace(
        f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>", "<saml:Issuer>http://127.0.0.1:8766/<!---->metadata</saml:Issuer>"
    )
    response = post_sso(signed_in("bob", idp["tenant"]), split)
    assert b"SAMLResponse" in response.content


def test_nameid_format_not_offered_answers_invalid_nameid_policy(idp: dict) -> None:
    settings = {**idp["sp"], "sp": {**idp["sp"]["sp"], "NameIDFormat": C.NAMEID_TRANSIENT}}
    url, _ = login_url(settings)
    response = signed_in("bob", idp["tenant"]).get(url)
    action, post = form_fields(response.content.decode())
    assert action == "http://127.0.0.1:8766/acs"
    assert saml_status(post)[-1] == "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
    assert "Assertion" not in response_xml(post)


def test_stronger_authn_context_is_refused_never_claimed(idp: dict) -> None:
    mfa = "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken"
    settings = {**idp["sp"], "security": {**idp["sp"]["security"], "requestedAuthnContext": [mfa]}}
    url, _ = login_url(settings)
    post = form_fields(signed_in("bob", idp["tenant"]).get(url).content.decode())[1]
    assert saml_status(post)[-1] == "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
    assert "Assertion" not in response_xml(post)
    ok = {**idp["sp"], "security": {**idp["sp"]["security"], "requestedAuthnContext": True}}
    url, request_id = login_url(ok)  # PasswordProtectedTransport, exact
    auth = acs_receive(ok, form_fields(signed_in("bob", idp["tenant"]).get(url).content.decode())[1], request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()


# --- registration -------------------------------------------------------------------------------
class _MetadataServer:
    def __init__(self, body: bytes) -> None:
        payload = body

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/metadata"

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def metadata_server() -> Iterator[Any]:
    yield _MetadataServer


def test_add_saml_sp_from_a_metadata_url(demo: Tenant, metadata_server: Any) -> None:
    settings = sp_settings(
        Client().get("/t/mightybank/saml/metadata").content.decode(), entity_id="https://app.example/sp"
    )
    with metadata_server(sp_metadata(settings)) as url:
        out = io.StringIO()
        call_command(
            "add_saml_sp",
            "--tenant",
            "mightybank",
            "--metadata-url",
            url,
            "--default-org",
            "acme-bank",
            "--nameid",
            "persistent",
            stdout=out,
        )
    assert "Registered SAML service provider 'https://app.example/sp'" in out.getvalue()
    sp = ServiceProvider.objects.get(entity_id="https://app.example/sp")
    assert sp.acs[0]["url"] == "http://127.0.0.1:8766/acs" and sp.signing_certificates
    assert sp.default_organization == acme(demo) and sp.nameid_format == ServiceProvider.NameIDFormat.PERSISTENT
    assert sp.sign_response and sp.sign_assertion and not sp.idp_initiated


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metadata-url", "file:///etc/passwd"], "metadata_url: Use an absolute http(s) URL."),
        (["--metadata-url", "http://127.0.0.1:1/metadata"], "metadata_url: Could not fetch metadata"),
        (["--metadata-file", "/nonexistent.xml"], "metadata-file: cannot read"),
        (["--metadata-file", "DTD"], "metadata: Unusable SP metadata: forbidden XML construct"),
        (["--metadata-file", "SP.xml", "--default-org", "ghost"], "default-org: no organization 'ghost'"),
    ],
)
def test_add_saml_sp_errors(demo: Tenant, tmp_path: Path, args: list[str], message: str) -> None:
    dtd = tmp_path / "dtd.xml"
    dtd.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>')
    good = tmp_path / "sp.xml"
    good.write_bytes(sp_metadata(sp_settings(Client().get("/t/mightybank/saml/metadata").content.decode())))
    args = [str(dtd) if a == "DTD" else str(good) if a == "SP.xml" else a for a in args]
    with pytest.raises(CommandError) as error:
        call_command("add_saml_sp", "--tenant", "mightybank", *args, stdout=io.StringIO())
    assert message in str(error.value)


def test_registration_validation(demo: Tenant) -> None:
    from django.core.exceptions import ValidationError

    from idp.saml.services import service_provider_create
    from tenants.actors import SYSTEM

    with pytest.raises(ValidationError) as error:
        service_provider_create(
            actor=SYSTEM,
            tenant=demo,
            entity_id=SP_ENTITY,  # the quickstart's
            acs=[{"url": "javascript:alert(1)", "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"}],
            attribute_release=["password"],
            want_authn_requests_signed=True,
        )
    fields = set(error.value.message_dict)
    assert {"entity_id", "acs", "attribute_release", "want_authn_requests_signed"} <= fields


def test_tenant_admin_of_another_tenant_cannot_register(demo: Tenant, world_a: Any) -> None:
    from django.core.exceptions import PermissionDenied

    from idp.saml.services import service_provider_create

    with pytest.raises(PermissionDenied):
        service_provider_create(actor=world_a.admin, tenant=demo, entity_id="https://x.example", acs=[])


def test_tenant_admin_registers_an_sp_in_the_admin(demo: Tenant, admin_client_for: Any) -> None:
    import json

    from django.urls import reverse

    sam = User.objects.get(tenant=demo, username="sam")
    client = admin_client_for(sam)
    assert client.get(reverse("admin:saml_serviceprovider_add")).status_code == 200
    form = {
        "entity_id": "https://admin-made.example/sp",
        "name": "Made in the admin",
        "metadata_source": "",
        "acs": json.dumps([{"url": "https://admin-made.example/acs", "binding": C.BINDING_HTTP_POST, "index": 0}]),
        "slo": "[]",
        "signing_certificates": "[]",
        "encryption_certificate": "",
        "nameid_format": ServiceProvider.NameIDFormat.PERSISTENT,
        "sign_response": "on",
        "sign_assertion": "on",
        "attribute_release": json.dumps(["org_id", "org_name"]),
        "attribute_names": "{}",
        "org_name_source": "identifier",
        "default_organization": str(acme(demo).pk),
    }
    response = client.post(reverse("admin:saml_serviceprovider_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    sp = ServiceProvider.objects.get(entity_id="https://admin-made.example/sp")
    assert sp.tenant == demo and sp.default_organization == acme(demo)
    # the services' validation shows on the form's fields
    bad = {**form, "entity_id": "https://admin-made-2.example/sp", "acs": "[]", "attribute_release": '["password"]'}
    response = client.post(reverse("admin:saml_serviceprovider_add"), bad)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "acs" in errors and "attribute_release" in errors
