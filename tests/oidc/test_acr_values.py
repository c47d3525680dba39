"""Step-up on request: OIDC ``acr_values=urn:canopy:acr:mfa`` and SAML ``RequestedAuthnContext`` (REFEDS MFA,
from an independent SP, python3-saml), honoured with the emailed code (a real local SMTP server) where
the organization does not require it, and refused (``unmet_authentication_requirements`` /
``Responder`` + ``NoAuthnContext``) when no factor can be used."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from lxml import etree

from idp.saml.protocol import AC_MFA
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.mail import Inbox, code_in
from tests.support.oidc import (
    DEMO_WEB,
    MFA,
    journey,
    mfa_authorize,
    query_of,
    sign_in,
    tokens_for,
)
from tests.support.saml import acs_receive, form_fields, response_xml, saml_status, signed_in
from tests.support.saml import login_url as saml_login_url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def disable_codes(tenant: Tenant) -> None:
    """The tenant root turns email codes off (SMS is off by default): no factor is left to step up with."""
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=None,
        section="connections",
        values={"email_otp": {"enabled": False, "length": 6, "ttl_seconds": 300}},
    )
    job_run(job.pk)
    cache.clear()


def test_acr_values_mfa_asks_for_the_code_and_the_token_says_mfa(demo: Tenant, smtp: Inbox) -> None:
    client = Client()
    url, verifier = mfa_authorize(demo)
    r = client.get(url)
    assert r.status_code == 302 and r["Location"].startswith("/t/mightybank/login/")
    answer, next_url = journey(client, r["Location"])
    assert answer.status_code == 303 and urlsplit(answer["Location"]).path == "/t/mightybank/login/email-code/"
    assert len(smtp.messages) == 1
    done = client.post(answer["Location"], {"code": code_in(smtp.messages[0]), "next": next_url})
    assert done["Location"] == next_url
    back = client.get(next_url)
    claims = tokens_for(back["Location"], verifier)
    assert claims["acr"] == MFA and claims["amr"] == ["pwd", "otp"]


def test_a_password_session_is_stepped_up_not_refused(demo: Tenant, smtp: Inbox) -> None:
    from tests.support.lookups import user

    client = Client()
    sign_in(client, demo, user(demo, "alice"))  # signed in with a password only
    url, verifier = mfa_authorize(demo)
    r = client.get(url)
    assert r.status_code == 302 and "prompt=login" in r["Location"]
    answer, next_url = journey(client, r["Location"])
    assert urlsplit(answer["Location"]).path == "/t/mightybank/login/email-code/"
    client.post(answer["Location"], {"code": code_in(smtp.messages[0]), "next": next_url})
    claims = tokens_for(client.get(next_url)["Location"], verifier)
    assert claims["acr"] == MFA


def test_without_a_usable_factor_the_client_gets_unmet_authentication_requirements(demo: Tenant, smtp: Inbox) -> None:
    disable_codes(demo)
    client = Client()
    url, _ = mfa_authorize(demo)
    answer, next_url = journey(client, client.get(url)["Location"])
    assert answer.status_code == 303 and answer["Location"] == next_url  # no code page
    refused = client.get(next_url)
    assert refused.status_code == 302 and refused["Location"].startswith(DEMO_WEB[2])
    params = query_of(refused["Location"])
    assert params["error"] == "unmet_authentication_requirements" and params["state"] == "st-acr"
    assert "code" not in params and smtp.messages == []


def test_prompt_none_below_mfa_is_refused_at_once(demo: Tenant) -> None:
    from tests.support.lookups import user

    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    url, _ = mfa_authorize(demo, prompt="none")
    refused = client.get(url)
    assert query_of(refused["Location"])["error"] == "unmet_authentication_requirements"


def test_password_level_requests_are_unchanged_and_discovery_lists_mfa(demo: Tenant) -> None:
    from tests.support.lookups import user

    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    url, verifier = mfa_authorize(demo)
    url = url.replace(
        "acr_values=urn%3Acanopy%3Aacr%3Amfa", "acr_values=urn%3Acanopy%3Aacr%3Apwd+" + "urn%3Acanopy%3Aacr%3Amfa"
    )
    claims = tokens_for(client.get(url)["Location"], verifier)
    assert claims["acr"] == "urn:canopy:acr:pwd"
    discovery = Client().get("/t/mightybank/.well-known/openid-configuration").json()
    assert MFA in discovery["acr_values_supported"]


# --- SAML: RequestedAuthnContext REFEDS MFA (exact) -----------------------------------------------


def refeds(idp_settings: dict) -> dict:
    return {**idp_settings, "security": {**idp_settings["security"], "requestedAuthnContext": [AC_MFA]}}


def test_saml_refeds_mfa_is_met_with_the_emailed_code(idp: dict, smtp: Inbox) -> None:
    settings = refeds(idp["sp"])
    url, request_id = saml_login_url(settings)
    client = signed_in("bob", idp["tenant"])  # a password session: stepped up
    r = client.get(url)
    assert r.status_code == 302 and r["Location"].startswith("/t/mightybank/login/")
    answer, next_url = journey(client, r["Location"], "bob")
    assert "acr_values=" in next_url and urlsplit(answer["Location"]).path == "/t/mightybank/login/email-code/"
    client.post(answer["Location"], {"code": code_in(smtp.messages[0]), "next": next_url})
    page = client.get(next_url)
    post = form_fields(page.content.decode())[1]
    auth = acs_receive(settings, post, request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    root = etree.fromstring(response_xml(post).encode())
    refs = root.findall(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnContextClassRef")
    assert [r.text for r in refs] == [AC_MFA]


def test_saml_refeds_mfa_unmet_answers_no_authn_context(idp: dict, smtp: Inbox) -> None:
    disable_codes(idp["tenant"])
    settings = refeds(idp["sp"])
    url, _ = saml_login_url(settings)
    client = Client()
    r = client.get(url)
    answer, next_url = journey(client, r["Location"], "bob")
    assert answer["Location"] == next_url  # signed in with the password; no code page
    page = client.get(next_url)
    action, post = form_fields(page.content.decode())
    assert action == "http://127.0.0.1:8766/acs"
    status = saml_status(post)
    assert status[0] == "urn:oasis:names:tc:SAML:2.0:status:Responder"
    assert status[-1] == "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
    assert "Assertion" not in response_xml(post)
