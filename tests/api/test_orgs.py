"""The management API: happy paths, roles, problem+json, ETag/If-Match."""

from __future__ import annotations

import pytest

from orgs.tree.models import Membership, Organization
from tenants.models import AuditEvent, Tenant, User
from tests.support.api import ApiClient, api_token
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db


def client_for(tenant: Tenant, who: User | None) -> ApiClient:
    return ApiClient(api_token(tenant=tenant, user=who), tenant.slug)


@pytest.fixture
def sam(demo: Tenant) -> ApiClient:
    return client_for(demo, user(demo, "sam"))


@pytest.fixture
def alma(demo: Tenant) -> ApiClient:
    return client_for(demo, user(demo, "alma"))


@pytest.fixture
def barbara(demo: Tenant) -> ApiClient:
    return client_for(demo, user(demo, "barbara"))


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


def test_no_token_wrong_scope_expired_or_other_tenant_is_401(demo: Tenant, world_b) -> None:
    sam_user = user(demo, "sam")
    for token in (
        None,
        "not-a-token",
        api_token(tenant=demo, user=sam_user, scope="openid profile"),
        api_token(tenant=demo, user=sam_user, expired=True),
        api_token(tenant=world_b.tenant, user=world_b.admin),  # issued by another tenant
    ):
        response = ApiClient(token, demo.slug).get("organizations/")
        body = assert_problem(response, 401)
        assert body["type"].endswith("not-authenticated")
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_unknown_tenant_is_404(demo: Tenant) -> None:
    assert_problem(ApiClient("x", "no-such-tenant").get("organizations/"), 404)


def test_tenant_admin_lists_tree_filters_and_paginates(demo: Tenant, sam: ApiClient) -> None:
    body = sam.get("organizations/").json()
    assert body["count"] == Organization.objects.filter(tenant=demo).count()
    seen: set[str] = set()
    for o in body["results"]:  # tree (path) order: a parent comes before its children
        assert o["parent"] is None or o["parent"] in seen
        seen.add(o["id"])
    tops = sam.get("organizations/?parent=none").json()["results"]
    assert {o["identifier"] for o in tops} == {"mightybank-americas", "contractor", "my-corporation"}
    kids = sam.get("organizations/?parent=mightybank-americas").json()["results"]
    assert {o["identifier"] for o in kids} == {"acme-bank", "mexbanco"}
    one = sam.get("organizations/?identifier=MEXBANCO").json()["results"]
    assert [o["identifier"] for o in one] == ["mexbanco"]
    page = sam.get("organizations/?page_size=2").json()
    assert len(page["results"]) == 2 and page["next"]
    tree = sam.get("organizations/tree/").json()
    americas = next(o for o in tree if o["identifier"] == "mightybank-americas")
    assert {c["identifier"] for c in americas["children"]} == {"acme-bank", "mexbanco"}


def test_crud_and_move_by_tenant_admin(demo: Tenant, sam: ApiClient) -> None:
    created = sam.post(
        "organizations/", {"identifier": "latam", "display_name": "LatAm", "parent": "mightybank-americas"}
    )
    assert created.status_code == 201, created.content
    org_id = created.json()["id"]
    assert created["ETag"]
    got = sam.get(f"organizations/{org_id}/")
    assert got.json()["identifier"] == "latam" and got["ETag"] == created["ETag"]
    same_by_identifier = sam.get("organizations/latam/")
    assert same_by_identifier.json()["id"] == org_id
    updated = sam.patch(
        f"organizations/{org_id}/", {"display_name": "Latin America"}, headers={"If-Match": got["ETag"]}
    )
    assert updated.status_code == 200 and updated.json()["display_name"] == "Latin America"
    moved = sam.post(f"organizations/{org_id}/move/", {"parent": "contractor"})
    assert moved.status_code == 200 and moved.json()["parent"] == str(org(demo, "contractor").pk)
    top = sam.post(f"organizations/{org_id}/move/", {"parent": None})
    assert top.json()["parent"] is None and top.json()["depth"] == 0
    assert sam.delete(f"organizations/{org_id}/").status_code == 204
    assert_problem(sam.get(f"organizations/{org_id}/"), 404)
    assert AuditEvent.objects.filter(tenant=demo, action="organization.create", actor__username="sam").exists()


def test_delete_with_children_needs_cascade(demo: Tenant, sam: ApiClient) -> None:
    body = assert_problem(sam.delete("organizations/mightybank-americas/"), 400)
    assert "organization" in body["errors"]
    assert sam.delete("organizations/mightybank-americas/?cascade=true").status_code == 204
    assert not Organization.objects.filter(tenant=demo, identifier="acme-bank").exists()


