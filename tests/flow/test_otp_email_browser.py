"""In a real Chromium: the emailed code typed after the password, for an organization that requires it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import call_command

from tenants.models import Tenant
from tests.support.login import require_email_otp
from tests.support.mail import Inbox, code_in

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_typing_the_emailed_code_in_chromium(live_server, browser, smtp: Inbox) -> None:
    cache.clear()
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    tenant = Tenant.objects.get(slug="mightybank")
    require_email_otp(tenant, "acme-bank")
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page = browser.new_page()
    page.goto(f"{live_server.url}/t/mightybank/login/?next=/t/mightybank/%3Forganization%3Dacme-bank")
    page.get_by_label("Username or email").fill("alice")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Password").fill("alice-demo-pass")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/t/mightybank/login/email-code/**")
    assert len(smtp.messages) == 1
    code = code_in(smtp.messages[0])
    page.get_by_label("Code").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Continue").click()
    assert "That code is not right" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(artifacts / "flow-email-otp.png"), full_page=True)
    page.get_by_label("Code").fill(code)
    page.keyboard.press("Enter")
    page.wait_for_url("**/t/mightybank/?organization=acme-bank")
    assert "Signed in to MightyBank as alice" in page.inner_text("main")
    page.close()
