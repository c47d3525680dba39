"""Upstream SAML with Canopy's own SP key: signed AuthnRequests, encrypted assertions, single logout.

The partner is the pysaml2 IdP process of tests/support/partners/saml_idp.py, loaded with Canopy's real SP
metadata (signing and encryption certificate, SingleLogoutService) and told to require signed
requests and to encrypt its assertions. Its session lives in a ``requests.Session`` cookie jar.
"""

from __future__ import annotations

import base64
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client

from idp.federation.models import UpstreamIdentity, UpstreamIdP
from idp.flow.session import SESSION_AUTH
from tenants.models import AuditEvent
from tests.support.federation_saml import (
    SLUG,
    SP_PATH,
    nothing_created,
    partner_answer,
    posted_fields,
    saml_login,
    start,
)
from tests.support.partners import PartnerIdP
from tests.support.worlds import World


def inflate(value: str) -> str:
    return zlib.decompress(base64.b64decode(value), -15).decode()


@pytest.mark.django_db
def test_sp_metadata_publishes_signing_and_encryption_keys_and_slo(saml_idp: UpstreamIdP) -> None:
    body = Client().get(f"{SP_PATH}/metadata").content.decode()
    assert 'use="signing"' in body and 'use="encryption"' in body
    assert f"{SP_PATH}/sls" in body and 'AuthnRequestsSigned="true"' in body
    stored = UpstreamIdP.objects.get(pk=saml_idp.pk)
    assert "PRIVATE KEY" not in stored.sp_key_encrypted and stored.sp_cert.startswith("-----BEGIN CERTIFICATE")


@pytest.mark.django_db
def test_signed_request_and_encrypted_assertion_sign_in(world_a: World, strict_partner: PartnerIdP) -> None:
    client, partner_browser = Client(), requests.Session()
    location = start(client)
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["SigAlg"].endswith("rsa-sha256") and query["Signature"]
    fields = posted_fields(partner_answer(partner_browser, location))
    assert "EncryptedAssertion" in base64.b64decode(fields["SAMLResponse"]).decode()
    done = client.post(f"{SP_PATH}/acs", fields)
    assert done.status_code == 302 and done["Location"] == f"/t/{SLUG}/"
    auth = client.session[SESSION_AUTH]
    assert auth["amr"] == ["fed"] and auth["upstream"] == f"{strict_partner.url}/metadata"
    assert UpstreamIdentity.objects.get(idp__slug="partner-saml").subject == "dana-0001"


@pytest.mark.django_db
def test_unsigned_request_is_refused_by_a_partner_that_wants_signatures(
    world_a: World,
    saml_idp: UpstreamIdP,
    strict_partner: PartnerIdP,
) -> None:
    UpstreamIdP.objects.filter(pk=saml_idp.pk).update(saml_sign_requests=False)
    location = start(Client())
    assert "Signature=" not in location
    refused = requests.get(location, timeout=10)
    assert refused.status_code == 400 and "Bad AuthnRequest" in refused.text
    nothing_created(world_a)


@pytest.mark.django_db
def test_encrypted_but_unsigned_assertion_is_refused(world_a: World, strict_partner: PartnerIdP) -> None:
    strict_partner.control(mode="unsigned")
    client = Client()
    fields = posted_fields(partner_answer(requests.Session(), start(client)))
    assert "EncryptedAssertion" in base64.b64decode(fields["SAMLResponse"]).decode()
    response = client.post(f"{SP_PATH}/acs", fields)
    assert response.status_code == 403
    assert SESSION_AUTH not in client.session
    nothing_created(world_a)
    assert AuditEvent.objects.filter(action="federation.refused").count() == 1


def partner_state(partner: PartnerIdP) -> dict[str, Any]:
    return requests.get(f"{partner.url}/state", timeout=5).json()


@pytest.mark.django_db
def test_logout_at_canopy_ends_the_partner_saml_session(world_a: World, strict_partner: PartnerIdP) -> None:
    client, partner_browser = Client(), requests.Session()
    saml_login(client, partner_browser)
    # The partner remembers Dana: another AuthnRequest from this browser is answered without the form.
    assert posted_fields(partner_browser.get(start(Client()), timeout=10))

    before = len(partner_state(strict_partner)["logouts"])
    response = client.post(f"/t/{SLUG}/logout/", {"next": f"/t/{SLUG}/login/"})
    assert response.status_code == 303 and SESSION_AUTH not in client.session
    to_partner = urlsplit(response["Location"])
    assert to_partner.path == "/slo/redirect"
    query = {k: v[0] for k, v in parse_qs(to_partner.query).items()}
    assert query["Signature"] and "dana-0001" in inflate(query["SAMLRequest"])
    back = partner_browser.get(response["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302
    sls = urlsplit(back.headers["Location"])
    assert sls.path == f"{SP_PATH}/sls"
    onward = client.get(f"{sls.path}?{sls.query}")
    assert onward.status_code == 302 and urlsplit(onward["Location"]).path == f"/t/{SLUG}/logout/continue/"
    final = client.get(onward["Location"])
    assert final.status_code == 302 and final["Location"] == f"/t/{SLUG}/login/"
    logouts = partner_state(strict_partner)["logouts"]
    assert len(logouts) == before + 1 and logouts[-1]["ended"] >= 1 and logouts[-1]["signed"]
    # A new sign-in at the partner asks for credentials again.
    page = partner_browser.get(start(Client()), timeout=10)
    assert 'id="partner-username"' in page.text
    # The same LogoutResponse again is not accepted (its transaction was used).
    again = client.get(f"{sls.path}?{sls.query}")
    assert again.status_code == 400 and b"did not confirm" in again.content


@pytest.mark.django_db
def test_sls_of_another_tenant_or_kind_is_not_found(world_a: World, world_b: World, saml_idp: UpstreamIdP) -> None:
    other = f"/t/{world_b.tenant.slug}/federation/{saml_idp.slug}/saml/sls"  # tenant-a's SAML IdP, via tenant-b
    assert Client().get(other, {"SAMLResponse": "x"}).status_code == 404
    oidc_one = f"/t/{world_a.tenant.slug}/federation/{world_a.tenant.slug}-partner/saml/sls"
    assert Client().get(oidc_one, {"SAMLResponse": "x"}).status_code == 404
    assert Client().get(f"{SP_PATH}/sls").status_code == 400  # no LogoutResponse at all
