"""Delegated administration in the Django admin: owners/admins of an organization see their subtree only.

Demo world: alma owns mightybank-americas (children acme-bank, mexbanco), barbara is an
admin there, alice is only a member; contractor and my-corporation are siblings.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orgs.tree.models import Membership, Organization
from tenants.models import Tenant
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db

SUBTREE = {"mightybank-americas", "acme-bank", "mexbanco"}


def signed_in(tenant: Tenant, username: str) -> Client:
    client = Client()
    response = client.post(
        reverse("admin:login"),
        {"tenant": tenant.slug, "username": username, "password": f"{username}-demo-pass", "next": "/admin/"},
    )
    assert response.status_code == 302, f"{username} could not sign in to the admin"
    return client


def changelist(client: Client, model: str) -> list:
    response = client.get(reverse(f"admin:{model}_changelist"))
    assert response.status_code == 200, (model, response.status_code)
    return list(response.context["cl"].result_list)


def test_owner_and_admin_sign_in_but_a_member_does_not(demo: Tenant) -> None:
    signed_in(demo, "alma")
    signed_in(demo, "barbara")
    response = Client().post(
        reverse("admin:login"), {"tenant": demo.slug, "username": "alice", "password": "alice-demo-pass"}
    )
    assert response.status_code == 200 and "do not match an administrator account" in response.content.decode()


@pytest.mark.parametrize("who", ["alma", "barbara"])
def test_delegated_admin_sees_only_the_subtree(demo: Tenant, world_b, who: str) -> None:
    client = signed_in(demo, who)
    assert {o.identifier for o in changelist(client, "orgs_organization")} == SUBTREE
    members = changelist(client, "orgs_membership")
    assert {m.organization.identifier for m in members} <= SUBTREE
    assert {m.user.username for m in members} >= {"alma", "barbara", "alice", "bob"}
    users = {u.username for u in changelist(client, "tenants_user")}
    assert users == {"alma", "barbara", "alice", "bob"}  # not carol (contractor), not sam (no membership)
    # Parent, sibling and other-tenant rows answer 404 like missing ones.
    outside = [
        *Organization.objects.filter(tenant=demo).exclude(identifier__in=SUBTREE),
        *Organization.objects.filter(tenant=world_b.tenant),
    ]
    for o in outside:
        for view in ("change", "delete", "history"):
            assert client.get(reverse(f"admin:orgs_organization_{view}", args=[o.pk])).status_code == 404
        assert client.get(reverse("admin:orgs_organization_settings", args=[o.pk])).status_code == 404
    carol_membership = Membership.objects.get(user=user(demo, "carol"))
    assert client.get(reverse("admin:orgs_membership_change", args=[carol_membership.pk])).status_code == 404
    assert client.get(reverse("admin:tenants_user_change", args=[user(demo, "carol").pk])).status_code == 404
    assert client.get(reverse("admin:tenants_user_change", args=[world_b.member.pk])).status_code == 404
    # Everything else in the admin stays closed.
    assert client.get(reverse("admin:orgs_organization_root_settings")).status_code == 404
    for model in ("tenants_auditevent", "tenants_tenant", "oidc_application", "orgs_actsforlink", "tenants_signingkey"):
        assert client.get(reverse(f"admin:{model}_changelist")).status_code == 403, model
    index = client.get(reverse("admin:index")).content.decode()
    assert "Audit" not in index and "Signing keys" not in index
    # Autocomplete (used by the parent and user pickers) stays inside the subtree too.
    response = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "orgs", "model_name": "organization", "field_name": "parent", "term": ""},
    )
    assert {r["text"] for r in response.json()["results"]} <= {
        o.display_name for o in Organization.objects.filter(identifier__in=SUBTREE)
    }


def test_users_are_read_only_for_delegated_admins(demo: Tenant) -> None:
    client = signed_in(demo, "alma")
    bob = user(demo, "bob")
    url = reverse("admin:tenants_user_change", args=[bob.pk])
    assert client.get(url).status_code == 200
    client.post(url, {"username": "bob", "is_tenant_admin": "on", "is_staff": "on"})
    bob.refresh_from_db()
    assert not bob.is_tenant_admin and not bob.is_staff
    assert client.get(reverse("admin:tenants_user_add")).status_code == 403


def test_owner_edits_and_creates_below_admin_only_manages_people(demo: Tenant) -> None:
    alma = signed_in(demo, "alma")
    acme = org(demo, "acme-bank")
    data = {
        "parent": str(acme.parent_id),
        "identifier": "acme-bank",
        "display_name": "Acme (by alma)",
        "description": "",
        "logo_uri": "",
    }
    assert alma.post(reverse("admin:orgs_organization_change", args=[acme.pk]), data).status_code == 302
    assert org(demo, "acme-bank").display_name == "Acme (by alma)"
    new = {
        "parent": str(acme.pk),
        "identifier": "acme-retail",
        "display_name": "Acme Retail",
        "description": "",
        "logo_uri": "",
    }
    assert alma.post(reverse("admin:orgs_organization_add"), new).status_code == 302
    assert org(demo, "acme-retail").parent_id == acme.pk
    # No top-level organization, and no parent outside the subtree.
    top = {**new, "parent": "", "identifier": "rogue"}
    response = alma.post(reverse("admin:orgs_organization_add"), top)
    assert response.status_code in (200, 403) and not Organization.objects.filter(identifier="rogue").exists()
    outside = {**new, "parent": str(org(demo, "contractor").pk), "identifier": "rogue2"}
    response = alma.post(reverse("admin:orgs_organization_add"), outside)
    assert response.status_code == 200 and not Organization.objects.filter(identifier="rogue2").exists()

    barbara = signed_in(demo, "barbara")
    data["display_name"] = "Acme (by barbara)"
    response = barbara.post(reverse("admin:orgs_organization_change", args=[acme.pk]), data)
    assert response.status_code == 403
    assert org(demo, "acme-bank").display_name == "Acme (by alma)"
    # barbara adds alice (a member of the parent) to mexbanco; carol is out of reach; owner is alma's to grant.
    add = reverse("admin:orgs_membership_add")
    mex = org(demo, "mexbanco")
    assert (
        barbara.post(add, {"user": user(demo, "alice").pk, "organization": mex.pk, "role": "member"}).status_code == 302
    )
    assert Membership.objects.filter(user__username="alice", organization=mex, origin="direct").exists()
    response = barbara.post(add, {"user": user(demo, "carol").pk, "organization": mex.pk, "role": "member"})
    assert response.status_code == 200 and "user" in response.context["adminform"].form.errors
    response = barbara.post(add, {"user": user(demo, "barbara").pk, "organization": mex.pk, "role": "owner"})
    assert response.status_code == 403
    # The parent-membership rule still applies: bob (home mexbanco) cannot join acme-bank.
    response = barbara.post(add, {"user": user(demo, "bob").pk, "organization": acme.pk, "role": "member"})
    assert response.status_code == 200 and "user" in response.context["adminform"].form.errors


def test_breadcrumbs_and_parent_field_stop_at_the_subtree(demo: Tenant) -> None:
    from orgs.tree.services import organization_user_create
    from tenants.actors import SYSTEM

    organization_user_create(
        actor=SYSTEM,
        organization=org(demo, "acme-bank"),
        username="olga",
        password="olga-demo-pass",
        role=Membership.Role.OWNER,
        validate_password_strength=False,
    )
    client = signed_in(demo, "olga")
    response = client.get(reverse("admin:orgs_organization_change", args=[org(demo, "acme-bank").pk]))
    assert response.status_code == 200
    assert "MightyBank Americas" not in response.content.decode()
    assert "parent" not in response.context["adminform"].form.fields
