"""In a real Chromium: sign in through the journey, then choose an organization (screenshots in test-artifacts)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.core.management import call_command
from django.test import RequestFactory

from idp.flow import selection
from orgs.tree.selectors import EligibleOrganization, user_eligible_organizations
from orgs.tree.services import organization_create
from tenants.actors import SYSTEM
from tenants.models import Tenant, User

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def begin_in_browser(page: Any, who: User, tenant: Tenant, eligible: list[EligibleOrganization]) -> str:
    """What the OIDC authorize view does: selection.begin() on the browser's session."""
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=key)
    request.user = who
    response = selection.begin(
        request, tenant=tenant, eligible=eligible, next_url="/t/mightybank/", client_name="Loan Portal"
    )
    request.session.save()
    return response["Location"]


@pytest.mark.django_db(transaction=True)
def test_sign_in_and_choose_an_organization_in_chromium(live_server, browser) -> None:
    cache.clear()
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="mightybank")
    carol = User.objects.get(tenant=tenant, username="carol")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page = browser.new_page()

    page.goto(f"{live_server.url}/t/mightybank/login/")
    page.get_by_label("Username or email").fill("carol")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    assert "do not match" in page.get_by_role("alert").inner_text()
    page.get_by_label("Password").fill("carol-demo-pass")
    page.keyboard.press("Enter")
    page.wait_for_url("**/t/mightybank/")
    assert "Signed in to MightyBank as carol" in page.inner_text("main")

    page.goto(live_server.url + begin_in_browser(page, carol, tenant, user_eligible_organizations(user=carol)))
    option = page.get_by_role("button", name="on behalf of My Corporation (via Services Contractor)")
    assert option.is_visible()
    page.screenshot(path=str(artifacts / "flow-select-organization.png"), full_page=True)
    option.focus()
    page.keyboard.press("Enter")  # keyboard only
    page.wait_for_url("**/t/mightybank/?canopy_pick=*")
    pick_id = parse_qs(urlsplit(page.url).query)["canopy_pick"][0]
    key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    request = RequestFactory().get("/")
    request.session = SessionStore(session_key=key)
    request.user = carol
    chosen = selection.consume(request, tenant=tenant, pick_id=pick_id)
    assert chosen is not None and chosen[0].identifier == "my-corporation" and chosen[1] is not None

    many = [
        EligibleOrganization(
            organization_create(actor=SYSTEM, tenant=tenant, identifier=f"branch-{i}", display_name=f"Branch {i}")
        )
        for i in range(9)
    ]
    page.goto(live_server.url + begin_in_browser(page, carol, tenant, many))
    search = page.get_by_label("Search organizations")
    search.fill("branch 3")
    assert page.locator("#org-list li:visible").count() == 1
    assert "1 of 9 organizations shown" in page.inner_text("#org-count")
    page.screenshot(path=str(artifacts / "flow-select-organization-search.png"), full_page=True)
    page.close()
