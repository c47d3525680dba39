"""The organization rules, enforced by the services whoever calls them."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from orgs.tree.models import Membership, Organization, OrganizationDomain
from orgs.tree.selectors import organization_ancestors, organization_descendants, user_eligible_organizations
from orgs.tree.services import (
    OrganizationHasChildren,
    acts_for_add,
    domain_add,
    membership_add,
    membership_remove,
    membership_set_role,
    organization_create,
    organization_delete,
    organization_move,
    organization_update,
    organization_user_create,
)
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, User
from tenants.services import tenant_create, user_create
from tests.support.lookups import org, user

pytestmark = pytest.mark.django_db


def field_errors(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


# --- the parent rule --------------------------------------------------------


def test_existing_user_joins_a_sub_organization_only_through_its_parent(demo) -> None:
    bob, acme = user(demo, "bob"), org(demo, "acme-bank")
    with pytest.raises(ValidationError) as exc:
        membership_add(actor=user(demo, "alma"), organization=acme, user=bob)
    assert "not a member of the parent organization 'mightybank-americas'" in field_errors(exc)["user"][0]
    assert not Membership.objects.filter(user=bob, organization=acme).exists()

    membership_add(actor=user(demo, "alma"), organization=org(demo, "mightybank-americas"), user=bob)
    membership_add(actor=user(demo, "alma"), organization=acme, user=bob)
    assert Membership.objects.filter(user=bob, organization=acme, origin="direct").exists()


def test_admin_can_create_a_new_profile_directly_in_a_sub_organization(demo) -> None:
    barbara, acme = user(demo, "barbara"), org(demo, "acme-bank")
    newbie = organization_user_create(
        actor=barbara, organization=acme, username="dave", email="dave@acme.example", password="dave-demo-pass-1"
    )
    membership = Membership.objects.get(user=newbie)
    assert membership.organization == acme and membership.origin == "created-here"
    assert newbie.tenant == demo


def test_failed_user_creation_in_an_organization_writes_nothing(demo) -> None:
    acme = org(demo, "acme-bank")
    users_before, audits_before = User.objects.count(), AuditEvent.objects.count()
    with pytest.raises(PermissionDenied):
        organization_user_create(actor=user(demo, "alice"), organization=acme, username="eve", password="eve-pass-1234")
    with pytest.raises(ValidationError) as exc:
        organization_user_create(actor=SYSTEM, organization=acme, username="alice", password="x-pass-123456")
    assert "already exists" in field_errors(exc)["username"][0]
    assert (User.objects.count(), AuditEvent.objects.count()) == (users_before, audits_before)


# --- role powers --------------------------------------------------------------


def test_only_tenant_admins_create_top_level_organizations(demo) -> None:
    for name in ("alma", "barbara", "alice"):
        with pytest.raises(PermissionDenied):
            organization_create(actor=user(demo, name), tenant=demo, identifier=f"top-{name}", display_name="Top")
    top = organization_create(actor=user(demo, "sam"), tenant=demo, identifier="emea", display_name="MightyBank EMEA")
    assert top.parent is None and top.depth == 0


def test_owners_create_sub_organizations_admins_and_members_do_not(demo) -> None:
    americas = org(demo, "mightybank-americas")
    sub = organization_create(
        actor=user(demo, "alma"), tenant=demo, identifier="banco-sur", display_name="Banco Sur", parent=americas
    )
    assert sub.parent == americas
    # Ownership reaches down the tree.
    deeper = organization_create(
        actor=user(demo, "alma"), tenant=demo, identifier="sur-norte", display_name="Norte", parent=sub
    )
    assert deeper.depth == 2
    for name in ("barbara", "alice", "bob"):
        with pytest.raises(PermissionDenied):
            organization_create(
                actor=user(demo, name), tenant=demo, identifier=f"x-{name}", display_name="X", parent=americas
            )


def test_owner_appoints_admins_admin_cannot_appoint_owners(demo) -> None:
    americas, acme = org(demo, "mightybank-americas"), org(demo, "acme-bank")
    alice = user(demo, "alice")
    alice_acme = Membership.objects.get(user=alice, organization=acme)
    # Alma (owner above acme-bank) may appoint an owner or admin there.
    membership_set_role(actor=user(demo, "alma"), membership=alice_acme, role="admin")
    # Barbara (admin of the parent) may appoint admins below but not owners.
    with pytest.raises(PermissionDenied):
        membership_set_role(actor=user(demo, "barbara"), membership=alice_acme, role="owner")
    # Alma owns americas itself, not above it: she may not appoint another owner of americas.
    alice_americas = Membership.objects.get(user=alice, organization=americas)
    with pytest.raises(PermissionDenied):
        membership_set_role(actor=user(demo, "alma"), membership=alice_americas, role="owner")
    membership_set_role(actor=user(demo, "sam"), membership=alice_americas, role="owner")
    assert Membership.objects.get(pk=alice_americas.pk).role == "owner"


def test_sub_organization_admin_cannot_reach_parent_or_sibling(demo) -> None:
    acme, mex, americas = org(demo, "acme-bank"), org(demo, "mexbanco"), org(demo, "mightybank-americas")
    alice = user(demo, "alice")
    membership_set_role(actor=SYSTEM, membership=Membership.objects.get(user=alice, organization=acme), role="owner")
    with pytest.raises(PermissionDenied):
        organization_update(actor=alice, organization=americas, display_name="Mine now")
    with pytest.raises(PermissionDenied):
        organization_update(actor=alice, organization=mex, display_name="Mine now")
    with pytest.raises(PermissionDenied):  # re-parenting a sibling under her own organization
        organization_move(actor=alice, organization=mex, new_parent=acme)
    with pytest.raises(PermissionDenied):
        organization_move(actor=alice, organization=acme, new_parent=None)
    with pytest.raises(PermissionDenied):
        membership_add(actor=alice, organization=mex, user=user(demo, "barbara"))
    assert Organization.objects.get(pk=americas.pk).display_name == "MightyBank Americas"


def test_removing_a_membership_removes_it_below_too(demo) -> None:
    alice = user(demo, "alice")
    membership_remove(
        actor=user(demo, "barbara"),
        membership=Membership.objects.get(user=alice, organization=org(demo, "mightybank-americas")),
    )
    assert not Membership.objects.filter(user=alice).exists()


# --- identifiers and ids ----------------------------------------------------


def test_identifier_is_unique_per_tenant_only(demo) -> None:
    with pytest.raises(ValidationError) as exc:
        organization_create(actor=SYSTEM, tenant=demo, identifier="Acme-Bank", display_name="Again")
    assert "already exists" in field_errors(exc)["identifier"][0]
    other = tenant_create(actor=SYSTEM, slug="otherbank")
    same = organization_create(actor=SYSTEM, tenant=other, identifier="acme-bank", display_name="Acme elsewhere")
    assert same.tenant == other


@pytest.mark.parametrize("bad", ["", "-acme", "acme-", "Acme Bank", "acme/bank", "a" * 65, "ácme"])
def test_invalid_identifiers_are_refused_naming_the_field(demo, bad: str) -> None:
    count = Organization.objects.count()
    with pytest.raises(ValidationError) as exc:
        organization_create(actor=SYSTEM, tenant=demo, identifier=bad, display_name="Bad")
    assert "identifier" in field_errors(exc)
    assert Organization.objects.count() == count


def test_the_id_never_changes_when_the_identifier_does(demo) -> None:
    acme = org(demo, "acme-bank")
    original_id = acme.pk
    organization_update(
        actor=user(demo, "alma"), organization=acme, identifier="acme-bank-na", display_name="Acme Bank NA"
    )
    renamed = Organization.objects.get(identifier="acme-bank-na")
    assert renamed.pk == original_id
    assert "id" not in {f.name for f in Organization._meta.get_fields() if getattr(f, "editable", False)}
    with pytest.raises(TypeError):
        organization_update(actor=SYSTEM, organization=acme, id=uuid.uuid4())  # type: ignore[call-arg]


# --- hierarchy ----------------------------------------------------------------


def test_descendants_and_ancestors_are_one_query_each(demo, django_assert_num_queries) -> None:
    americas, acme = org(demo, "mightybank-americas"), org(demo, "acme-bank")
    with django_assert_num_queries(1):
        assert {o.identifier for o in organization_descendants(organization=americas)} == {"acme-bank", "mexbanco"}
    with django_assert_num_queries(1):
        assert [o.identifier for o in organization_ancestors(organization=acme, include_self=True)] == [
            "mightybank-americas",
            "acme-bank",
        ]


def test_moving_under_a_descendant_is_refused(demo) -> None:
    americas, acme = org(demo, "mightybank-americas"), org(demo, "acme-bank")
    deep = organization_create(actor=SYSTEM, tenant=demo, identifier="acme-ops", display_name="Ops", parent=acme)
    for target in (acme, deep, americas):
        with pytest.raises(ValidationError) as exc:
            organization_move(actor=SYSTEM, organization=americas, new_parent=target)
        assert "cycle" in field_errors(exc)["parent"][0]
    assert Organization.objects.get(pk=americas.pk).parent_id is None


def test_moving_rewrites_the_whole_subtree(demo) -> None:
    acme = org(demo, "acme-bank")
    deep = organization_create(actor=SYSTEM, tenant=demo, identifier="acme-ops", display_name="Ops", parent=acme)
    corp = org(demo, "my-corporation")
    organization_move(actor=SYSTEM, organization=acme, new_parent=corp)
    acme.refresh_from_db()
    deep.refresh_from_db()
    assert acme.parent == corp and acme.depth == 1 and acme.path == corp.path + acme.pk.hex + "/"
    assert deep.depth == 2 and deep.path == acme.path + deep.pk.hex + "/"
    assert {o.identifier for o in organization_descendants(organization=corp)} == {"acme-bank", "acme-ops"}
    assert (
        not organization_descendants(organization=org(demo, "mightybank-americas"))
        .filter(identifier="acme-ops")
        .exists()
    )


def test_parent_from_another_tenant_is_refused(demo) -> None:
    other = tenant_create(actor=SYSTEM, slug="otherbank")
    with pytest.raises(ValidationError) as exc:
        organization_create(actor=SYSTEM, tenant=other, identifier="x", display_name="X", parent=org(demo, "acme-bank"))
    assert "same tenant" in field_errors(exc)["parent"][0]


def test_deleting_an_organization_with_children_is_refused_unless_cascading(demo) -> None:
    americas = org(demo, "mightybank-americas")
    before = Organization.objects.count()
    with pytest.raises(OrganizationHasChildren) as exc:
        organization_delete(actor=SYSTEM, organization=americas)
    assert "acme-bank, mexbanco" in str(exc.value)
    assert Organization.objects.count() == before
    assert organization_delete(actor=SYSTEM, organization=americas, cascade=True) == 3
    assert not Organization.objects.filter(identifier__in=["mightybank-americas", "acme-bank", "mexbanco"]).exists()


# --- domains and acts-for -----------------------------------------------------


def test_a_domain_belongs_to_one_organization_per_tenant(demo) -> None:
    with pytest.raises(ValidationError) as exc:
        domain_add(actor=SYSTEM, organization=org(demo, "mexbanco"), domain="ACME.example.")
    assert "already claimed by organization 'acme-bank'" in field_errors(exc)["domain"][0]
    assert OrganizationDomain.objects.filter(domain="acme.example").count() == 1


@pytest.mark.parametrize(
    "bad", ["gmail.com", "corp.onmicrosoft.com", "not a domain", "localhost", "-x.example", "a..b"]
)
def test_shared_or_malformed_domains_are_refused(demo, bad: str) -> None:
    with pytest.raises(ValidationError) as exc:
        domain_add(actor=SYSTEM, organization=org(demo, "mexbanco"), domain=bad)
    assert "domain" in field_errors(exc)


def test_only_tenant_admins_verify_domains(demo) -> None:
    with pytest.raises(PermissionDenied):
        domain_add(
            actor=user(demo, "alma"), organization=org(demo, "mexbanco"), domain="mexbanco.example.mx", verified=True
        )
    row = domain_add(actor=user(demo, "alma"), organization=org(demo, "mexbanco"), domain="mexbanco.example.mx")
    assert row.verified is False


def test_acts_for_makes_the_represented_organization_eligible(demo) -> None:
    carol = user(demo, "carol")
    eligible = user_eligible_organizations(user=carol)
    assert [(e.organization.identifier, e.via.identifier if e.via else None) for e in eligible] == [
        ("contractor", None),
        ("my-corporation", "contractor"),
    ]
    with pytest.raises(ValidationError):
        acts_for_add(actor=SYSTEM, organization=org(demo, "contractor"), on_behalf_of=org(demo, "my-corporation"))
    with pytest.raises(ValidationError):
        acts_for_add(actor=SYSTEM, organization=org(demo, "contractor"), on_behalf_of=org(demo, "contractor"))
    with pytest.raises(PermissionDenied):
        acts_for_add(
            actor=user(demo, "alma"), organization=org(demo, "mexbanco"), on_behalf_of=org(demo, "my-corporation")
        )


def test_users_of_another_tenant_cannot_be_added(demo) -> None:
    other = tenant_create(actor=SYSTEM, slug="otherbank")
    stranger = user_create(actor=SYSTEM, tenant=other, username="mallory", password="mallory-pass-1234")
    with pytest.raises(ValidationError) as exc:
        membership_add(actor=SYSTEM, organization=org(demo, "mightybank-americas"), user=stranger)
    assert "another tenant" in field_errors(exc)["user"][0]


def test_every_change_is_audited(demo) -> None:
    sam = user(demo, "sam")
    organization_create(actor=sam, tenant=demo, identifier="audited", display_name="Audited")
    event = AuditEvent.objects.filter(action="organization.create").first()
    assert event is not None and event.actor == sam and event.tenant == demo and event.data["identifier"] == "audited"
