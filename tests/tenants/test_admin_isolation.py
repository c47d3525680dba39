"""A tenant administrator of tenant A never reaches a row of tenant B through the admin.

The matrix walks every model registered in the admin. It fails when a
tenant-owned model is registered without tenant scoping (its changelist would
list B's rows, or its change view would open them), and when the fixture world
lacks rows of some tenant-owned model (so a new model cannot slip past unchecked).
"""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.contrib import admin
from django.db.models import Model
from django.urls import reverse

from orgs.tree.models import Membership, Organization
from tenants.admin_base import TenantScopedAdmin
from tenants.models import Tenant
from tenants.scoping import is_tenant_owned

PROJECT_APPS = {"tenants", "orgs", "idp"}


def scoped_models() -> list[type[Model]]:
    return [m for m in admin.site._registry if m is Tenant or is_tenant_owned(m)]


def rows_of(model: type[Model], tenant: Tenant) -> list:
    if model is Tenant:
        return [tenant]
    return list(model._default_manager.filter(tenant=tenant))


def admin_url(model: type[Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_tenant_owned_model_is_registered_with_a_scoped_admin() -> None:
    for model in apps.get_models():
        if model._meta.app_label not in PROJECT_APPS:
            continue
        if not (model is Tenant or is_tenant_owned(model)):
            continue
        assert model in admin.site._registry, f"{model.__name__} is tenant-owned but not in the admin"
        model_admin = admin.site._registry[model]
        assert isinstance(model_admin, TenantScopedAdmin), (
            f"{model.__name__}'s admin must derive from TenantScopedAdmin"
        )


@pytest.mark.django_db
def test_changelists_list_no_row_of_another_tenant(world_a, world_b, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    for model in scoped_models():
        theirs = rows_of(model, world_b.tenant)
        assert theirs, f"the fixture world has no {model.__name__} row: add it to tests/support/worlds/"
        mine = rows_of(model, world_a.tenant)
        for query in ("", "?q=tenant-b", "?q=alice", f"?tenant__id__exact={world_b.tenant.pk}"):
            response = client.get(admin_url(model, "changelist") + query)
            assert response.status_code in (200, 302), (model, query, response.status_code)
            if response.status_code == 302:  # an unknown filter redirects with ?e=1: still no rows shown
                continue
            listed = {obj.pk for obj in response.context["cl"].result_list}
            assert not listed & {o.pk for o in theirs}, f"{model.__name__} changelist leaked tenant B rows ({query})"
            if query == "":
                assert listed == {o.pk for o in mine}, (
                    f"{model.__name__} changelist should list exactly tenant A's rows"
                )


@pytest.mark.django_db
def test_direct_urls_to_another_tenants_rows_answer_404(world_a, world_b, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    for model in scoped_models():
        for obj in rows_of(model, world_b.tenant):
            for view in ("change", "delete", "history"):
                response = client.get(admin_url(model, view, obj.pk))
                assert response.status_code == 404, (model.__name__, view, response.status_code)
            response = client.post(admin_url(model, "delete", obj.pk), {"post": "yes"})
            assert response.status_code == 404, (model.__name__, "delete POST")
            assert type(obj)._default_manager.filter(pk=obj.pk).exists()
    # The same admin does reach their own rows.
    assert client.get(admin_url(Organization, "change", world_a.root.pk)).status_code == 200


@pytest.mark.django_db
def test_autocomplete_offers_no_row_of_another_tenant(world_a, world_b, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    cases = [
        ("orgs", "membership", "user", "alice", {str(world_a.member.pk)}),
        (
            "orgs",
            "membership",
            "organization",
            "",
            {str(o.pk) for o in Organization.objects.filter(tenant=world_a.tenant)},
        ),
        ("orgs", "organization", "parent", "root", {str(world_a.root.pk)}),
        (
            "orgs",
            "actsforlink",
            "on_behalf_of",
            "",
            {str(o.pk) for o in Organization.objects.filter(tenant=world_a.tenant)},
        ),
    ]
    for app_label, model_name, field, term, expected in cases:
        response = client.get(
            reverse("admin:autocomplete"),
            {"app_label": app_label, "model_name": model_name, "field_name": field, "term": term},
        )
        assert response.status_code == 200, response.content
        ids = {item["id"] for item in json.loads(response.content)["results"]}
        assert ids == expected, (model_name, field, ids)


@pytest.mark.django_db
def test_posting_another_tenants_ids_is_refused_and_writes_nothing(world_a, world_b, admin_client_for) -> None:
    client = admin_client_for(world_a.admin)
    before = Membership.objects.count()
    response = client.post(
        admin_url(Membership, "add"),
        {"user": world_b.member.pk, "organization": world_a.root.pk, "role": "member", "origin": "direct"},
    )
    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert Membership.objects.count() == before

    response = client.post(
        admin_url(Organization, "add"),
        {"parent": world_b.root.pk, "identifier": "sneaky", "display_name": "Sneaky"},
    )
    assert response.status_code == 200
    assert "parent" in response.context["adminform"].form.errors
    assert not Organization.objects.filter(identifier="sneaky").exists()


@pytest.mark.django_db
def test_platform_staff_see_every_tenant(world_a, world_b, platform_staff, admin_client_for) -> None:
    client = admin_client_for(platform_staff)
    response = client.get(admin_url(Organization, "changelist"))
    listed = {o.pk for o in response.context["cl"].result_list}
    assert {world_a.root.pk, world_b.root.pk} <= listed
    assert client.get(admin_url(Organization, "change", world_b.root.pk)).status_code == 200


@pytest.mark.django_db
def test_ordinary_users_cannot_use_the_django_admin(demo, admin_client_for) -> None:
    """Members without an admin role stay out; org owners/admins are delegated (tests/orgs/test_delegated_admin.py)."""
    from tests.support.lookups import user

    for username in ("alice", "bob", "carol"):
        client = admin_client_for(user(demo, username))
        response = client.get(admin_url(Organization, "changelist"))
        assert response.status_code == 302 and "/admin/login/" in response["Location"], username


@pytest.mark.django_db
def test_admin_login_needs_the_right_tenant(world_a, world_b) -> None:
    from django.test import Client

    # Both tenants have a 'sam' with the same password: the tenant field decides who signs in.
    client = Client()
    response = client.post(
        reverse("admin:login"),
        {"tenant": "tenant-b", "username": "sam", "password": "sam-demo-pass", "next": "/admin/"},
    )
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == world_b.admin.pk

    client = Client()
    response = client.post(reverse("admin:login"), {"tenant": "nope", "username": "sam", "password": "sam-demo-pass"})
    assert response.status_code == 200
    assert "do not match an administrator account" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize("as_platform", [False, True])
def test_every_admin_page_renders_for_its_own_rows(world_a, platform_staff, admin_client_for, as_platform) -> None:
    client = admin_client_for(platform_staff if as_platform else world_a.admin)
    assert client.get(reverse("admin:index")).status_code == 200
    for model in scoped_models():
        model_admin = admin.site._registry[model]
        response = client.get(admin_url(model, "add"))
        assert response.status_code in (200, 403), (model.__name__, "add", response.status_code)
        for obj in rows_of(model, world_a.tenant)[:3]:
            for view in ("change", "history"):
                response = client.get(admin_url(model, view, obj.pk))
                assert response.status_code == 200, (model.__name__, view, response.status_code)
        assert model_admin is not None
