"""In a real Chromium: self-registration from an OIDC authorization (Authlib as the RP) with the code
from a real SMTP server, and an invited person without an account joining through the emailed link."""

from __future__ import annotations

import os
import re
from typing import Any

import pytest
import requests
from django.core.cache import cache
from django.core.management import call_command
from joserfc import jwt

from orgs.invitations.models import Invitation
from orgs.tree.models import Membership
from tenants.models import Tenant, User
from tests.support.api import api_token
from tests.support.lookups import org, user
from tests.support.mail import Inbox, body_of, signup_code_in
from tests.support.oidc import catch_rp_callbacks, demo_web_rp
from tests.support.registration import GOOD_PASSWORD, open_signup

pytestmark = pytest.mark.browser


@pytest.fixture
def canopy(live_server, settings) -> str:
    settings.CANOPY_BASE_URL = live_server.url
    cache.clear()
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    return f"{live_server.url}/t/mightybank"


@pytest.mark.django_db(transaction=True)
def test_sign_up_from_an_authorization_lands_back_at_the_rp_with_org_claims(
    canopy: str, browser: Any, smtp: Inbox
) -> None:
    tenant = Tenant.objects.get(slug="mightybank")
    open_signup(tenant)
    rp = demo_web_rp(canopy)
    context = browser.new_context()
    page = context.new_page()
    landed = catch_rp_callbacks(page)
    page.goto(rp.authorization_url(organization="acme-bank"))
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email address").fill("erin@acme.example")
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Given name").fill("Erin")
    page.get_by_label("Family name").fill("Evans")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Password again").fill("short")
    page.get_by_role("button", name="Create account").click()
    assert "Use at least" in page.inner_text("#password-error")
    assert not User.objects.filter(username="erin").exists()
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.get_by_label("Password again").fill(GOOD_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/register/verify/")
    assert len(smtp.messages) == 1
    page.get_by_label("Code").fill(signup_code_in(smtp.messages[0]))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("http://127.0.0.1:8765/**")
    context.close()
    assert landed
    token = rp.fetch_token(landed[-1])
    claims = jwt.decode(token["id_token"], rp.keys).claims
    acme = org(tenant, "acme-bank")
    erin = User.objects.get(tenant=tenant, username="erin")
    assert claims["nonce"] == rp.nonce and claims["sub"] == str(erin.pk)
    assert claims["org_id"] == str(acme.pk) and claims["org_name"] and claims["org_ids"] == [str(acme.pk)]
    assert Membership.objects.get(user=erin).organization == acme


@pytest.mark.django_db(transaction=True)
def test_an_invited_person_without_an_account_joins_through_the_link(canopy: str, browser: Any, smtp: Inbox) -> None:
    tenant = Tenant.objects.get(slug="mightybank")
    token = api_token(tenant=tenant, user=user(tenant, "barbara"))
    response = requests.post(
        f"{canopy}/api/v1/organizations/mexbanco/invitations/",
        json={"email": "Finn@Newcomer.example", "role": "member"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    assert len(smtp.messages) == 1 and smtp.messages[0]["To"] == "finn@newcomer.example"
    link = re.search(r"https?://\S+/invitations/accept/\?token=\S+", body_of(smtp.messages[0]))
    assert link
    page = browser.new_page()
    page.goto(link.group(0))
    assert "Create your account for finn@newcomer.example" in page.inner_text("main")
    page.get_by_label("Username").fill("finn")
    page.get_by_label("Given name").fill("Finn")
    page.get_by_label("Family name").fill("Fox")
    page.get_by_label("Password", exact=True).fill("password")
    page.get_by_label("Password again").fill("password")
    page.get_by_role("button", name="Create account and join").click()
    assert "too common" in page.inner_text("#password-error")
    assert not User.objects.filter(username="finn").exists()
    page.get_by_label("Password", exact=True).fill(GOOD_PASSWORD)
    page.get_by_label("Password again").fill(GOOD_PASSWORD)
    page.get_by_label("I accept the terms of use").check()  # the invited flow's ``terms`` step
    page.get_by_role("button", name="Create account and join").click()
    assert "You are now a member of MexBanco" in page.inner_text("main")
    finn = User.objects.get(tenant=tenant, username="finn")
    assert finn.email == "finn@newcomer.example" and finn.check_password(GOOD_PASSWORD)
    assert Membership.objects.get(user=finn).organization.identifier == "mexbanco"
    page.goto(f"{canopy}/")
    assert "finn" in page.inner_text("main")  # signed in
    page.goto(link.group(0))  # the link again
    assert "invalid, has expired or was already used" in page.inner_text("main")
    page.close()
    assert Invitation.objects.get().accepted_by == finn
