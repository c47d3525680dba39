"""Attribute values of shared users by the tenant's source mode (orgs/profiles/services.py), through to the tokens."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from idp.oidc.models import AccessToken
from orgs.inheritance.propagation import invalidate
from orgs.inheritance.services import settings_override_set
from orgs.profiles.models import OrganizationProfileValue
from orgs.profiles.services import profile_value_clear, profile_value_set, resolved_profile
from orgs.tree.models import Membership
from orgs.tree.services import membership_add, organization_create
from tenants.actors import SYSTEM
from tenants.models import AuditEvent
from tenants.services import tenant_create, user_create
from tests.support.lookups import org, user
from tests.support.oidc import DEMO_WEB, basic, jwt_claims, signed_in_flow, userinfo

pytestmark = pytest.mark.django_db


def set_modes(tenant, **modes):
    settings_override_set(
        actor=SYSTEM, tenant=tenant, section="user_attributes", values={"shared_value_sources": modes}
    )
    # The write drops the cached root section on commit; the test transaction never commits.
    invalidate(tenant_id=tenant.pk, organization_ids=[None], section="user_attributes")


def tokens_for(tenant, username, identifier):
    flow = signed_in_flow(tenant, username)
    code = flow.code_from(flow.pick(flow.authorize(scope="openid profile email organization"), identifier))
    tokens = flow.token(code).json()
    return jwt_claims(tokens["id_token"]), userinfo(tenant, tokens["access_token"]).json(), tokens


def test_from_origin_is_the_default_and_refuses_organization_values(demo) -> None:
    acme, alice = org(demo, "acme-bank"), user(demo, "alice")
    with pytest.raises(ValidationError) as exc:
        profile_value_set(actor=SYSTEM, organization=acme, user=alice, attribute="given_name", value="Ally")
    assert "from-origin" in exc.value.message_dict["attribute"][0]
    assert "read-only" in exc.value.message_dict["attribute"][0]
    assert not OrganizationProfileValue.objects.exists()
    id_claims, info, _ = tokens_for(demo, "alice", "acme-bank")
    assert id_claims["given_name"] == info["given_name"] == "Alice"
    assert id_claims["name"] == info["name"] == "Alice Archer"
    assert id_claims["email"] == info["email"] == "alice@acme.example"


def test_from_origin_ignores_a_stored_value_after_the_tenant_switches_back(demo) -> None:
    acme, alice = org(demo, "acme-bank"), user(demo, "alice")
    set_modes(demo, given_name="from-shared-profile")
    profile_value_set(actor=SYSTEM, organization=acme, user=alice, attribute="given_name", value="Ally")
    set_modes(demo, given_name="from-origin")
    id_claims, info, _ = tokens_for(demo, "alice", "acme-bank")
    assert id_claims["given_name"] == info["given_name"] == "Alice"
    # Clearing stays possible in from-origin mode.
    assert profile_value_clear(actor=SYSTEM, organization=acme, user=alice, attribute="given_name") is True


def test_from_shared_profile_reaches_the_id_token_userinfo_and_introspection(demo) -> None:
    acme, americas, alice = org(demo, "acme-bank"), org(demo, "mightybank-americas"), user(demo, "alice")
    set_modes(demo, given_name="from-shared-profile", email="from-shared-profile")
    alma = user(demo, "alma")  # owner of mightybank-americas, so above acme-bank
    profile_value_set(actor=alma, organization=acme, user=alice, attribute="given_name", value="Ally")
    profile_value_set(actor=alma, organization=acme, user=alice, attribute="email", value="a.archer@acme-bank.example")
    # A value of the parent is not the shared organization's own: not used in this mode.
    profile_value_set(actor=alma, organization=americas, user=alice, attribute="given_name", value="Al")

    id_claims, info, tokens = tokens_for(demo, "alice", "acme-bank")
    assert id_claims["org_id"] == str(acme.pk)
    assert id_claims["given_name"] == info["given_name"] == "Ally"
    assert id_claims["name"] == info["name"] == "Ally Archer"  # composed from the resolved names
    assert id_claims["family_name"] == "Archer"  # still from origin
    assert id_claims["email"] == info["email"] == "a.archer@acme-bank.example"
    introspected = Client().post(
        f"/t/{demo.slug}/oauth/introspect/",
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic(DEMO_WEB[0], DEMO_WEB[1]),
    )
    assert introspected.status_code == 200 and introspected.json()["active"] is True
    assert introspected.json()["given_name"] == "Ally"

    # The parent selected: its own value; the user record itself is untouched.
    id_claims, info, _ = tokens_for(demo, "alice", "mightybank-americas")
    assert id_claims["given_name"] == info["given_name"] == "Al"
    assert id_claims["email"] == "alice@acme.example"
    alice.refresh_from_db()
    assert alice.first_name == "Alice"

    # Cleared: back to the origin value.
    assert profile_value_clear(actor=alma, organization=acme, user=alice, attribute="given_name") is True
    id_claims, _, _ = tokens_for(demo, "alice", "acme-bank")
    assert id_claims["given_name"] == "Alice"
    actions = list(AuditEvent.objects.filter(action__startswith="profile.").values_list("action", "data"))
    assert [a for a, _ in actions].count("profile.set") == 3 and [a for a, _ in actions].count("profile.clear") == 1
    cleared = next(d for a, d in actions if a == "profile.clear")
    assert cleared["before"] == "Ally" and cleared["after"] is None and cleared["attribute"] == "given_name"


def test_first_found_walks_up_two_levels_then_falls_back_to_origin(demo) -> None:
    americas, acme, alice = org(demo, "mightybank-americas"), org(demo, "acme-bank"), user(demo, "alice")
    retail = organization_create(
        actor=SYSTEM, tenant=demo, identifier="acme-retail", display_name="Acme Retail", parent=acme
    )
    membership_add(actor=SYSTEM, organization=retail, user=alice, origin=Membership.Origin.SHARED)
    set_modes(
        demo,
        given_name="first-found-in-hierarchy",
        family_name="first-found-in-hierarchy",
        name="first-found-in-hierarchy",
    )
    profile_value_set(actor=SYSTEM, organization=americas, user=alice, attribute="family_name", value="Americas")
    profile_value_set(actor=SYSTEM, organization=acme, user=alice, attribute="family_name", value="Acme")
    profile_value_set(actor=SYSTEM, organization=americas, user=alice, attribute="given_name", value="Top")

    id_claims, info, _ = tokens_for(demo, "alice", "acme-retail")
    assert id_claims["org_id"] == str(retail.pk)
    assert id_claims["family_name"] == info["family_name"] == "Acme"  # nearest: the parent
    assert id_claims["given_name"] == info["given_name"] == "Top"  # two levels up
    assert id_claims["name"] == "Top Acme"  # no name value anywhere: composed
    assert id_claims["email"] == "alice@acme.example"  # from-origin by default

    # A value on the organization itself wins; a name value is used as is.
    profile_value_set(actor=SYSTEM, organization=retail, user=alice, attribute="family_name", value="Retail")
    profile_value_set(actor=SYSTEM, organization=americas, user=alice, attribute="name", value="Dr. Alice")
    id_claims, info, _ = tokens_for(demo, "alice", "acme-retail")
    assert id_claims["family_name"] == "Retail" and id_claims["name"] == info["name"] == "Dr. Alice"

    # Nothing in the lineage: origin (mexbanco's member bob has no values anywhere).
    assert resolved_profile(user=user(demo, "bob"), organization=org(demo, "mexbanco"))["family_name"] == "Bravo"


def test_resolution_is_one_query_for_the_lineage(demo) -> None:
    acme, alice = org(demo, "acme-bank"), user(demo, "alice")
    set_modes(demo, given_name="first-found-in-hierarchy", email="from-shared-profile")
    resolved_profile(user=alice, organization=acme)  # warm the settings cache
    with CaptureQueriesContext(connection) as ctx:
        resolved_profile(user=alice, organization=acme)
    assert len(ctx.captured_queries) <= 2


def test_permission_is_owner_or_admin_of_the_organization_or_above(demo) -> None:
    acme, alice = org(demo, "acme-bank"), user(demo, "alice")
    set_modes(demo, given_name="from-shared-profile")
    for who in ("alice", "bob", "carol"):  # a plain member (herself), another org's member, another tree
        with pytest.raises(PermissionDenied):
            profile_value_set(actor=user(demo, who), organization=acme, user=alice, attribute="given_name", value="X")
    profile_value_set(actor=user(demo, "barbara"), organization=acme, user=alice, attribute="given_name", value="Ok")
    with pytest.raises(PermissionDenied):
        profile_value_clear(actor=user(demo, "bob"), organization=acme, user=alice, attribute="given_name")
    assert OrganizationProfileValue.objects.get().value == "Ok"


def test_only_members_and_known_attributes_and_non_empty_values(demo) -> None:
    acme = org(demo, "acme-bank")
    set_modes(demo, given_name="from-shared-profile")
    with pytest.raises(ValidationError) as exc:
        profile_value_set(actor=SYSTEM, organization=acme, user=user(demo, "bob"), attribute="given_name", value="B")
    assert "not a member" in exc.value.message_dict["user"][0]
    with pytest.raises(ValidationError):
        profile_value_set(actor=SYSTEM, organization=acme, user=user(demo, "alice"), attribute="salary", value="1")
    with pytest.raises(ValidationError):
        profile_value_set(actor=SYSTEM, organization=acme, user=user(demo, "alice"), attribute="given_name", value=" ")


def test_cross_tenant_users_and_organizations_are_refused(demo) -> None:
    other = tenant_create(actor=SYSTEM, slug="other-bank", display_name="Other")
    eve = user_create(actor=SYSTEM, tenant=other, username="eve", first_name="Eve")
    other_org = organization_create(actor=SYSTEM, tenant=other, identifier="other-hq", display_name="HQ")
    set_modes(demo, given_name="from-shared-profile")
    set_modes(other, given_name="from-shared-profile")
    with pytest.raises(ValidationError) as exc:
        profile_value_set(
            actor=SYSTEM, organization=org(demo, "acme-bank"), user=eve, attribute="given_name", value="E"
        )
    assert "another tenant" in exc.value.message_dict["user"][0]
    # An owner in one tenant has no power in another.
    with pytest.raises(PermissionDenied):
        profile_value_set(actor=user(demo, "alma"), organization=other_org, user=eve, attribute="given_name", value="E")
    # Another tenant's organization never resolves values for this tenant's user.
    assert resolved_profile(user=user(demo, "alice"), organization=other_org)["given_name"] == "Alice"
    assert not OrganizationProfileValue.objects.exists()


def test_source_modes_are_root_only_and_checked(demo) -> None:
    with pytest.raises(ValidationError):
        settings_override_set(
            actor=SYSTEM,
            tenant=demo,
            organization=org(demo, "acme-bank"),
            section="user_attributes",
            values={"shared_value_sources": {"given_name": "from-shared-profile"}},
        )
    with pytest.raises(ValidationError):
        set_modes(demo, given_name="from-anywhere")
    with pytest.raises(ValidationError):
        set_modes(demo, salary="from-origin")


def test_tokens_without_a_selected_organization_use_origin_values(demo) -> None:
    set_modes(demo, given_name="from-shared-profile")
    acme, alice = org(demo, "acme-bank"), user(demo, "alice")
    profile_value_set(actor=SYSTEM, organization=acme, user=alice, attribute="given_name", value="Ally")
    assert resolved_profile(user=alice, organization=None)["given_name"] == "Alice"
    assert AccessToken.objects.count() == 0


def test_saml_attributes_of_the_selected_organization_use_the_resolved_values(demo) -> None:
    from idp.saml.attributes import assertion_attributes
    from idp.saml.models import ServiceProvider

    acme, alice = org(demo, "acme-bank"), user(demo, "alice")
    set_modes(demo, given_name="from-shared-profile")
    profile_value_set(actor=SYSTEM, organization=acme, user=alice, attribute="given_name", value="Ally")
    sp = ServiceProvider(tenant=demo, attribute_release=["given_name", "name", "email"])

    def released(organization):
        return {
            friendly: values
            for _, friendly, values in assertion_attributes(sp=sp, user=alice, organization=organization, via=None)
        }

    assert released(acme) == {"given_name": ["Ally"], "name": ["Ally Archer"], "email": ["alice@acme.example"]}
    assert released(org(demo, "mightybank-americas"))["given_name"] == ["Alice"]
