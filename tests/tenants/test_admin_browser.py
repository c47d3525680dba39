"""In a real Chromium: sam signs in to the Django admin and creates a sub-organization."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.core.management import call_command

from orgs.tree.models import Organization
from tenants.models import AuditEvent as TenantAuditEvent

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
# Playwright's sync API runs an event loop in this thread; the ORM calls below are ordinary sync code.


@pytest.mark.django_db(transaction=True)
def test_sam_logs_into_the_admin_and_creates_a_sub_organization(live_server, browser) -> None:
    call_command("quickstart", stdout=open(os.devnull, "w"))  # noqa: SIM115
    page = browser.new_page()  # type: ignore[attr-defined]
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_tenant", "mightybank")
    page.fill("#id_username", "sam")
    page.fill("#id_password", "wrong-password")
    page.click("input[type=submit]")
    assert "do not match an administrator account" in page.inner_text(".errornote")

    page.fill("#id_password", "sam-demo-pass")
    page.click("input[type=submit]")
    page.wait_for_selector("text=Tenant administration")
    assert "tenant: mightybank" in page.inner_text("#site-name")

    page.goto(f"{live_server.url}/admin/orgs/organization/add/")
    # The parent field is an autocomplete: open it, search, pick.
    page.click("#id_parent + .select2 .select2-selection")
    page.fill(".select2-search__field", "acme")
    page.click(".select2-results__option:has-text('Acme Bank')")
    page.fill("#id_identifier", "acme-payments")
    page.fill("#id_display_name", "Acme Payments")
    page.fill("#id_description", "Card payments for Acme Bank")
    page.click("input[name=_save]")
    try:
        page.wait_for_selector(".messagelist .success", timeout=15000)
    except Exception:
        page.screenshot(path=str(artifacts / "admin-suborg-failed.png"), full_page=True)
        raise
    page.screenshot(path=str(artifacts / "admin-suborg-created.png"), full_page=True)

    created = Organization.objects.get(identifier="acme-payments")
    assert created.parent is not None and created.parent.identifier == "acme-bank"
    assert created.depth == 2 and created.tenant.slug == "mightybank"
    assert TenantAuditEvent.objects.filter(
        action="organization.create", target_id=str(created.pk), actor__username="sam"
    ).exists()
    # The changelist shows it as a tree, under its parent.
    rows = page.locator("#result_list tbody tr").all_inner_texts()
    names = [r.split("\t")[1].strip() if "\t" in r else r for r in rows]
    acme_index = next(i for i, r in enumerate(rows) if "Acme Bank" in r)
    assert "Acme Payments" in rows[acme_index + 1], names

    # Its change page carries breadcrumbs through its ancestors.
    page.goto(f"{live_server.url}/admin/orgs/organization/{created.pk}/change/")
    assert page.locator(".breadcrumbs a.org-ancestor").all_inner_texts() == ["MightyBank Americas", "Acme Bank"]
    page.close()