def test_validation_errors_are_problem_json_per_field(sam: ApiClient) -> None:
    body = assert_problem(sam.post("organizations/", {"identifier": "Bad Id!", "display_name": ""}), 400)
    assert "display_name" in body["errors"]
    body = assert_problem(sam.post("organizations/", {"identifier": "Bad Id!", "display_name": "x"}), 400)
    assert "identifier" in body["errors"]
    body = assert_problem(sam.post("organizations/", {"identifier": "acme-bank", "display_name": "Dup"}), 400)
    assert "identifier" in body["errors"]
    body = assert_problem(sam.post("organizations/acme-bank/move/", {"parent": "acme-bank"}), 400)
    assert "parent" in body["errors"]
    body = assert_problem(sam.post("organizations/", {"identifier": "x1", "display_name": "x", "parent": "nope"}), 400)
    assert body["errors"] == {"parent": ["No such organization."]}


def test_etag_if_match_mismatch_is_412_and_nothing_changes(demo: Tenant, sam: ApiClient) -> None:
    first = sam.get("organizations/acme-bank/")
    etag = first["ETag"]
    assert (
        sam.patch("organizations/acme-bank/", {"display_name": "Acme 2"}, headers={"If-Match": etag}).status_code == 200
    )
    stale = sam.patch("organizations/acme-bank/", {"display_name": "Acme 3"}, headers={"If-Match": etag})
    assert_problem(stale, 412)
    assert org(demo, "acme-bank").display_name == "Acme 2"
    assert_problem(sam.delete("organizations/acme-bank/", headers={"If-Match": etag}), 412)
    assert sam.patch("organizations/acme-bank/", {"description": "d"}, headers={"If-Match": "*"}).status_code == 200
    alice = user(demo, "alice")
    member = sam.get(f"organizations/acme-bank/members/{alice.pk}/")
    assert (
        sam.patch(
            f"organizations/acme-bank/members/{alice.pk}/", {"role": "admin"}, headers={"If-Match": member["ETag"]}
        ).status_code
        == 200
    )
    assert_problem(
        sam.patch(
            f"organizations/acme-bank/members/{alice.pk}/", {"role": "member"}, headers={"If-Match": member["ETag"]}
        ),
        412,
    )


def test_members_add_list_role_remove_and_create_user(demo: Tenant, barbara: ApiClient) -> None:
    bob = user(demo, "bob")
    listed = barbara.get("organizations/mightybank-americas/members/").json()
    assert {m["username"] for m in listed["results"]} >= {"alma", "barbara", "alice"}
    # The parent rule, from the services: bob (home mexbanco) is not in acme-bank's parent... he is in americas? no.
    body = assert_problem(barbara.post("organizations/acme-bank/members/", {"user": "bob"}), 400)
    assert "user" in body["errors"]
    added = barbara.post("organizations/acme-bank/members/", {"user": "barbara", "role": "admin"})
    assert added.status_code == 201 and added.json()["role"] == "admin"
    assert barbara.patch(f"organizations/mexbanco/members/{bob.pk}/", {"role": "admin"}).json()["role"] == "admin"
    assert barbara.delete(f"organizations/mexbanco/members/{bob.pk}/").status_code == 204
    assert not Membership.objects.filter(user=bob, organization__identifier="mexbanco").exists()
    created = barbara.post(
        "organizations/acme-bank/users/",
        {"username": "dora", "email": "dora@acme.example", "password": "a-long-Passphrase-42!"},
    )
    assert created.status_code == 201, created.content
    assert created.json()["origin"] == "created-here"
    assert "password" not in created.json()


def test_role_powers_come_from_the_services(demo: Tenant, barbara: ApiClient, alma: ApiClient) -> None:
    # An admin manages people but cannot edit, create sub-organizations, grant owner or delete.
    assert_problem(barbara.patch("organizations/acme-bank/", {"display_name": "x"}), 403)
    assert_problem(
        barbara.post("organizations/", {"identifier": "b1", "display_name": "b", "parent": "acme-bank"}), 403
    )
    assert_problem(barbara.post("organizations/acme-bank/members/", {"user": "alice", "role": "owner"}), 403)
    assert_problem(barbara.delete("organizations/acme-bank/"), 403)
    # An owner of americas edits below, creates sub-organizations, deletes strictly below, not itself.
    assert alma.patch("organizations/acme-bank/", {"display_name": "Acme!"}).status_code == 200
    assert (
        alma.post("organizations/", {"identifier": "a1", "display_name": "A1", "parent": "acme-bank"}).status_code
        == 201
    )
    assert alma.delete("organizations/a1/").status_code == 204
    assert_problem(alma.delete("organizations/mightybank-americas/?cascade=1"), 403)
    # Nobody but tenant admins creates top-level organizations.
    assert_problem(alma.post("organizations/", {"identifier": "top2", "display_name": "T"}), 403)
    # Move within their subtree: mexbanco under acme-bank.
    assert alma.post("organizations/mexbanco/move/", {"parent": "acme-bank"}).status_code == 200
    # ...but never out of it (the destination is outside the reach → like a missing one).
    body = assert_problem(alma.post("organizations/mexbanco/move/", {"parent": "contractor"}), 400)
    assert body["errors"] == {"parent": ["No such organization."]}


