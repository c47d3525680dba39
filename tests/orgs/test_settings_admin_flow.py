"""Inherited settings in the admin (settings page, jobs) and in the login journey (branding)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.urls import reverse

from orgs.inheritance.models import PropagationJob, SettingsOverride
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tests.support.worlds import build_world

pytestmark = pytest.mark.django_db


def run_pending() -> None:
    for pk in PropagationJob.objects.filter(status="pending").values_list("pk", flat=True):
        job_run(pk)


def test_login_page_branding_follows_the_organization_in_next(world_a, client) -> None:
    cache.clear()
    t = world_a.tenant
    settings_override_set(
        actor=SYSTEM,
        tenant=t,
        organization=world_a.root,
        section="branding",
        values={
            "display_name": "Root Org Brand",
            "logo_url": "https://cdn.example/logo.png",
            "footer_links": [{"label": "Privacy", "url": "https://example.net/privacy"}],
        },
    )
    run_pending()
    nxt = f"/t/{t.slug}/oauth/authorize/?client_id=x&organization={world_a.child.identifier}"
    page = client.get(f"/t/{t.slug}/login/?next={quote(nxt)}").content.decode()
    assert "Root Org Brand" in page  # the child inherits from its parent
    assert 'src="https://cdn.example/logo.png"' in page and ">Privacy</a>" in page
    page = client.get(f"/t/{t.slug}/login/").content.decode()  # no organization: the tenant root's
    assert "Root Org Brand" not in page and world_a.tenant.slug + " brand" in page
    page = client.get(f"/t/{t.slug}/login/?org=no-such-org").content.decode()
    assert "Root Org Brand" not in page
    for key in (world_a.child.identifier.upper(), str(world_a.child.pk)):  # identifier or id
        assert "Root Org Brand" in client.get(f"/t/{t.slug}/login/?org={key}").content.decode()
    other_tenant_org = build_world("tenant-z").child  # another tenant's organization is not "in context"
    page = client.get(f"/t/{t.slug}/login/?org={other_tenant_org.pk}").content.decode()
    assert "Root Org Brand" not in page


def test_settings_page_shows_values_sources_and_refuses_clearly(world_a, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    url = reverse("admin:orgs_organization_settings", args=[world_a.child.pk])
    page = client.get(url).content.decode()
    assert 'id="setting-branding-primary_color"' in page
    assert "Read-only: Defined at the tenant root" in page  # dialects, OIDC scopes
    assert "Only the tenant root creates custom attributes" in page
    response = client.post(url, {"section": "connections", "field": "push", "value": '{"enabled": true}'}, follow=True)
    assert "cannot be overridden by an organization" in response.content.decode()
    response = client.post(url, {"section": "login", "field": "lockout_minutes", "value": "45"}, follow=True)
    assert "Saved. Propagation job" in response.content.decode()
    assert SettingsOverride.objects.get(organization=world_a.child, section="login").values == {"lockout_minutes": 45}
    changelist = client.get(reverse("admin:orgs_organization_changelist")).content.decode()
    assert reverse("admin:orgs_organization_root_settings") in changelist
    root = client.get(reverse("admin:orgs_organization_root_settings")).content.decode()
    assert "Reset to default" in root  # the world set a root branding display name


def test_settings_page_of_another_tenants_organization_is_404(world_a, world_b, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    url = reverse("admin:orgs_organization_settings", args=[world_b.child.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"section": "login", "field": "lockout_minutes", "value": "1"}).status_code == 404
    assert not SettingsOverride.objects.filter(organization=world_b.child, section="login").exists()


def test_job_admin_lists_progress(world_a, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    page = client.get(reverse("admin:orgs_propagationjob_changelist")).content.decode()
    assert "<progress" in page and "Done" in page


def test_deleting_an_override_row_in_the_admin_reverts_it_through_the_service(world_a, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    row = SettingsOverride.objects.get(organization=world_a.root, section="branding")
    url = reverse("admin:orgs_settingsoverride_delete", args=[row.pk])
    client.post(url, {"post": "yes"})
    assert not SettingsOverride.objects.filter(pk=row.pk).exists()
    job = PropagationJob.objects.filter(organization=world_a.root, section="branding").order_by("-version").first()
    assert job is not None and job.reason.startswith("settings.revert")
    root_row = SettingsOverride.objects.get(tenant=world_a.tenant, organization=None, section="branding")
    assert client.get(reverse("admin:orgs_settingsoverride_delete", args=[root_row.pk])).status_code == 403
