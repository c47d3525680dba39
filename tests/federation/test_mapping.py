"""Attribute mapping per upstream: user fields and organization profile (custom) attributes, synced only
when the upstream's sync-on-login switch is on. Against the partner OP process."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from idp.federation.models import UpstreamIdP
from idp.federation.services import upstream_idp_create
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from orgs.profiles.models import OrganizationProfileValue
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, User
from tests.support.federation import make_idp, upstream_login
from tests.support.partners import PartnerOP
from tests.support.worlds import World

DANA: dict[str, Any] = {
    "sub": "dana-0001",
    "email": "dana@partner.example",
    "email_verified": True,
    "given_name": "Dana",
    "family_name": "Partner",
    "department": "labs",
    "mobile": "+15550001111",
    "login": "dana.p",
    "costCenter": ["cc-100", "cc-200"],
}
MAPPING = {
    "first_name": "given_name",
    "last_name": "family_name",
    "phone_number": "mobile",
    "username": "login",
    "profile:cost_center": "costCenter",
}


def with_custom_attribute(world: World) -> None:
    attr = {"name": "cost_center", "display_name": "Cost center", "type": "string", "multi_valued_supported": False}
    job = settings_override_set(actor=SYSTEM, tenant=world.tenant, section="user_attributes", values={"custom": [attr]})
    job_run(job.pk)


def dana(world: World) -> User:
    return User.objects.get(tenant=world.tenant, email="dana@partner.example")


def cost_centers(user: User) -> set[tuple[str, str]]:
    return set(
        OrganizationProfileValue.objects.filter(user=user, attribute="cost_center").values_list(
            "organization__identifier", "value"
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize("sync", [True, False])
def test_changed_upstream_attributes_update_on_next_login_only_with_sync(
    world_a: World, partner_ok: PartnerOP, sync: bool
) -> None:
    with_custom_attribute(world_a)
    partner_ok.control(users={"dana": DANA})
    make_idp(world_a, partner_ok, attribute_map=MAPPING, sync_on_login=sync)
    response, _ = upstream_login(Client(), world_a)
    assert response.status_code == 302, response.content[:300]
    user = dana(world_a)
    assert (user.username, user.first_name, user.last_name, user.phone_number) == (
        "dana.p",
        "Dana",
        "Partner",
        "+15550001111",
    )
    created = {(world_a.partner.identifier, "cc-100"), (world_a.root.identifier, "cc-100")}
    assert cost_centers(user) == created  # in each JIT organization, the first value

    changed = {**DANA, "given_name": "Danielle", "mobile": "+15550002222", "login": "danielle", "costCenter": "cc-300"}
    partner_ok.control(users={"dana": changed})
    response, _ = upstream_login(Client(), world_a)
    assert response.status_code == 302
    user = dana(world_a)
    if sync:
        assert (user.username, user.first_name, user.phone_number) == ("danielle", "Danielle", "+15550002222")
        assert cost_centers(user) == {(o, "cc-300") for o, _ in created}
        event = AuditEvent.objects.filter(action="federation.login").latest("pk")
        assert "first_name" in event.data["attributes_updated"] and "+1555" not in str(event.data)
    else:
        assert (user.username, user.first_name, user.phone_number) == ("dana.p", "Dana", "+15550001111")
        assert cost_centers(user) == created


@pytest.mark.django_db
def test_a_missing_or_malformed_claim_never_blanks_a_field(world_a: World, partner_ok: PartnerOP) -> None:
    partner_ok.control(users={"dana": DANA})
    make_idp(world_a, partner_ok, attribute_map={"phone_number": "mobile"}, sync_on_login=True)
    upstream_login(Client(), world_a)
    partner_ok.control(users={"dana": {**DANA, "mobile": "call me maybe", "given_name": ""}})
    upstream_login(Client(), world_a)
    user = dana(world_a)
    assert (user.phone_number, user.first_name) == ("+15550001111", "Dana")


@pytest.mark.django_db
def test_mapping_is_validated(world_a: World) -> None:
    common: dict[str, Any] = {
        "issuer": "https://idp.x.example",
        "authorization_endpoint": "https://idp.x.example/a",
        "token_endpoint": "https://idp.x.example/t",
        "jwks_uri": "https://idp.x.example/j",
        "client_id": "canopy",
    }
    for bad, message in (
        ({"is_superuser": "admin"}, "'is_superuser' is not a user field"),
        ({"profile:nope": "x"}, "'nope' is not a profile or custom attribute"),
        ({"first_name": ""}, "name the upstream claim"),
        (["given_name"], "Give an object"),
    ):
        with pytest.raises(ValidationError) as caught:
            upstream_idp_create(actor=SYSTEM, tenant=world_a.tenant, slug="x", name="X", attribute_map=bad, **common)
        assert message in " ".join(caught.value.message_dict["attribute_map"])
    assert not UpstreamIdP.objects.filter(slug="x").exists()