def test_delegated_reach_lists_only_the_subtree(demo: Tenant, alma: ApiClient) -> None:
    listed = {o["identifier"] for o in alma.get("organizations/").json()["results"]}
    assert listed == {"mightybank-americas", "acme-bank", "mexbanco"}
    tree = alma.get("organizations/tree/").json()
    assert [o["identifier"] for o in tree] == ["mightybank-americas"]
    assert_problem(alma.get("organizations/contractor/"), 404)


def test_a_plain_member_reaches_nothing(demo: Tenant) -> None:
    alice = client_for(demo, user(demo, "alice"))
    assert alice.get("organizations/").json()["count"] == 0
    assert_problem(alice.get("organizations/acme-bank/"), 404)
    assert_problem(alice.get("organizations/acme-bank/members/"), 404)


def test_client_credentials_token_is_the_tenant_machine_admin(demo: Tenant) -> None:
    machine = client_for(demo, None)
    assert machine.get("organizations/").json()["count"] == Organization.objects.filter(tenant=demo).count()
    created = machine.post("organizations/", {"identifier": "m1", "display_name": "Machine made"})
    assert created.status_code == 201
    event = AuditEvent.objects.get(tenant=demo, action="organization.create", target_id=created.json()["id"])
    assert event.actor_label == "api-client:mightybank-api"
    no_scope = ApiClient(api_token(tenant=demo, user=None, scope="openid"), demo.slug)
    assert_problem(no_scope.get("organizations/"), 401)


def test_inactive_user_token_is_refused(demo: Tenant) -> None:
    alma_user = user(demo, "alma")
    token = api_token(tenant=demo, user=alma_user)
    User.objects.filter(pk=alma_user.pk).update(is_active=False)
    assert_problem(ApiClient(token, demo.slug).get("organizations/"), 401)


def test_schema_and_docs_pages(demo: Tenant) -> None:
    from django.test import Client

    schema = Client().get("/t/mightybank/api/schema/?format=json")
    assert schema.status_code == 200
    doc = schema.json()
    assert doc["servers"][0]["url"] == "/t/mightybank/api/v1"
    assert "/organizations/{org}/members/{user_id}/" in doc["paths"]
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert Client().get("/t/mightybank/api/docs/").status_code == 200
    assert Client().get("/t/nope/api/schema/").status_code == 404


@pytest.mark.parametrize("token_format", ["jwt", "opaque"])
def test_a_client_credentials_token_from_the_token_endpoint_drives_the_api(demo: Tenant, token_format: str) -> None:
    """End to end: Canopy's own token endpoint issues the token the API accepts."""
    import base64

    from django.test import Client

    from idp.oidc.models import Application
    from idp.oidc.services import application_create
    from tenants.actors import SYSTEM

    application_create(
        actor=SYSTEM,
        tenant=demo,
        client_id="ops-robot",
        grant_type="client_credentials",
        client_secret="ops-robot-secret",
        access_token_format=Application.TokenFormat.JWT if token_format == "jwt" else Application.TokenFormat.OPAQUE,
    )
    basic = base64.b64encode(b"ops-robot:ops-robot-secret").decode()
    issued = Client().post(
        "/t/mightybank/oauth/token/",
        {"grant_type": "client_credentials", "scope": "canopy:admin"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert issued.status_code == 200, issued.content
    token = issued.json()["access_token"]
    robot = ApiClient(token, demo.slug)
    assert robot.get("organizations/").json()["count"] == Organization.objects.filter(tenant=demo).count()
    assert robot.post("organizations/", {"identifier": "robot-made", "display_name": "R"}).status_code == 201
    assert_problem(ApiClient(token, "tenant-elsewhere").get("organizations/"), 404)


def test_unknown_api_paths_are_problem_json_for_every_method(demo: Tenant, sam: ApiClient) -> None:
    for method in ("get", "post", "put", "patch", "delete"):
        response = sam.call(method, "/t/mightybank/api/v1/organizations/x/members/-1/", {} if method != "get" else None)
        assert_problem(response, 404)
