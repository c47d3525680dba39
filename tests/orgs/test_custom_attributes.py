"""Custom attributes (the root's ``user_attributes.custom``) stored per user, asked on the sign-up forms
(required / optional per definition) and the account page, released in OIDC tokens by the scope mapping
and in SAML assertions by the SP's release list; and the ``terms`` step of sign-up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client

from idp.flow import attributes
from idp.saml.services import service_provider_validate
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant, User
from tests.support.lookups import user
from tests.support.oidc import jwt_claims, sign_in, signed_in_flow
from tests.support.registration import GOOD_PASSWORD, form, open_signup
from tests.support.saml import acs_receive, form_fields, post_request_xml, post_sso, signed_in
from tests.support.worlds import World

pytestmark = pytest.mark.django_db
CUSTOM = [
    {"name": "employee_number", "display_name": "Employee number", "type": "integer",
     "multi_valued_supported": False, "required": True},
    {"name": "nickname", "display_name": "Nickname", "type": "string", "multi_valued_supported": False},
    {"name": "languages", "display_name": "Languages", "type": "string", "multi_valued_supported": True},
    {"name": "start_date", "display_name": "Start date", "type": "date", "multi_valued_supported": False},
]  # fmt: skip
TERMS = "https://acme.example/terms"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def root(tenant: Tenant, section: str, **values: Any) -> None:
    job = settings_override_set(actor=SYSTEM, tenant=tenant, organization=None, section=section, values=values)
    job_run(job.pk)
    cache.clear()


def define(tenant: Tenant) -> None:
    root(tenant, "user_attributes", custom=CUSTOM)


@pytest.mark.setting("user_attributes.custom")
def test_sign_up_asks_the_custom_attributes_and_the_terms(demo: Tenant) -> None:
    define(demo)
    root(demo, "branding", terms_url=TERMS)
    root(
        demo,
        "flows",
        self_registration={"enabled": True, "steps": ["identifier", "password", "profile", "terms"], "options": {}},
    )
    open_signup(demo)
    client = Client()
    page = client.get("/t/mightybank/register/?org=acme-bank").content.decode()
    assert 'name="attr-employee_number"' in page and "Nickname (optional)" in page
    assert f'href="{TERMS}"' in page and 'name="accept_terms"' in page

    refused = client.post(
        "/t/mightybank/register/?org=acme-bank", form(**{"attr-employee_number": "12x", "attr-start_date": "31/03"})
    )
    body = refused.content.decode()
    assert refused.status_code == 400
    assert "Employee number: enter a whole number" in body and "Start date: enter a date" in body
    assert attributes.MSG_TERMS in body
    assert 'value="12x"' in body  # what was typed stays on the form
    missing = client.post("/t/mightybank/register/?org=acme-bank", form(accept_terms="on"))
    assert missing.status_code == 400 and "Enter your employee number." in missing.content.decode()
    assert not User.objects.filter(tenant=demo, username="dora").exists()

    done = client.post(
        "/t/mightybank/register/?org=acme-bank",
        form(
            accept_terms="on",
            **{"attr-employee_number": " 4711 ", "attr-languages": "en\n\nes\n", "attr-start_date": "2026-03-31"},
        ),
    )
    assert done.status_code == 303, done.content[:500]
    dora = User.objects.get(tenant=demo, username="dora")
    assert dora.custom_attributes == {"employee_number": 4711, "languages": ["en", "es"], "start_date": "2026-03-31"}
    assert dora.terms_accepted_at is not None and dora.terms_url_accepted == TERMS
    event = AuditEvent.objects.get(tenant=demo, action="user.register", target_id=str(dora.pk))
    assert event.data["terms_accepted"] is True


def test_the_account_page_shows_and_edits_them_all_or_nothing(demo: Tenant) -> None:
    define(demo)
    alice = user(demo, "alice")
    client = Client()
    sign_in(client, demo, alice)
    page = client.get("/t/mightybank/account/").content.decode()
    assert "More about you" in page and 'name="attr-nickname"' in page
    saved = client.post("/t/mightybank/account/attributes/", {"attr-employee_number": "7", "attr-nickname": "Al"})
    assert saved.status_code == 303
    alice.refresh_from_db()
    assert alice.custom_attributes == {"employee_number": 7, "nickname": "Al"}
    assert 'value="Al"' in client.get("/t/mightybank/account/").content.decode()
    bad = client.post("/t/mightybank/account/attributes/", {"attr-employee_number": "seven", "attr-nickname": "Bo"})
    assert bad.status_code == 303
    alice.refresh_from_db()
    assert alice.custom_attributes == {"employee_number": 7, "nickname": "Al"}  # nothing changed
    assert "Employee number: enter a whole number" in client.get("/t/mightybank/account/").content.decode()
    event = AuditEvent.objects.filter(tenant=demo, action="user.attributes.update", target_id=str(alice.pk)).get()
    assert event.data["after"] == ["employee_number", "nickname"]
    # CSRF and sign-in as for every account form.
    assert Client(enforce_csrf_checks=True).post("/t/mightybank/account/attributes/", {}).status_code == 403
    assert Client().post("/t/mightybank/account/attributes/", {})["Location"].startswith("/t/mightybank/login/")


@pytest.mark.setting("dialects.oidc")
@pytest.mark.setting("user_attributes.custom")
def test_oidc_releases_them_where_a_scope_names_them(demo: Tenant) -> None:
    define(demo)
    root(demo, "dialects", oidc={"username": "preferred_username", "employee_number": "employee_no"})
    root(
        demo,
        "oidc_scopes",
        scopes={"openid": ["sub"], "profile": ["given_name"], "employee": ["employee_no", "languages"]},
    )
    bob = user(demo, "bob")
    attributes.values_set(actor=SYSTEM, tenant=demo, user=bob, values={"employee_number": 99, "languages": ["es"]})
    flow = signed_in_flow(demo, "bob")
    claims = jwt_claims(flow.token(flow.code_from(flow.authorize(scope="openid employee"))).json()["id_token"])
    assert claims["employee_no"] == 99 and claims["languages"] == ["es"]
    assert "employee_number" not in claims
    plain = jwt_claims(flow.token(flow.code_from(flow.authorize(scope="openid profile"))).json()["id_token"])
    assert "employee_no" not in plain and "languages" not in plain


def test_saml_releases_them_where_the_sp_lists_them(idp: dict[str, Any]) -> None:
    tenant = idp["tenant"]
    define(tenant)
    bob = user(tenant, "bob")
    attributes.values_set(
        actor=SYSTEM, tenant=tenant, user=bob, values={"nickname": "Bobby", "languages": ["es", "en"]}
    )
    sp = idp["model"]
    sp.attribute_release = [*sp.attribute_release, "nickname", "languages"]
    service_provider_validate(sp)  # custom names are known attributes for this tenant's SPs
    sp.save()
    cache.clear()
    xml, request_id = post_request_xml(idp["sp"])
    _, post = form_fields(post_sso(signed_in("bob", tenant), xml).content.decode())
    auth = acs_receive(idp["sp"], post, request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    got = auth.get_attributes()
    assert got["nickname"] == ["Bobby"] and got["languages"] == ["es", "en"]
    sp.attribute_release = [*sp.attribute_release, "salary"]
    with pytest.raises(ValidationError):
        service_provider_validate(sp)


def test_values_of_another_tenants_definitions_are_not_stored(world_a: World, world_b: World) -> None:
    define(world_a.tenant)
    someone = User.objects.filter(tenant=world_b.tenant).first()
    assert someone is not None
    attributes.values_set(actor=SYSTEM, tenant=world_b.tenant, user=someone, values={"nickname": "X"})
    someone.refresh_from_db()
    assert someone.custom_attributes == {}  # world_b defines no custom attributes


def test_sign_up_without_the_terms_step_records_nothing(demo: Tenant) -> None:
    open_signup(demo)
    root(
        demo,
        "flows",
        self_registration={"enabled": True, "steps": ["identifier", "password"], "options": {}},
    )
    client = Client()
    assert "accept_terms" not in client.get("/t/mightybank/register/?org=acme-bank").content.decode()
    done = client.post("/t/mightybank/register/?org=acme-bank", form(password=GOOD_PASSWORD))
    assert done.status_code == 303
    assert User.objects.get(tenant=demo, username="dora").terms_accepted_at is None


def test_another_tenants_account_form_does_not_reach_this_user(world_a: World, world_b: World) -> None:
    define(world_a.tenant)
    define(world_b.tenant)
    client = Client()
    sign_in(client, world_a.tenant, world_a.member)
    refused = client.post(f"/t/{world_b.tenant.slug}/account/attributes/", {"attr-employee_number": "1"})
    assert refused.status_code == 303 and refused["Location"].startswith(f"/t/{world_b.tenant.slug}/login/")
    world_a.member.refresh_from_db()
    assert world_a.member.custom_attributes == {}
    assert Client().post("/t/no-such-tenant/account/attributes/", {}).status_code == 404
