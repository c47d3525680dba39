"""The management API's settings endpoints: overrides per section, effective values with provenance."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from orgs.inheritance.models import PropagationJob, SettingsOverride
from orgs.inheritance.selectors import effective_section
from tenants.models import AuditEvent, Tenant
from tests.support.api import ApiClient, assert_problem, client_for
from tests.support.lookups import org

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def sam(demo: Tenant) -> ApiClient:
    return client_for(demo, "sam")


@pytest.fixture
def alma(demo: Tenant) -> ApiClient:
    """Owner of mightybank-americas (and so of its subtree)."""
    return client_for(demo, "alma")


@pytest.fixture
def barbara(demo: Tenant) -> ApiClient:
    """Administrator (not owner) of mightybank-americas."""
    return client_for(demo, "barbara")


def test_patch_on_a_root_reaches_the_child_through_propagation(
    demo: Tenant, alma: ApiClient, django_capture_on_commit_callbacks
) -> None:
    got = alma.get("organizations/mightybank-americas/settings/branding/")
    assert got.status_code == 200 and got.json() == {"section": "branding", "overrides": {}}
    with django_capture_on_commit_callbacks(execute=True):
        changed = alma.patch(
            "organizations/mightybank-americas/settings/branding/",
            {"primary_color": "#aa0000"},
            headers={"If-Match": got["ETag"]},
        )
    assert changed.status_code == 202, changed.content
    body = changed.json()
    assert body["overrides"] == {"primary_color": "#aa0000"}
    job = body["job"]
    assert job["section"] == "branding" and job["organization"] == str(org(demo, "mightybank-americas").pk)
    assert changed["Location"].endswith(f"/api/v1/jobs/propagation/{job['id']}/")
    # Celery runs eagerly in the tests: the job ran on commit and reached the whole subtree.
    status = alma.get(f"jobs/propagation/{job['id']}/").json()
    assert status["status"] == "done" and status["processed"] == status["total"] == 3 and status["progress"] == 100
    child = org(demo, "acme-bank")
    assert effective_section(tenant=demo, organization=child, section="branding")["primary_color"] == "#aa0000"
    effective = alma.get("organizations/acme-bank/effective-settings/?section=branding").json()
    field = next(f for f in effective["sections"][0]["fields"] if f["name"] == "primary_color")
    assert field["value"] == "#aa0000"
    assert field["source_organization"] == str(org(demo, "mightybank-americas").pk)
    assert field["overridden_here"] is False and field["editable"] is True
    assert AuditEvent.objects.filter(tenant=demo, action="settings.override", actor__username="alma").exists()


def test_effective_settings_show_provenance_and_why_a_field_is_read_only(sam: ApiClient) -> None:
    body = sam.get("organizations/acme-bank/effective-settings/").json()
    sections = {s["key"]: s for s in body["sections"]}
    assert {"login", "connections", "branding"} <= set(sections)
    push = next(f for f in sections["connections"]["fields"] if f["name"] == "push")
    assert push["editable"] is False and "inherited from the root" in push["reason"]
    length = next(f for f in sections["login"]["fields"] if f["name"] == "password_min_length")
    assert length["source"] in ("default", "root") and length["source_organization"] is None
    assert_problem(sam.get("organizations/acme-bank/effective-settings/?section=nope"), 400)


def test_field_errors_and_non_overridable_fields_are_problem_json(demo: Tenant, sam: ApiClient) -> None:
    url = "organizations/acme-bank/settings/login/"
    body = assert_problem(sam.patch(url, {"password_min_length": 3, "nope": 1}), 400)
    assert "password_min_length" in body["errors"] and "nope" in body["errors"]
    body = assert_problem(sam.patch("organizations/acme-bank/settings/connections/", {"push": {"enabled": True}}), 400)
    assert "cannot be overridden by an organization" in body["errors"]["push"][0]
    assert "inherited from the root" in body["errors"]["push"][0]
    body = assert_problem(sam.patch(url, {"password_min_length": "\x00"}), 400)
    assert "password_min_length" in body["errors"]
    assert_problem(sam.patch(url, {}), 400)
    assert_problem(sam.patch(url, ["not", "an", "object"]), 400)
    assert_problem(sam.get("organizations/acme-bank/settings/no-such-section/"), 404)
    assert not SettingsOverride.objects.filter(organization=org(demo, "acme-bank"), section="login").exists()


def test_a_failed_write_changes_nothing(demo: Tenant, sam: ApiClient) -> None:
    url = "organizations/acme-bank/settings/login/"
    assert sam.patch(url, {"password_min_length": 12}).status_code == 202
    jobs = PropagationJob.objects.filter(tenant=demo).count()
    # A valid value with an invalid one: neither is written, no job is recorded.
    assert_problem(sam.patch(url, {"password_min_length": 20, "lockout_minutes": -1}), 400)
    # A valid set with an invalid revert (unknown field) in the same request: rolled back together.
    assert_problem(sam.patch(url, {"password_min_length": 20, "unknown_field": None}), 400)
    assert sam.get(url).json()["overrides"] == {"password_min_length": 12}
    assert PropagationJob.objects.filter(tenant=demo).count() == jobs


def test_if_match_mismatch_is_412_and_put_replaces_the_overrides(demo: Tenant, sam: ApiClient) -> None:
    url = "organizations/acme-bank/settings/login/"
    first = sam.get(url)
    assert sam.patch(url, {"password_min_length": 12, "lockout_minutes": 30}).status_code == 202
    assert_problem(sam.patch(url, {"password_min_length": 14}, headers={"If-Match": first["ETag"]}), 412)
    assert_problem(sam.call("PUT", url, {"lockout_minutes": 5}, headers={"If-Match": first["ETag"]}), 412)
    current = sam.get(url)
    assert current.json()["overrides"] == {"password_min_length": 12, "lockout_minutes": 30}
    replaced = sam.call("PUT", url, {"lockout_minutes": 5}, headers={"If-Match": current["ETag"]})
    assert replaced.status_code == 202 and replaced.json()["overrides"] == {"lockout_minutes": 5}
    reverted = sam.patch(url, {"lockout_minutes": None})
    assert reverted.status_code == 202 and reverted.json()["overrides"] == {}
    listing = sam.get("organizations/acme-bank/settings/").json()
    assert listing["sections"]["login"] == {} and set(listing["sections"]) >= {"login", "branding"}


def test_roles_an_admin_reads_an_owner_writes(demo: Tenant, barbara: ApiClient, alma: ApiClient) -> None:
    url = "organizations/acme-bank/settings/login/"
    assert barbara.get(url).status_code == 200
    assert_problem(barbara.patch(url, {"password_min_length": 12}), 403)
    assert alma.patch(url, {"password_min_length": 12}).status_code == 202
    assert_problem(alma.get("organizations/contractor/settings/login/"), 404)  # outside alma's subtree
    assert_problem(alma.patch("organizations/contractor/settings/login/", {"password_min_length": 12}), 404)


def test_the_tenant_root_is_for_tenant_admins_and_its_changes_reach_every_organization(
    demo: Tenant, sam: ApiClient, alma: ApiClient, django_capture_on_commit_callbacks
) -> None:
    for path in ("settings/", "settings/login/", "effective-settings/"):
        assert_problem(alma.get(path), 404)  # a delegated owner: the root is not theirs
    assert_problem(alma.patch("settings/login/", {"lockout_minutes": 3}), 404)
    first = sam.get("settings/user_attributes/")
    assert first.status_code == 200 and first.json()["section"] == "user_attributes"
    modes = {"shared_value_sources": {"given_name": "from-shared-profile"}}  # a root-only field
    with django_capture_on_commit_callbacks(execute=True):
        changed = sam.patch("settings/user_attributes/", modes, headers={"If-Match": first["ETag"]})
    assert changed.status_code == 202, changed.content
    assert changed.json()["job"]["organization"] is None and changed.json()["overrides"]["shared_value_sources"]
    with django_capture_on_commit_callbacks(execute=True):
        assert sam.patch("settings/login/", {"lockout_minutes": 3}).status_code == 202
    leaf = sam.get("organizations/mexbanco/effective-settings/?section=login").json()["sections"][0]["fields"]
    lockout = next(f for f in leaf if f["name"] == "lockout_minutes")
    assert lockout["value"] == 3 and lockout["source"] == "root" and lockout["source_organization"] is None
    root = sam.get("effective-settings/?section=user_attributes").json()
    assert root["organization"] is None
    listing = sam.get("settings/").json()
    assert listing["organization"] is None and listing["sections"]["login"] == {"lockout_minutes": 3}
