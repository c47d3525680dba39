"""Cross-tenant and cross-subtree matrix over every endpoint of the management API.

The endpoints are enumerated from ``idp.api.urls`` (so a new endpoint cannot be
forgotten): for every endpoint naming an organization of tenant A's subtree, a tenant
administrator of tenant B and an owner of a sibling (or child) subtree get 404 for
every HTTP method, by id and by identifier, exactly like a missing object, and nothing
in tenant A changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, reverse

from idp.api.base import TenantAPIView
from orgs.models import Membership, SharingPolicy
from orgs.services import organization_user_create
from tenants.actors import SYSTEM
from tenants.models import AuditEvent
from tests.api_support import ApiClient, api_token

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
# Bodies that would be valid for some endpoint: a refusal must not depend on a body being wrong.
BODY = {
    "identifier": "pwned",
    "display_name": "Pwned",
    "parent": None,
    "role": "owner",
    "user": "sam",
    "username": "pwned",
    "password": "a-long-Passphrase-42!",
}


def api_endpoints() -> list[tuple[str, type[TenantAPIView], set[str], list[str]]]:
    """(url name, view class, path converters, methods) of every API view."""
    import idp.api.urls

    found = []

    def walk(patterns: list[Any], converters: set[str]) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, converters | set(p.pattern.converters))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "view_class", None) or getattr(p.callback, "cls", None)
                if view is not None and issubclass(view, TenantAPIView):
                    names = converters | set(p.pattern.converters)
                    found.append((p.name or "", view, names, [m for m in METHODS if hasattr(view, m)]))

    walk(idp.api.urls.urlpatterns, set())
    return found


def test_the_enumeration_sees_every_view() -> None:
    """Every DRF view in the API urlconf derives from TenantAPIView (schema/docs aside)."""
    import idp.api.urls

    names = {e[0] for e in api_endpoints()}
    assert {"organizations", "organizations-tree", "organization", "organization-move", "members", "member"} <= names
    assert {"organization-users", "sharing-policies", "sharing-policy"} <= names
    for p in idp.api.urls.urlpatterns:
        if isinstance(p, URLPattern) and p.name not in ("schema", "docs", "not-found"):
            raise AssertionError(f"{p.name} is outside v1 and not in the matrix")


@pytest.fixture
def outsiders(world_a, world_b) -> dict[str, ApiClient]:
    sibling = organization_user_create(
        actor=SYSTEM,
        organization=world_a.partner,
        username="pat",
        role=Membership.Role.OWNER,
        validate_password_strength=False,
    )
    below = organization_user_create(
        actor=SYSTEM,
        organization=world_a.child,
        username="cid",
        role=Membership.Role.OWNER,
        validate_password_strength=False,
    )
    b_admin_token = api_token(tenant=world_b.tenant, user=world_b.admin)
    return {
        "tenant B admin at B": ApiClient(b_admin_token, world_b.tenant.slug),
        "tenant B machine admin at B": ApiClient(api_token(tenant=world_b.tenant, user=None), world_b.tenant.slug),
        "sibling subtree owner": ApiClient(api_token(tenant=world_a.tenant, user=sibling), world_a.tenant.slug),
        "child owner (parent of own subtree)": ApiClient(
            api_token(tenant=world_a.tenant, user=below), world_a.tenant.slug
        ),
        "_b_token_at_a": ApiClient(b_admin_token, world_a.tenant.slug),
    }


def test_object_endpoints_of_tenant_a_answer_404_to_outsiders(world_a, world_b, outsiders) -> None:
    targets = {"child owner (parent of own subtree)": [world_a.root]}
    policy_a = SharingPolicy.objects.get(tenant=world_a.tenant, organization=world_a.root)  # tests/world_sharing.py
    before = AuditEvent.objects.filter(tenant=world_a.tenant).count()
    checked = 0
    for name, _view, converters, methods in api_endpoints():
        if not converters & {"org", "policy_id"}:
            continue
        for who, client in outsiders.items():
            if who.startswith("_"):
                continue
            for organization in targets.get(who, [world_a.root, world_a.child]):
                for key in (str(organization.pk), organization.identifier):
                    kwargs: dict[str, Any] = {"tenant_slug": client.slug}
                    if "org" in converters:
                        kwargs["org"] = key
                    if "policy_id" in converters:
                        kwargs["policy_id"] = policy_a.pk
                    if "user_id" in converters:
                        kwargs["user_id"] = world_a.member.pk
                    url = reverse(f"api:{name}", kwargs=kwargs)
                    for method in methods:
                        response = client.call(method, url, BODY if method != "get" else None)
                        assert response.status_code == 404, (who, method, url, response.status_code)
                        assert response["Content-Type"].startswith("application/problem+json")
                        checked += 1
    assert checked > 100
    assert AuditEvent.objects.filter(tenant=world_a.tenant).count() == before


def test_a_token_of_tenant_b_is_unknown_at_tenant_a(world_a, world_b, outsiders) -> None:
    client = outsiders["_b_token_at_a"]
    for name, _view, converters, methods in api_endpoints():
        kwargs: dict[str, Any] = {"tenant_slug": world_a.tenant.slug}
        if "org" in converters:
            kwargs["org"] = str(world_a.root.pk)
        if "user_id" in converters:
            kwargs["user_id"] = world_a.member.pk
        if "policy_id" in converters:
            kwargs["policy_id"] = SharingPolicy.objects.filter(tenant=world_a.tenant).first().pk  # type: ignore[union-attr]
        url = reverse(f"api:{name}", kwargs=kwargs)
        for method in methods:
            assert client.call(method, url, BODY if method != "get" else None).status_code == 401, (method, url)


def test_collection_endpoints_never_show_or_use_tenant_a_rows(world_a, world_b, outsiders) -> None:
    a_ids = {str(o.pk) for o in (world_a.root, world_a.child, world_a.partner)}
    for who, client in outsiders.items():
        if who.startswith("_"):
            continue
        listed = client.get("organizations/?page_size=200").json()["results"]
        if who.startswith("tenant B"):
            assert not {o["id"] for o in listed} & a_ids, who
        else:  # in tenant A, but only their own subtree
            assert str(world_a.root.pk) not in {o["id"] for o in listed}, who
        policies = client.get("sharing-policies/").json()["results"]
        assert str(world_a.root.pk) not in {p["organization"] for p in policies}, who
        response = client.post("sharing-policies/", {"user": "tess", "organization": str(world_a.root.pk)})
        assert response.status_code == 400, who
        tree = client.get("organizations/tree/").json()
        assert str(world_a.root.pk) not in {o["id"] for o in tree}
        for key in (str(world_a.root.pk), world_a.root.identifier):
            response = client.post("organizations/", {"identifier": "pwned", "display_name": "x", "parent": key})
            assert response.status_code == 400 and response.json()["errors"] == {"parent": ["No such organization."]}
        by_filter = client.get(f"organizations/?parent={world_a.root.pk}").json()["results"]
        assert (
            by_filter == [] or who.startswith("child owner") and all(o["id"] != str(world_a.root.pk) for o in by_filter)
        )
