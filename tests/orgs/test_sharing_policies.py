"""User sharing: policies expanded into shared memberships, now and for organizations created later."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from orgs.sharing import services as sharing
from orgs.sharing.models import SharingPolicy
from orgs.tree.models import Membership, Organization
from orgs.tree.services import organization_create
from tenants.actors import SYSTEM
from tenants.models import Tenant, User
from tenants.services import user_create
from tests.support.api import ApiClient, api_token
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db


@pytest.fixture
def tess(demo: Tenant) -> User:
    """A tenant-level user: no home organization."""
    return user_create(actor=SYSTEM, tenant=demo, username="tess", password="x" * 12, validate_password_strength=False)


def shared_in(u: User) -> set[str]:
    return set(
        Membership.objects.filter(user=u, origin=Membership.Origin.SHARED).values_list(
            "organization__identifier", flat=True
        )
    )


def test_with_children_covers_the_subtree_and_future_children(demo: Tenant, tess: User) -> None:
    sharing.sharing_policy_set(
        actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "mightybank-americas"), mode="with-children"
    )
    assert shared_in(tess) == {"mightybank-americas", "acme-bank", "mexbanco"}
    organization_create(
        actor=SYSTEM, tenant=demo, identifier="acme-north", display_name="N", parent=org(demo, "acme-bank")
    )
    organization_create(
        actor=SYSTEM, tenant=demo, identifier="cx-sub", display_name="C", parent=org(demo, "contractor")
    )
    assert shared_in(tess) == {"mightybank-americas", "acme-bank", "mexbanco", "acme-north"}
    assert Membership.objects.get(user=tess, organization__identifier="acme-north").role == "member"


def test_selected_and_all_modes(demo: Tenant, tess: User) -> None:
    sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "mexbanco"), role="admin")
    assert shared_in(tess) == {"mexbanco"}
    organization_create(actor=SYSTEM, tenant=demo, identifier="mex-sub", display_name="M", parent=org(demo, "mexbanco"))
    assert shared_in(tess) == {"mexbanco"}
    sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=tess, organization=None, mode="all")
    assert shared_in(tess) == set(Organization.objects.filter(tenant=demo).values_list("identifier", flat=True))
    organization_create(actor=SYSTEM, tenant=demo, identifier="brand-new", display_name="B")
    assert "brand-new" in shared_in(tess)
    # The earlier policy's role stays on its membership; no duplicate memberships.
    assert Membership.objects.get(user=tess, organization__identifier="mexbanco").role == "admin"


def test_only_below_where_the_profile_lives(demo: Tenant) -> None:
    alice = user(demo, "alice")  # home: mightybank-americas, direct member of acme-bank
    with pytest.raises(ValidationError) as exc:
        sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=alice, organization=org(demo, "contractor"))
    assert "organization" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=alice, organization=None, mode="all")
    assert "mode" in exc.value.message_dict
    sharing.sharing_policy_set(
        actor=SYSTEM, tenant=demo, user=alice, organization=org(demo, "mightybank-americas"), mode="with-children"
    )
    assert shared_in(alice) == {"mexbanco"}  # existing memberships keep their origin
    assert Membership.objects.get(user=alice, organization__identifier="acme-bank").origin == "direct"


def test_removing_a_policy_keeps_what_other_policies_and_direct_adds_account_for(demo: Tenant, tess: User) -> None:
    wide = sharing.sharing_policy_set(
        actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "mightybank-americas"), mode="with-children"
    )
    sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "mexbanco"))
    removed = sharing.sharing_policy_remove(actor=SYSTEM, policy=wide)
    assert removed == 2
    assert shared_in(tess) == {"mexbanco"}
    assert not SharingPolicy.objects.filter(pk=wide.pk).exists()


def test_role_powers_apply_to_sharing(demo: Tenant, tess: User) -> None:
    barbara = user(demo, "barbara")  # admin of mightybank-americas
    sharing.sharing_policy_set(actor=barbara, tenant=demo, user=tess, organization=org(demo, "mexbanco"))
    with pytest.raises(PermissionDenied):
        sharing.sharing_policy_set(
            actor=barbara, tenant=demo, user=tess, organization=org(demo, "acme-bank"), role="owner"
        )
    with pytest.raises(PermissionDenied):
        sharing.sharing_policy_set(actor=barbara, tenant=demo, user=tess, organization=None, mode="all")
    with pytest.raises(PermissionDenied):
        sharing.sharing_policy_set(actor=barbara, tenant=demo, user=tess, organization=org(demo, "contractor"))


def test_large_sets_expand_in_a_celery_job(
    demo: Tenant, tess: User, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    monkeypatch.setattr(sharing, "INLINE_LIMIT", 1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        policy = sharing.sharing_policy_set(
            actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "mightybank-americas"), mode="with-children"
        )
    assert shared_in(tess) == set()  # nothing yet: the job is enqueued on commit
    from orgs.sharing.models import SharingJob

    job = SharingJob.objects.get(policy=policy)
    assert job.status == "pending" and job.total == 3
    for callback in callbacks:
        callback()  # Celery runs eagerly in the test settings
    job.refresh_from_db()
    assert job.status == "done" and job.processed == 3
    assert shared_in(tess) == {"mightybank-americas", "acme-bank", "mexbanco"}
    from orgs.tasks import expand_sharing_policy

    assert expand_sharing_policy(policy.pk) == 0  # idempotent on redelivery


def test_api_sharing_policies_and_become_admin(demo: Tenant, tess: User) -> None:
    sam = ApiClient(api_token(tenant=demo, user=user(demo, "sam")), demo.slug)
    created = sam.post(
        "sharing-policies/", {"user": "tess", "organization": "mightybank-americas", "mode": "with-children"}
    )
    assert created.status_code == 201, created.content
    assert shared_in(tess) == {"mightybank-americas", "acme-bank", "mexbanco"}
    policy_id = created.json()["id"]
    assert sam.get(f"sharing-policies/{policy_id}/").json()["mode"] == "with-children"
    assert [p["id"] for p in sam.get("sharing-policies/?user=tess").json()["results"]] == [policy_id]
    bad = sam.post("sharing-policies/", {"user": "alice", "organization": "contractor"})
    assert bad.status_code == 400 and "organization" in bad.json()["errors"]
    assert sam.delete(f"sharing-policies/{policy_id}/").status_code == 204
    assert shared_in(tess) == set()
    # Way 1: a tenant-level user (sam) who creates an organization becomes its admin by sharing.
    made = sam.post("organizations/", {"identifier": "sams-org", "display_name": "Sam's", "become_admin": True})
    assert made.status_code == 201
    m = Membership.objects.get(user__username="sam", organization__identifier="sams-org")
    assert (m.role, m.origin) == ("admin", "shared")
    sam.post("organizations/", {"identifier": "sams-sub", "display_name": "Sub", "parent": "sams-org"})
    assert Membership.objects.filter(
        user__username="sam", organization__identifier="sams-sub", origin="shared"
    ).exists()
    # alma lives in mightybank-americas: not a tenant-level user.
    alma = ApiClient(api_token(tenant=demo, user=user(demo, "alma")), demo.slug)
    refused = alma.post(
        "organizations/", {"identifier": "alma-sub", "display_name": "A", "parent": "acme-bank", "become_admin": True}
    )
    assert refused.status_code == 400 and "become_admin" in refused.json()["errors"]
    assert not Organization.objects.filter(identifier="alma-sub").exists()  # one transaction


def test_delegated_admin_sees_policies_of_the_subtree_only(demo: Tenant, tess: User) -> None:
    sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "contractor"))
    sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=tess, organization=org(demo, "mexbanco"))
    everything = sharing.sharing_policy_set(actor=SYSTEM, tenant=demo, user=tess, organization=None, mode="all")
    barbara = ApiClient(api_token(tenant=demo, user=user(demo, "barbara")), demo.slug)
    listed = barbara.get("sharing-policies/").json()["results"]
    assert {p["organization"] for p in listed} == {str(org(demo, "mexbanco").pk)}
    assert barbara.get(f"sharing-policies/{everything.pk}/").status_code == 404
    contractor_policy = SharingPolicy.objects.get(organization__identifier="contractor")
    assert barbara.delete(f"sharing-policies/{contractor_policy.pk}/").status_code == 404
