"""The management API for an organization's domains, acts-for links and members' profile values."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from orgs.inheritance.services import settings_override_set
from orgs.profiles.models import OrganizationProfileValue
from orgs.sharing.services import sharing_policy_set
from orgs.tree.models import ActsForLink, OrganizationDomain
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant, User
from tenants.services import user_create
from tests.support.api import assert_problem, client_for
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


def test_domains_list_add_remove_and_verified_is_read_only(demo: Tenant) -> None:
    alma = client_for(demo, "alma")  # owner of mightybank-americas
    added = alma.post("organizations/acme-bank/domains/", {"domain": "Acme-Bank.Example", "verified": True})
    assert added.status_code == 201, added.content
    body = added.json()
    assert body["domain"] == "acme-bank.example" and body["verified"] is False  # not settable here
    listed = alma.get("organizations/acme-bank/domains/").json()["results"]
    assert "acme-bank.example" in {d["domain"] for d in listed}
    for bad in ("gmail.com", "not a domain", "acme-bank.example"):
        errors = assert_problem(alma.post("organizations/acme-bank/domains/", {"domain": bad}), 400)
        assert "domain" in errors["errors"], bad
    assert_problem(client_for(demo, "barbara").delete(f"organizations/acme-bank/domains/{body['id']}/"), 403)
    assert_problem(alma.get(f"organizations/mexbanco/domains/{body['id']}/"), 404)  # not that organization's
    assert alma.delete(f"organizations/acme-bank/domains/{body['id']}/").status_code == 204
    assert not OrganizationDomain.objects.filter(pk=body["id"]).exists()
    assert AuditEvent.objects.filter(tenant=demo, action="domain.remove", actor__username="alma").exists()


def test_acts_for_links_are_created_by_tenant_admins(demo: Tenant) -> None:
    sam, alma = client_for(demo, "sam"), client_for(demo, "alma")
    assert_problem(alma.post("organizations/acme-bank/acts-for/", {"on_behalf_of": "mexbanco"}), 403)
    created = sam.post("organizations/acme-bank/acts-for/", {"on_behalf_of": "mexbanco"})
    assert created.status_code == 201, created.content
    link = created.json()
    assert link["on_behalf_of"] == str(org(demo, "mexbanco").pk) and link["on_behalf_of_identifier"] == "mexbanco"
    assert {row["id"] for row in alma.get("organizations/acme-bank/acts-for/").json()["results"]} == {link["id"]}
    for body in ({"on_behalf_of": "mexbanco"}, {"on_behalf_of": "acme-bank"}, {"on_behalf_of": "ghost"}):
        assert "on_behalf_of" in assert_problem(sam.post("organizations/acme-bank/acts-for/", body), 400)["errors"]
    assert_problem(alma.delete(f"organizations/acme-bank/acts-for/{link['id']}/"), 403)
    assert sam.delete(f"organizations/acme-bank/acts-for/{link['id']}/").status_code == 204
    assert not ActsForLink.objects.filter(pk=link["id"]).exists()


@pytest.fixture
def tess(demo: Tenant) -> User:
    """A tenant-level user shared into the americas subtree; given names come from the shared profile."""
    tess = user_create(
        actor=SYSTEM,
        tenant=demo,
        username="tess",
        first_name="Tess",
        last_name="Origin",
        password="x" * 12,
        validate_password_strength=False,
    )
    sharing_policy_set(
        actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "mightybank-americas"), mode="with-children"
    )
    settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        section="user_attributes",
        values={"shared_value_sources": {"given_name": "from-shared-profile"}},
    )
    return tess


def test_profile_values_where_the_source_mode_allows_them(demo: Tenant, tess: User) -> None:
    barbara = client_for(demo, "barbara")  # administrator of mightybank-americas: delegated for profile values
    url = f"organizations/acme-bank/members/{tess.pk}/profile/"
    first = barbara.get(url)
    assert first.status_code == 200, first.content
    assert first.json()["resolved"]["given_name"] == "Tess" and first.json()["modes"]["family_name"] == "from-origin"
    changed = barbara.patch(url, {"given_name": "Tessa"}, headers={"If-Match": first["ETag"]})
    assert changed.status_code == 200, changed.content
    assert changed.json()["resolved"]["given_name"] == "Tessa" and changed.json()["own_values"] == {
        "given_name": "Tessa"
    }
    assert_problem(barbara.patch(url, {"given_name": "Stale"}, headers={"If-Match": first["ETag"]}), 412)
    # family_name comes from the origin profile: refused with a field error naming the mode; nothing changes.
    body = assert_problem(barbara.patch(url, {"given_name": "Other", "family_name": "Acme"}), 400)
    assert list(body["errors"]) == ["family_name"] and "from-origin" in body["errors"]["family_name"][0]
    values = OrganizationProfileValue.objects.filter(user=tess, organization=org(demo, "acme-bank"))
    assert dict(values.values_list("attribute", "value")) == {"given_name": "Tessa"}
    cleared = barbara.patch(url, {"given_name": None})
    assert cleared.status_code == 200 and cleared.json()["own_values"] == {}
    assert AuditEvent.objects.filter(tenant=demo, action="profile.clear", actor__username="barbara").exists()
    assert_problem(barbara.get(f"organizations/contractor/members/{tess.pk}/profile/"), 404)  # outside the subtree
    assert_problem(barbara.get(f"organizations/acme-bank/members/{user(demo, 'sam').pk}/profile/"), 404)  # no member
    assert_problem(client_for(demo, "alice").get(url), 404)  # a member administers nothing
