"""Signing out at Canopy's own logout page also signs the browser out of its SAML SPs.

bob signs in at the independent SP (python3-saml); the logout page then sends the browser
through ``saml/slo/continue`` to the SP with a signed LogoutRequest the SP validates, the SP's
signed LogoutResponse comes back, and the browser ends where the logout page said.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from onelogin.saml2.auth import OneLogin_Saml2_Auth

from tests.support.saml import (
    acs_receive,
    form_fields,
    login_url,
    path_and_query,
    signed_in,
    sp_request,
)

pytestmark = pytest.mark.django_db


def signed_in_at_the_sp(idp: dict) -> Client:
    client = signed_in("bob", idp["tenant"])
    url, request_id = login_url(idp["sp"])
    auth = acs_receive(idp["sp"], form_fields(client.get(url).content.decode())[1], request_id)
    assert auth.get_errors() == [] and auth.get_nameid() == "bob@mexbanco.example"
    return client


def test_logout_page_signs_out_of_the_saml_sp_and_comes_back(idp: dict) -> None:
    client = signed_in_at_the_sp(idp)
    started = client.post("/t/mightybank/logout/")
    assert started.status_code == 303 and started["Location"].startswith("/t/mightybank/saml/slo/continue?t=")
    to_sp = client.get(started["Location"])
    assert to_sp.status_code == 302 and to_sp["Location"].startswith("http://127.0.0.1:8766/sls?SAMLRequest=")
    get = {k: v[0] for k, v in parse_qs(urlsplit(to_sp["Location"]).query).items()}
    assert "Signature" in get

    sp = OneLogin_Saml2_Auth(sp_request(get=get, path="/sls"), idp["sp"])
    back_url = sp.process_slo(keep_local_session=True)  # the SP checks our signed LogoutRequest
    assert sp.get_errors() == [], sp.get_last_error_reason()
    assert back_url and back_url.startswith("http://127.0.0.1:8000/t/mightybank/saml/slo/redirect?SAMLResponse=")

    answered = client.get(path_and_query(back_url))
    assert answered.status_code == 302 and answered["Location"].startswith("/t/mightybank/logout/continue/?chain=")
    done = client.get(answered["Location"])
    assert done.status_code == 302 and done["Location"] == "/t/mightybank/logout/?done=1"
    # signed out: a new sign-in at the SP goes to the login page
    url, _ = login_url(idp["sp"])
    assert "/t/mightybank/login" in client.get(url)["Location"]
    # the chain runs once
    again = client.get(started["Location"])
    assert again.status_code == 400 and b"expired" in again.content


def test_a_session_without_saml_sign_ins_skips_the_saml_step(idp: dict) -> None:
    client = signed_in("bob", idp["tenant"])
    started = client.post("/t/mightybank/logout/")
    assert started.status_code == 303 and started["Location"] == "/t/mightybank/logout/?done=1"


def test_another_tenants_chain_is_not_found(idp: dict, world_a: Any) -> None:
    client = signed_in_at_the_sp(idp)
    started = client.post("/t/mightybank/logout/")
    token = parse_qs(urlsplit(started["Location"]).query)["t"][0]
    elsewhere = client.get(f"/t/{world_a.tenant.slug}/saml/slo/continue?t={token}")
    assert elsewhere.status_code == 404
    assert client.get(started["Location"]).status_code == 302  # still usable in its own tenant
