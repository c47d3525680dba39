"""Inherited settings: merge rules per section, refusals, versions, materialization, reads."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError

from orgs.inheritance.models import EffectiveSettings, PropagationJob, SettingsOverride
from orgs.inheritance.propagation import job_run
from orgs.inheritance.schema import SECTIONS
from orgs.inheritance.selectors import EffectiveSection, effective_section, settings_overview
from orgs.inheritance.services import settings_override_revert, settings_override_set
from orgs.profiles.attributes import user_store_create, user_store_mapping_set
from orgs.tree.models import Organization
from orgs.tree.services import membership_add, organization_create, organization_move
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tenants.services import tenant_create, user_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree(db: None) -> dict[str, Any]:
    cache.clear()
    tenant = tenant_create(actor=SYSTEM, slug="inherit")
    top = organization_create(actor=SYSTEM, tenant=tenant, identifier="top", display_name="Top")
    mid = organization_create(actor=SYSTEM, tenant=tenant, identifier="mid", display_name="Mid", parent=top)
    leaf = organization_create(actor=SYSTEM, tenant=tenant, identifier="leaf", display_name="Leaf", parent=mid)
    other = organization_create(actor=SYSTEM, tenant=tenant, identifier="other", display_name="Other")
    return {"tenant": tenant, "top": top, "mid": mid, "leaf": leaf, "other": other}


def run(job: PropagationJob) -> str:
    return job_run(job.pk)


def eff(tree: dict[str, Any], org: str | None, section: str) -> EffectiveSection:
    return effective_section(tenant=tree["tenant"], organization=tree[org] if org else None, section=section)


def test_new_organizations_have_effective_rows_for_every_section_at_once(tree) -> None:
    rows = EffectiveSettings.objects.filter(organization=tree["leaf"])
    assert {r.section for r in rows} == set(SECTIONS)
    login = eff(tree, "leaf", "login")
    assert login["password_min_length"] == 8 and login.sources["password_min_length"] == "default"


@pytest.mark.parametrize(
    ("section", "field", "root_value", "child_value"),
    [
        ("login", "password_min_length", 12, 14),
        ("login", "self_registration", True, False),
        ("connections", "email_otp", {"enabled": True, "length": 8, "ttl_seconds": 120}, None),
        ("flows", "password_recovery", {"enabled": True, "steps": ["identifier", "sms_otp"], "options": {}}, None),
        ("attribute_verification", "verify_mobile", True, False),
        ("branding", "primary_color", "#aa0000", "#00aa00"),
        ("oidc_scopes", "scopes", {"openid": ["sub"], "org": ["org_id"]}, "refused"),
        ("dialects", "oidc", {"email": "mail"}, "refused"),
        (
            "user_attributes",
            "custom",
            [{"name": "employeeId", "display_name": "Employee", "type": "string", "multi_valued_supported": False}],
            "refused",
        ),
    ],
)
def test_merge_rules_per_section(tree, section, field, root_value, child_value) -> None:
    run(settings_override_set(actor=SYSTEM, tenant=tree["tenant"], section=section, values={field: root_value}))
    for name in ("top", "mid", "leaf"):
        got = eff(tree, name, section)
        assert got[field] == root_value and got.sources[field] == "root", name
    if child_value is None:  # connections / flows: the child overrides with another valid value
        child_value = dict(root_value, enabled=False)
    if child_value == "refused":
        with pytest.raises(ValidationError, match="cannot be overridden by an organization"):
            settings_override_set(
                actor=SYSTEM,
                tenant=tree["tenant"],
                organization=tree["mid"],
                section=section,
                values={field: root_value},
            )
        return
    run(
        settings_override_set(
            actor=SYSTEM, tenant=tree["tenant"], organization=tree["mid"], section=section, values={field: child_value}
        )
    )
    mid_hex = tree["mid"].pk.hex
    assert eff(tree, "top", section)[field] == root_value
    for name in ("mid", "leaf"):  # the child's customization cascades to its own children
        got = eff(tree, name, section)
        assert got[field] == child_value and got.sources[field] == mid_hex, name
    assert eff(tree, "other", section)[field] == root_value


def test_per_locale_texts_merge_key_by_key_with_provenance(tree) -> None:
    t = tree["tenant"]
    run(settings_override_set(actor=SYSTEM, tenant=t, section="templates", values={"sms_otp": {"fr": "Code {code}"}}))
    run(
        settings_override_set(
            actor=SYSTEM, tenant=t, organization=tree["mid"], section="templates", values={"sms_otp": {"de": "Kode"}}
        )
    )
    got = eff(tree, "leaf", "templates")
    assert got["sms_otp"] == {"en": "Your code is {code}.", "fr": "Code {code}", "de": "Kode"}
    assert got.sources["sms_otp[en]"] == "default"
    assert got.sources["sms_otp[fr]"] == "root"
    assert got.sources["sms_otp[de]"] == tree["mid"].pk.hex


def test_only_email_and_sms_otp_connections_are_overridable(tree) -> None:
    t, mid = tree["tenant"], tree["mid"]
    with pytest.raises(ValidationError) as exc:
        settings_override_set(
            actor=SYSTEM, tenant=t, organization=mid, section="connections", values={"passkey": {"rp_name": "x"}}
        )
    assert "cannot be overridden by an organization" in exc.value.message_dict["passkey"][0]
    assert "only email OTP and SMS OTP" in exc.value.message_dict["passkey"][0]
    with pytest.raises(ValidationError, match="cannot be overridden"):
        settings_override_set(
            actor=SYSTEM,
            tenant=t,
            organization=mid,
            section="connections",
            values={"push": {"enabled": True, "timeout_seconds": 30}},
        )
    # The root may change them; children inherit.
    run(
        settings_override_set(
            actor=SYSTEM, tenant=t, section="connections", values={"push": {"enabled": True, "timeout_seconds": 30}}
        )
    )
    assert eff(tree, "leaf", "connections")["push"]["enabled"] is True
    run(
        settings_override_set(
            actor=SYSTEM,
            tenant=t,
            organization=mid,
            section="connections",
            values={"sms_otp": {"enabled": True, "length": 6, "ttl_seconds": 60}},
        )
    )
    assert eff(tree, "leaf", "connections")["sms_otp"]["enabled"] is True


def test_a_non_overridable_override_left_in_the_database_is_ignored(tree) -> None:
    """A schema that tightens later must not leak an old override."""
    SettingsOverride.objects.create(
        tenant=tree["tenant"], organization=tree["mid"], section="dialects", values={"oidc": {"email": "leak"}}
    )
    run(settings_override_set(actor=SYSTEM, tenant=tree["tenant"], section="dialects", values={"oidc": {"a": "b"}}))
    assert eff(tree, "leaf", "dialects")["oidc"] == {"a": "b"}


def test_invalid_values_and_unknown_fields_get_clear_messages(tree) -> None:
    t, mid = tree["tenant"], tree["mid"]
    with pytest.raises(ValidationError) as exc:
        settings_override_set(
            actor=SYSTEM,
            tenant=t,
            organization=mid,
            section="branding",
            values={"primary_color": "red", "nope": 1, "logo_url": "ftp://x"},
        )
    errors = exc.value.message_dict
    assert "Use a colour like #0b5cad" in errors["primary_color"][0]
    assert "'nope' is not a field of Branding" in errors["nope"][0]
    assert "http(s) URL" in errors["logo_url"][0]
    with pytest.raises(ValidationError, match="Unknown settings section"):
        settings_override_set(actor=SYSTEM, tenant=t, section="colours", values={"a": 1})
    assert not SettingsOverride.objects.filter(organization=mid).exists()


def test_revert_returns_to_the_inherited_value(tree) -> None:
    t, mid = tree["tenant"], tree["mid"]
    run(settings_override_set(actor=SYSTEM, tenant=t, section="branding", values={"display_name": "Root brand"}))
    run(
        settings_override_set(
            actor=SYSTEM, tenant=t, organization=mid, section="branding", values={"display_name": "Mid"}
        )
    )
    assert eff(tree, "leaf", "branding")["display_name"] == "Mid"
    run(settings_override_revert(actor=SYSTEM, tenant=t, organization=mid, section="branding", fields=["display_name"]))
    got = eff(tree, "leaf", "branding")
    assert got["display_name"] == "Root brand" and got.sources["display_name"] == "root"
    assert not SettingsOverride.objects.filter(organization=mid, section="branding").exists()  # only overrides stored


def test_permissions_follow_the_organization_rules(tree) -> None:
    t = tree["tenant"]
    owner = user_create(actor=SYSTEM, tenant=t, username="olga", password="x" * 12, validate_password_strength=False)
    membership_add(actor=SYSTEM, organization=tree["top"], user=owner, role="owner")
    with pytest.raises(PermissionDenied):
        settings_override_set(actor=owner, tenant=t, section="login", values={"self_registration": True})
    with pytest.raises(PermissionDenied):
        settings_override_set(
            actor=owner, tenant=t, organization=tree["other"], section="login", values={"lockout_minutes": 5}
        )
    job = settings_override_set(
        actor=owner, tenant=t, organization=tree["leaf"], section="login", values={"lockout_minutes": 5}
    )
    assert job.total == 1


def test_an_older_job_is_a_no_op_and_a_finished_job_is_not_rerun(tree) -> None:
    t = tree["tenant"]
    old = settings_override_set(actor=SYSTEM, tenant=t, section="branding", values={"display_name": "one"})
    new = settings_override_set(actor=SYSTEM, tenant=t, section="branding", values={"display_name": "two"})
    assert new.version == old.version + 1
    assert run(new) == "done"
    assert run(old) == "skipped"
    old.refresh_from_db()
    assert old.status == PropagationJob.Status.SUPERSEDED
    assert run(new) == "skipped"  # done: a redelivery changes nothing
    new.refresh_from_db()
    assert new.processed == new.total == 4 and new.written == 4
    for name in ("top", "mid", "leaf", "other"):
        got = eff(tree, name, "branding")
        assert got["display_name"] == "two" and got.version == new.version


def test_rows_written_by_a_newer_version_are_never_overwritten_by_an_older_one(tree) -> None:
    from orgs.inheritance.propagation import write_rows

    row = EffectiveSettings.objects.get(organization=tree["leaf"], section="login")
    write_rows(tenant_id=tree["tenant"].pk, section="login", rows=[(tree["leaf"].pk, {"x": 2}, {})], version=100)
    assert (
        write_rows(tenant_id=tree["tenant"].pk, section="login", rows=[(tree["leaf"].pk, {"x": 1}, {})], version=99)
        == 0
    )
    row.refresh_from_db()
    assert row.data == {"x": 2} and row.version == 100


def test_a_moved_organization_inherits_from_its_new_lineage_at_once(tree) -> None:
    t = tree["tenant"]
    run(
        settings_override_set(
            actor=SYSTEM, tenant=t, organization=tree["other"], section="login", values={"lockout_minutes": 60}
        )
    )
    organization_move(actor=SYSTEM, organization=tree["mid"], new_parent=tree["other"])
    for name in ("mid", "leaf"):
        got = eff(tree, name, "login")
        assert got["lockout_minutes"] == 60 and got.sources["lockout_minutes"] == tree["other"].pk.hex


def test_a_new_organization_inherits_its_parents_overrides_without_a_job(tree) -> None:
    t = tree["tenant"]
    run(
        settings_override_set(
            actor=SYSTEM, tenant=t, organization=tree["mid"], section="branding", values={"display_name": "Mid Co"}
        )
    )
    jobs = PropagationJob.objects.count()
    new = organization_create(actor=SYSTEM, tenant=t, identifier="new", display_name="New", parent=tree["leaf"])
    assert PropagationJob.objects.count() == jobs
    got = effective_section(tenant=t, organization=new, section="branding")
    assert got["display_name"] == "Mid Co" and got.sources["display_name"] == tree["mid"].pk.hex


def test_the_login_read_is_one_row_then_cached(tree, django_assert_num_queries) -> None:
    cache.clear()
    with django_assert_num_queries(1):
        effective_section(tenant=tree["tenant"], organization=tree["leaf"], section="branding")
    with django_assert_num_queries(0):
        effective_section(tenant=tree["tenant"], organization=tree["leaf"], section="branding")


def test_the_job_invalidates_the_cache(tree, django_capture_on_commit_callbacks) -> None:
    t = tree["tenant"]
    assert eff(tree, "leaf", "branding")["display_name"] == ""  # now cached
    with django_capture_on_commit_callbacks(execute=True):  # eager Celery: the task runs at commit
        settings_override_set(actor=SYSTEM, tenant=t, section="branding", values={"display_name": "New"})
    assert eff(tree, "leaf", "branding")["display_name"] == "New"
    assert eff(tree, None, "branding")["display_name"] == "New"


def test_another_tenants_organization_is_not_readable(tree) -> None:
    other = Tenant.objects.create(slug="elsewhere")
    with pytest.raises(LookupError):
        effective_section(tenant=other, organization=tree["leaf"], section="branding")


def test_custom_attributes_only_at_the_root_and_user_store_mappings(tree) -> None:
    t, mid = tree["tenant"], tree["mid"]
    attr = {"name": "employeeId", "display_name": "Employee id", "type": "string", "multi_valued_supported": True}
    with pytest.raises(ValidationError, match="Only the tenant root creates custom attributes"):
        settings_override_set(
            actor=SYSTEM, tenant=t, organization=mid, section="user_attributes", values={"custom": [attr]}
        )
    with pytest.raises(ValidationError, match="not a valid new attribute name"):
        settings_override_set(
            actor=SYSTEM, tenant=t, section="user_attributes", values={"custom": [dict(attr, name="email")]}
        )
    store = user_store_create(actor=SYSTEM, organization=mid, name="corp-ldap")
    with pytest.raises(ValidationError, match="only the root creates custom attributes"):
        user_store_mapping_set(actor=SYSTEM, store=store, attribute="employeeId", mapped_to="empNo")
    run(settings_override_set(actor=SYSTEM, tenant=t, section="user_attributes", values={"custom": [attr]}))
    assert eff(tree, "leaf", "user_attributes")["custom"] == [attr]  # inherited below
    m = user_store_mapping_set(actor=SYSTEM, store=store, attribute="employeeId", mapped_to="empNo", multi_valued=True)
    assert (m.mapped_to, m.multi_valued) == ("empNo", True)
    m = user_store_mapping_set(
        actor=SYSTEM, store=store, attribute="emailAddresses", mapped_to="mail", multi_valued=True
    )
    assert m.multi_valued
    with pytest.raises(ValidationError, match="does not support multiple values"):
        user_store_mapping_set(actor=SYSTEM, store=store, attribute="email", multi_valued=True)
    m = user_store_mapping_set(actor=SYSTEM, store=store, attribute="mobile", disabled=True)
    assert m.disabled and m.mapped_to == "mobile"
    with pytest.raises(ValidationError, match="already has a store"):
        user_store_create(actor=SYSTEM, organization=mid, name="corp-ldap")


def test_dialects_are_read_only_below_the_root(tree) -> None:
    t = tree["tenant"]
    with pytest.raises(ValidationError) as exc:
        settings_override_set(
            actor=SYSTEM, tenant=t, organization=tree["top"], section="dialects", values={"oidc": {"email": "x"}}
        )
    assert (
        "cannot be overridden by an organization: Defined at the tenant root and read-only below it."
        in (exc.value.message_dict["oidc"][0])
    )
    view = settings_overview(tenant=t, organization=tree["top"])
    rows = next(rows for sect, rows in view if sect.key == "dialects")
    assert all(not r.editable and "read-only" in r.reason for r in rows)


def test_a_removed_field_left_in_stored_rows_is_dropped_by_its_migration_and_ignored_before(tree) -> None:
    import importlib

    from django.apps import apps

    t = tree["tenant"]
    settings_override_set(actor=SYSTEM, tenant=t, section="dialects", values={"oidc": {"email": "mail"}})
    SettingsOverride.objects.filter(tenant=t, organization__isnull=True, section="dialects").update(
        values={"oidc": {"email": "mail"}, "scim2": {"email": "urn:x"}}
    )
    EffectiveSettings.objects.filter(tenant=t, section="dialects").update(
        data={"oidc": {"email": "mail"}, "scim2": {"email": "urn:x"}}
    )
    cache.clear()
    # Before the migration runs: readers and the overview see only the schema's fields.
    assert "scim2" not in effective_section(tenant=t, organization=None, section="dialects").values
    view = settings_overview(tenant=t, organization=tree["top"])
    assert [r.name for sect, rows in view if sect.key == "dialects" for r in rows] == ["oidc"]
    importlib.import_module("orgs.migrations.0009_drop_dialects_scim2").drop(apps, None)
    assert SettingsOverride.objects.get(tenant=t, organization__isnull=True, section="dialects").values == {
        "oidc": {"email": "mail"}
    }
    assert not EffectiveSettings.objects.filter(tenant=t, section="dialects", data__has_key="scim2").exists()


def test_job_progress_counts_are_exact_over_several_batches(tree, settings) -> None:
    settings.CANOPY_PROPAGATION_BATCH_SIZE = 2
    for i in range(5):
        organization_create(
            actor=SYSTEM, tenant=tree["tenant"], identifier=f"c{i}", display_name="C", parent=tree["top"]
        )
    job = settings_override_set(actor=SYSTEM, tenant=tree["tenant"], section="login", values={"lockout_minutes": 30})
    assert run(job) == "done"
    job.refresh_from_db()
    assert (job.total, job.processed, job.batches) == (9, 9, 5)
    assert Organization.objects.filter(tenant=tree["tenant"]).count() == 9
    assert EffectiveSettings.objects.filter(section="login", data__lockout_minutes=30).count() == 9
