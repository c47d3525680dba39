"""In Chromium: a leaf organization's login page shows inherited branding, its own, then inherited again.

The override and the revert are made on the admin's settings page (eager Celery: the job runs
at commit inside the live server).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.cache import cache

from orgs.inheritance.services import settings_override_set
from orgs.tree.services import organization_create
from tenants.actors import SYSTEM
from tenants.services import tenant_create, user_create

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_leaf_login_page_shows_inherited_then_own_then_inherited_branding(live_server, browser) -> None:
    cache.clear()
    tenant = tenant_create(actor=SYSTEM, slug="brandco", display_name="Brand Co")
    user_create(
        actor=SYSTEM,
        tenant=tenant,
        username="sam",
        password="sam-demo-pass",
        is_tenant_admin_flag=True,
        validate_password_strength=False,
    )
    top = organization_create(actor=SYSTEM, tenant=tenant, identifier="emea", display_name="EMEA")
    leaf = organization_create(actor=SYSTEM, tenant=tenant, identifier="emea-fr", display_name="France", parent=top)
    settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        section="branding",
        values={"display_name": "Root Brand", "primary_color": "#aa0000"},
    )
    from orgs.inheritance.models import PropagationJob
    from orgs.inheritance.propagation import job_run

    for job in PropagationJob.objects.filter(tenant=tenant, status="pending"):
        job_run(job.pk)  # created outside a request: run it here
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)

    page = browser.new_page()  # type: ignore[attr-defined]
    login_url = f"{live_server.url}/t/brandco/login/?org=emea-fr"

    def header_and_accent() -> tuple[str, str]:
        page.goto(login_url)
        accent = page.eval_on_selector("button[type=submit]", "b => getComputedStyle(b).backgroundColor")
        return page.inner_text("header").strip(), accent

    assert header_and_accent() == ("Root Brand", "rgb(170, 0, 0)")
    page.screenshot(path=str(artifacts / "branding-inherited.png"))

    # Override on the leaf's settings page in the admin.
    admin = browser.new_page()  # type: ignore[attr-defined]
    admin.goto(f"{live_server.url}/admin/")
    admin.fill("#id_tenant", "brandco")
    admin.fill("#id_username", "sam")
    admin.fill("#id_password", "sam-demo-pass")
    admin.click("input[type=submit]")
    admin.goto(f"{live_server.url}/admin/orgs/organization/{leaf.pk}/settings/")
    row = "#setting-branding-display_name"
    assert "tenant root" in admin.inner_text(f"{row} .source")
    admin.fill(f"{row} textarea", '"France Brand"')
    admin.click(f"{row} button[value=override]")
    assert "Saved. Propagation job" in admin.inner_text(".messagelist")
    assert "(set here)" in admin.inner_text(f"{row} .source")
    color = "#setting-branding-primary_color"
    admin.fill(f"{color} textarea", '"#00aa00"')
    admin.click(f"{color} button[value=override]")
    # A field an organization may not change is read-only, with the reason.
    assert "Read-only" in admin.inner_text("#setting-dialects-oidc")
    # A rejected edit says why.
    admin.fill(f"{color} textarea", '"green"')
    admin.click(f"{color} button[value=override]")
    assert "Use a colour like #0b5cad" in admin.inner_text(".messagelist")

    assert header_and_accent() == ("France Brand", "rgb(0, 170, 0)")
    page.screenshot(path=str(artifacts / "branding-own.png"))

    admin.goto(f"{live_server.url}/admin/orgs/organization/{leaf.pk}/settings/")
    admin.click(f"{row} button[value=revert]")
    admin.click(f"{color} button[value=revert]")
    assert admin.inner_text(f"{row} .source").startswith("tenant root")

    assert header_and_accent() == ("Root Brand", "rgb(170, 0, 0)")
    page.screenshot(path=str(artifacts / "branding-reverted.png"))
