"""Admin writes go through the services: their rules show as field errors, nothing half-written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from orgs.tree.models import Membership, Organization, OrganizationDomain
from tenants.models import AuditEvent, User
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db


def change_data(o: Organization, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "parent": o.parent_id or "",
        "identifier": o.identifier,
        "display_name": o.display_name,
        "description": o.description,
        "logo_uri": o.logo_uri,
    }
    data.update(overrides)
    return data


def test_moving_an_organization_under_its_descendant_shows_a_parent_error(demo, admin_client_for) -> None:
    client = admin_client_for(user(demo, "sam"))
    americas, acme = org(demo, "mightybank-americas"), org(demo, "acme-bank")
    url = reverse("admin:orgs_organization_change", args=[americas.pk])
    response = client.post(url, change_data(americas, parent=acme.pk, display_name="Renamed"))
    assert response.status_code == 200
    assert "cycle" in " ".join(response.context["adminform"].form.errors["parent"])
    americas.refresh_from_db()
    assert americas.parent_id is None and americas.display_name == "MightyBank Americas"


def test_changing_parent_and_identifier_in_the_admin_moves_the_subtree_and_keeps_the_id(demo, admin_client_for) -> None:
    client = admin_client_for(user(demo, "sam"))
    acme, corp = org(demo, "acme-bank"), org(demo, "my-corporation")
    url = reverse("admin:orgs_organization_change", args=[acme.pk])
    response = client.post(url, change_data(acme, parent=corp.pk, identifier="acme"))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    moved = Organization.objects.get(pk=acme.pk)
    assert moved.identifier == "acme" and moved.parent == corp and moved.path.startswith(corp.path)
    assert AuditEvent.objects.filter(action="organization.move", target_id=str(acme.pk)).exists()


def test_deleting_an_organization_with_children_in_the_admin_is_refused(demo, admin_client_for) -> None:
    client = admin_client_for(user(demo, "sam"))
    americas = org(demo, "mightybank-americas")
    response = client.post(reverse("admin:orgs_organization_delete", args=[americas.pk]), {"post": "yes"})
    # Django's own confirmation page names the protected sub-organizations.
    assert response.status_code == 200
    assert "protected" in response.content.decode().lower()
    assert Organization.objects.filter(pk=americas.pk).exists()

    changelist = reverse("admin:orgs_organization_changelist")
    response = client.post(
        changelist, {"action": "delete_selected_safely", "_selected_action": [americas.pk]}, follow=True
    )
    assert "has 2 sub-organization(s)" in response.content.decode()
    assert Organization.objects.filter(pk=americas.pk).exists()


def test_admin_membership_form_enforces_the_parent_rule(demo, admin_client_for) -> None:
    client = admin_client_for(user(demo, "sam"))
    bob, acme = user(demo, "bob"), org(demo, "acme-bank")
    response = client.post(
        reverse("admin:orgs_membership_add"),
        {"user": bob.pk, "organization": acme.pk, "role": "member", "origin": "direct"},
    )
    assert response.status_code == 200
    assert "not a member of the parent organization" in " ".join(response.context["adminform"].form.errors["user"])
    assert not Membership.objects.filter(user=bob, organization=acme).exists()


def test_admin_domain_form_refuses_duplicates(demo, admin_client_for) -> None:
    client = admin_client_for(user(demo, "sam"))
    response = client.post(
        reverse("admin:orgs_organizationdomain_add"),
        {"organization": org(demo, "mexbanco").pk, "domain": "Acme.Example", "verified": ""},
    )
    assert response.status_code == 200
    assert "already claimed by organization 'acme-bank'" in " ".join(
        response.context["adminform"].form.errors["domain"]
    )
    assert OrganizationDomain.objects.filter(domain="acme.example").count() == 1


def test_tenant_admin_creates_a_user_in_their_tenant_with_a_per_tenant_username(demo, admin_client_for) -> None:
    from tenants.actors import SYSTEM
    from tenants.services import tenant_create, user_create

    other = tenant_create(actor=SYSTEM, slug="otherbank")
    user_create(actor=SYSTEM, tenant=other, username="dave", password="dave-pass-12345")
    client = admin_client_for(user(demo, "sam"))
    add = reverse("admin:tenants_user_add")
    form = {
        "username": "dave",
        "email": "dave@acme.example",
        "usable_password": "true",
        "password1": "dave-Secret-2026",
        "password2": "dave-Secret-2026",
    }
    response = client.post(add, form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    dave = User.objects.get(tenant=demo, username="dave")
    assert dave.check_password("dave-Secret-2026") and not dave.is_staff
    # The same username again in the same tenant: a clear error, nothing written.
    response = client.post(add, {**form, "username": "DAVE", "email": "dave2@acme.example"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert any("already exists in this tenant" in m for msgs in errors.values() for m in msgs), errors
    assert User.objects.filter(tenant=demo, username__iexact="dave").count() == 1
