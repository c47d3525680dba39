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
from orgs.invitations.models import Invitation
from orgs.sharing.models import SharingPolicy
from orgs.tree.models import Membership
from orgs.tree.services import organization_user_create
from tenants.actors import SYSTEM
from tenants.models import AuditEvent
from tests.support.api import ApiClient, api_token

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


def object_ids(world: Any) -> dict[str, Any]:
    """URL converter → a row of ``world`` it names (every object kind the API addresses by id)."""
    from idp.federation.models import UpstreamDomain, UpstreamIdP
    from idp.oidc.models import Application
    from idp.saml.models import ServiceProvider
    from orgs.inheritance.models import PropagationJob
    from orgs.sharing.models import SharingJob

    idp = UpstreamIdP.objects.filter(tenant=world.tenant).first()
    return {
        "user_id": world.member.pk,
        "section": "branding",
        "propagation_job_id": PropagationJob.objects.filter(tenant=world.tenant, organization=world.root).first().pk,  # type: ignore[union-attr]
        "sharing_job_id": SharingJob.objects.filter(tenant=world.tenant).first().pk,  # type: ignore[union-attr]
        "client_pk": Application.objects.get(tenant=world.tenant, client_id=f"{world.tenant.slug}-web").pk,
        "idp_id": idp.pk,  # type: ignore[union-attr]
        "upstream_domain_id": UpstreamDomain.objects.filter(idp=idp).first().pk,  # type: ignore[union-attr]
        "sp_id": ServiceProvider.objects.filter(tenant=world.tenant).first().pk,  # type: ignore[union-attr]
        "domain_id": world.domain.pk,
        "link_id": world.link.pk,
        "invitation_id": Invitation.objects.filter(tenant=world.tenant, organization=world.root).first().pk,  # type: ignore[union-attr]
    }


OBJECT_CONVERTERS = {
    "org",
    "policy_id",
    "propagation_job_id",
    "sharing_job_id",
    "client_pk",
    "idp_id",
    "upstream_domain_id",
    "sp_id",
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
    assert {"settings", "settings-section", "effective-settings", "propagation-job-resume", "sharing-job"} <= names
    assert {"oidc-client", "oidc-client-rotate-secret", "upstream-idp", "upstream-domain-verify", "saml-sp"} <= names
    assert {"organization-domain", "acts-for-link", "member-profile"} <= names
    assert {"invitations", "invitation", "invitation-resend"} <= names
    assert {"root-settings", "root-settings-section", "root-effective-settings"} <= names
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
    ids = object_ids(world_a)
    checked = 0
    for name, _view, converters, methods in api_endpoints():
        if not converters & OBJECT_CONVERTERS:
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
                    kwargs.update({c: ids[c] for c in converters if c in ids})
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
    ids = object_ids(world_a)
    for name, _view, converters, methods in api_endpoints():
        kwargs: dict[str, Any] = {"tenant_slug": world_a.tenant.slug}
        if "org" in converters:
            kwargs["org"] = str(world_a.root.pk)
        kwargs.update({c: ids[c] for c in converters if c in ids})
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


TENANT_ADMIN_COLLECTIONS = ("oidc-clients/", "saml-sps/")
REACH_COLLECTIONS = ("jobs/propagation/", "jobs/sharing/", "upstream-idps/")


def test_integration_collections_never_show_tenant_a_rows_to_outsiders(world_a, world_b, outsiders) -> None:
    """Clients and SAML SPs are for tenant admins (404 to delegated owners); jobs and IdPs are cut to the reach."""
    from orgs.inheritance.models import PropagationJob

    a_ids = object_ids(world_a)
    a_rows = {
        "oidc-clients/": {a_ids["client_pk"]},
        "saml-sps/": {a_ids["sp_id"]},
        "upstream-idps/": {a_ids["idp_id"]},
        "jobs/sharing/": {a_ids["sharing_job_id"]},
        "jobs/propagation/": set(
            PropagationJob.objects.filter(tenant=world_a.tenant, organization=world_a.root).values_list("pk", flat=True)
        ),
    }
    for who, client in outsiders.items():
        if who.startswith("_"):
            continue
        for path in TENANT_ADMIN_COLLECTIONS + REACH_COLLECTIONS:
            response = client.get(path + "?page_size=200")
            if who.startswith("tenant B") or path in REACH_COLLECTIONS:
                assert response.status_code == 200, (who, path)
                listed = {row["id"] for row in response.json()["results"]}
                assert not listed & a_rows[path], (who, path)
            else:
                assert response.status_code == 404, (who, path)
        if not who.startswith("tenant B"):  # delegated owners of tenant A: the collections do not exist
            for path in ("settings/", "settings/branding/", "effective-settings/"):
                assert client.get(path).status_code == 404, (who, path)
            assert client.patch("settings/branding/", {"display_name": "pwned"}).status_code == 404, who
            assert client.post("oidc-clients/", {"client_id": "pwned"}).status_code == 404, who
            assert client.post("saml-sps/", {"entity_id": "https://pwned.example/sp"}).status_code == 404, who
