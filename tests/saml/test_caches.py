"""The per-process caches on the sign-in path stay correct: a change is seen on the very next request.

Eligible organizations (shared by SAML and OIDC through orgs.tree.selectors / orgs.claims) and
service providers are cached per process under a version kept in the shared cache. Each
test changes something through the services, the way an administrator would, and signs in
again with the independent SP (python3-saml) reading the response.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from idp.saml.services import service_provider_update
from orgs.claims import organization_facts
from orgs.sharing.services import sharing_policy_set
from orgs.tree import selectors
from orgs.tree.models import Membership, Organization
from orgs.tree.services import acts_for_add, membership_add, membership_remove, organization_update
from tenants.actors import SYSTEM
from tenants.models import Tenant, User
from tests.support.saml import acs_receive, form_fields, login_url, saml_status, signed_in

pytestmark = pytest.mark.django_db


def org(tenant: Tenant, identifier: str) -> Organization:
    return Organization.objects.get(tenant=tenant, identifier=identifier)


def attributes(idp: dict, client: Any, organization: str = "mexbanco") -> dict[str, list[str]]:
    url, request_id = login_url(idp["sp"])
    response = client.get(url + f"&organization={organization}")
    assert response.status_code == 200, response.content[:300]
    auth = acs_receive(idp["sp"], form_fields(response.content.decode())[1], request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    return auth.get_attributes()


def test_membership_changes_show_on_the_next_sign_in(idp: dict) -> None:
    tenant = idp["tenant"]
    bob = User.objects.get(tenant=tenant, username="bob")
    client = signed_in("bob", tenant)
    assert attributes(idp, client)["org_names"] == ["mexbanco"]

    corp = org(tenant, "my-corporation")
    membership = membership_add(actor=SYSTEM, organization=corp, user=bob)
    assert sorted(attributes(idp, client)["org_names"]) == ["mexbanco", "my-corporation"]

    organization_update(actor=SYSTEM, organization=corp, identifier="my-corp-renamed")
    assert sorted(attributes(idp, client)["org_names"]) == ["mexbanco", "my-corp-renamed"]

    membership_remove(actor=SYSTEM, membership=membership)
    assert attributes(idp, client)["org_names"] == ["mexbanco"]


def test_acts_for_link_and_bulk_sharing_show_on_the_next_sign_in(idp: dict) -> None:
    tenant = idp["tenant"]
    client = signed_in("bob", tenant)
    # an acts-for link from bob's organization: my-corporation becomes eligible, via mexbanco
    url, _ = login_url(idp["sp"])
    refused = form_fields(client.get(url + "&organization=my-corporation").content.decode())[1]
    assert "urn:oasis:names:tc:SAML:2.0:status:RequestDenied" in saml_status(refused)
    acts_for_add(actor=SYSTEM, organization=org(tenant, "mexbanco"), on_behalf_of=org(tenant, "my-corporation"))
    attrs = attributes(idp, client, "my-corporation")
    assert attrs["org_name"] == ["my-corporation"] and attrs["org_acting_for"] == [str(org(tenant, "mexbanco").pk)]
    # sharing inserts memberships in bulk (no row signals): still seen at once
    alice = User.objects.get(tenant=tenant, username="alice")
    alice_client = signed_in("alice", tenant)
    before = attributes(idp, alice_client, "acme-bank")["org_names"]
    assert "mexbanco" not in before
    sharing_policy_set(actor=SYSTEM, tenant=tenant, user=alice, organization=org(tenant, "mexbanco"))
    assert Membership.objects.filter(user=alice, organization__identifier="mexbanco", origin="shared").exists()
    assert sorted(attributes(idp, alice_client, "acme-bank")["org_names"]) == sorted([*before, "mexbanco"])


def test_oidc_and_saml_share_the_same_facts(idp: dict) -> None:
    """organization_facts (OIDC claims) reads the cached list: identical to the uncached computation."""
    tenant = idp["tenant"]
    alice = User.objects.get(tenant=tenant, username="alice")
    expected = [o.pk for o in selectors.user_organizations(user=alice)]
    facts = organization_facts(user=alice, organization=None, via=None, by_identifier=True)
    assert facts["org_ids"] == [str(pk) for pk in expected]
    membership_add(actor=SYSTEM, organization=org(tenant, "my-corporation"), user=alice)
    facts = organization_facts(user=alice, organization=None, via=None, by_identifier=True)
    assert facts["org_ids"] == [str(o.pk) for o in selectors.user_organizations(user=alice)]
    assert len(facts["org_ids"]) == len(expected) + 1
    assert selectors.user_eligible_organizations(user=alice) == selectors.user_eligible_organizations_uncached(
        user=alice
    )


def test_a_change_in_another_process_is_seen_through_the_shared_version(idp: dict) -> None:
    tenant = idp["tenant"]
    bob = User.objects.get(tenant=tenant, username="bob")
    fresh = selectors.user_eligible_organizations(user=bob)
    version = selectors.organizations_version(tenant_id=tenant.pk)
    selectors._eligible[bob.pk] = (version, float("inf"), [])  # this process's (stale) copy
    assert selectors.user_eligible_organizations(user=bob) == []
    cache.set(selectors._version_key(tenant.pk), "bumped-by-another-process", timeout=None)
    assert selectors.user_eligible_organizations(user=bob) == fresh


def test_service_provider_changes_show_on_the_next_request(idp: dict) -> None:
    tenant = idp["tenant"]
    client = signed_in("bob", tenant)
    assert "org_id" in attributes(idp, client)
    service_provider_update(actor=SYSTEM, sp=idp["model"], attribute_release=["username"])
    assert set(attributes(idp, client)) == {"username"}
    idp["model"].delete()
    url, _ = login_url(idp["sp"])
    response = client.get(url)
    assert response.status_code == 400 and b"not registered" in response.content


def test_a_warm_sign_in_reads_only_the_session_and_the_user(idp: dict) -> None:
    client = signed_in("bob", idp["tenant"])
    attributes(idp, client)  # warms the per-process caches
    url, _ = login_url(idp["sp"])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url + "&organization=mexbanco")
    assert response.status_code == 200 and b"SAMLResponse" in response.content
    sql = [q["sql"] for q in queries.captured_queries]
    reads = [q.split(" FROM ")[1].split()[0].strip('"') for q in sql if q.startswith("SELECT")]
    writes = [q.split()[2].strip('"') for q in sql if q.startswith("INSERT")]
    assert reads == ["django_session", "tenants_user"], sql
    # The one write: the organization decision's audit entry (idp.flow.decision.record).
    assert writes == ["tenants_auditevent"] and len(sql) == 3, sql
