"""Passkeys through Canopy's own endpoints, with a software authenticator (tests/support/webauthn.py).

Real bytes all the way: CBOR attestation objects, ES256 signatures, py_webauthn's checks. The
browser itself (Chromium's virtual authenticator) is in tests/passkeys/test_ceremonies_browser.py.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from lxml import etree

from idp.flow.session import SESSION_AUTH, SESSION_LOGIN
from idp.oidc.validators import acr_for
from idp.passkeys import services
from idp.passkeys.models import PasskeyCredential
from idp.saml.protocol import AC_MFA, authn_context_for
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.login import authorize_next, id_token_after, password_step
from tests.support.lookups import org, user
from tests.support.oidc import sign_in
from tests.support.saml import BASE as SAML_BASE
from tests.support.saml import acs_receive, form_fields, response_xml
from tests.support.saml import login_url as saml_login_url
from tests.support.webauthn import BASE, RP_ID, SoftAuthenticator, enroll, post_json, url
from tests.support.worlds import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("relying_party")]


def passkey_sign_in(client: Client, tenant: Tenant, key: SoftAuthenticator, next_url: str = "", **answer: Any) -> Any:
    options = post_json(client, url(tenant, "authenticate_options"), {"mode": "sign-in"})
    assert options.status_code == 200, options.content
    credential = key.get(options.json(), **answer)
    return post_json(
        client, url(tenant, "authenticate"), {"mode": "sign-in", "credential": credential, "next": next_url}
    )


def assert_not_signed_in(client: Client) -> None:
    assert SESSION_AUTH not in client.session and "_auth_user_id" not in client.session


def test_registration_stores_the_public_key_with_an_opaque_user_handle(demo: Tenant) -> None:
    alice = user(demo, "alice")
    client = Client()
    sign_in(client, demo, alice)
    options = post_json(client, url(demo, "register_options"), {"mode": "account"}).json()
    assert options["rp"] == {"id": RP_ID, "name": demo.display_name}
    assert options["user"]["name"] == "alice" and "alice" not in options["user"]["id"]
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    key = SoftAuthenticator(rp_id=RP_ID, origin=BASE)
    done = post_json(
        client, url(demo, "register"), {"mode": "account", "credential": key.create(options), "name": " Work  laptop "}
    )
    assert done.status_code == 200 and done.json()["redirect"] == "/t/mightybank/account/"
    row = PasskeyCredential.objects.get(tenant=demo, user=alice)
    assert row.name == "Work laptop" and row.credential_id == key.credential_id_b64 and row.transports == ["internal"]
    assert row.user_handle == options["user"]["id"]
    assert AuditEvent.objects.filter(tenant=demo, action="passkey.register", target_id=str(row.pk)).exists()
    # A second passkey keeps the same user handle and excludes the first.
    again = post_json(client, url(demo, "register_options"), {"mode": "account"}).json()
    assert again["user"]["id"] == row.user_handle
    assert [c["id"] for c in again["excludeCredentials"]] == [row.credential_id]


@pytest.mark.setting("connections.passkey")
def test_the_relying_party_settings_reach_the_browser(demo: Tenant) -> None:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=None,
        section="connections",
        values={"passkey": {"rp_name": "Mighty Keys", "user_verification": "required", "resident_key": "required"}},
    )
    job_run(job.pk)
    cache.clear()
    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    options = post_json(client, url(demo, "register_options"), {"mode": "account"}).json()
    assert options["rp"] == {"id": RP_ID, "name": "Mighty Keys"}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    login = post_json(Client(), url(demo, "authenticate_options"), {"mode": "sign-in"}).json()
    assert login["userVerification"] == "required"


def test_registration_needs_a_signed_in_user_and_its_own_challenge(demo: Tenant) -> None:
    anonymous = Client()
    refused = post_json(anonymous, url(demo, "register_options"), {"mode": "account"})
    assert refused.status_code == 403 and "Sign in first" in refused.json()["error"]
    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    key = SoftAuthenticator(rp_id=RP_ID, origin=BASE)
    options = post_json(client, url(demo, "register_options"), {"mode": "account"}).json()
    wrong_rp = post_json(
        client, url(demo, "register"), {"mode": "account", "credential": key.create(options, rp_id="evil.example")}
    )
    assert wrong_rp.status_code == 400 and wrong_rp.json()["error"] == services.MSG_NOT_CREATED
    # That challenge is spent: the same answer again finds nothing.
    replay = post_json(client, url(demo, "register"), {"mode": "account", "credential": key.create(options)})
    assert replay.status_code == 400 and replay.json()["error"] == services.MSG_CHALLENGE
    assert not PasskeyCredential.objects.filter(tenant=demo).exists()


def test_username_less_sign_in_is_multi_factor(demo: Tenant) -> None:
    key = enroll(demo, user(demo, "alice"))
    client = Client()
    options = post_json(client, url(demo, "authenticate_options"), {"mode": "sign-in"}).json()
    assert options["allowCredentials"] == [] and options["userVerification"] == "required"
    assert options["rpId"] == RP_ID
    credential = key.get(options)
    done = post_json(
        client, url(demo, "authenticate"), {"mode": "sign-in", "credential": credential, "next": "/t/mightybank/"}
    )
    assert done.status_code == 200 and done.json() == {"redirect": "/t/mightybank/"}
    auth = client.session[SESSION_AUTH]
    assert auth["user_id"] == user(demo, "alice").pk
    assert auth["amr"] == ["hwk", "user"] and auth["acr"] == "urn:canopy:acr:mfa"
    assert acr_for(["hwk", "user"]) == "urn:canopy:acr:mfa" and authn_context_for(["hwk", "user"]) == AC_MFA
    row = PasskeyCredential.objects.get(credential_id=key.credential_id_b64)
    assert row.sign_count == 1 and row.last_used_at is not None
    assert AuditEvent.objects.filter(tenant=demo, action="login.passkey.verified").exists()


def test_username_less_sign_in_completes_an_oidc_authorization_with_hwk(demo: Tenant) -> None:
    key = enroll(demo, user(demo, "alice"))
    client = Client()
    authorize, verifier = authorize_next(demo, "acme-bank")
    first = client.get(authorize)
    assert first.status_code == 302 and urlsplit(first["Location"]).path == "/t/mightybank/login/"
    login_page = client.get(first["Location"]).content.decode()
    assert "Sign in with a passkey" in login_page and "/t/mightybank/passkeys/sign-in/?next=" in login_page
    done = passkey_sign_in(client, demo, key, next_url=authorize)
    assert done.status_code == 200 and done.json()["redirect"] == authorize
    claims = id_token_after(client, authorize, verifier)
    assert "hwk" in claims["amr"] and claims["acr"] == "urn:canopy:acr:mfa"


def test_an_assertion_for_another_relying_party_is_refused(demo: Tenant) -> None:
    key = enroll(demo, user(demo, "alice"))
    client = Client()
    refused = passkey_sign_in(client, demo, key, rp_id="evil.example")
    assert refused.status_code == 400 and refused.json()["error"] == services.MSG_NOT_VERIFIED
    assert_not_signed_in(client)
    other_origin = passkey_sign_in(client, demo, key, origin="https://evil.example")
    assert other_origin.status_code == 400 and other_origin.json()["error"] == services.MSG_NOT_VERIFIED
    assert_not_signed_in(client)


def test_replayed_and_expired_challenges_are_refused(demo: Tenant) -> None:
    key = enroll(demo, user(demo, "alice"))
    client = Client()
    options = post_json(client, url(demo, "authenticate_options"), {"mode": "sign-in"}).json()
    credential = key.get(options)
    assert (
        post_json(client, url(demo, "authenticate"), {"mode": "sign-in", "credential": credential}).status_code == 200
    )
    # The same answer again, in a fresh browser that asked for a new challenge: refused.
    other = Client()
    post_json(other, url(demo, "authenticate_options"), {"mode": "sign-in"})
    replay = post_json(other, url(demo, "authenticate"), {"mode": "sign-in", "credential": credential})
    assert replay.status_code == 400 and replay.json()["error"] == services.MSG_NOT_VERIFIED
    assert_not_signed_in(other)
    # And with no challenge pending (already used): refused before any check.
    again = post_json(other, url(demo, "authenticate"), {"mode": "sign-in", "credential": key.get(options)})
    assert again.status_code == 400 and again.json()["error"] == services.MSG_CHALLENGE
    # An old challenge: past its five minutes.
    late = Client()
    options = post_json(late, url(demo, "authenticate_options"), {"mode": "sign-in"}).json()
    session = late.session
    pending = session[services.SESSION_KEY]
    pending[services.SIGN_IN]["expires"] = int(time.time()) - 1
    session[services.SESSION_KEY] = pending
    session.save()
    expired = post_json(late, url(demo, "authenticate"), {"mode": "sign-in", "credential": key.get(options)})
    assert expired.status_code == 400 and expired.json()["error"] == services.MSG_CHALLENGE
    assert_not_signed_in(late)


def test_a_revoked_passkey_no_longer_signs_in(demo: Tenant) -> None:
    alice = user(demo, "alice")
    key = enroll(demo, alice)
    owner = Client()
    sign_in(owner, demo, alice)
    row = PasskeyCredential.objects.get(tenant=demo, user=alice)
    revoked = owner.post(reverse("account:passkey_revoke", kwargs={"tenant_slug": "mightybank", "pk": row.pk}))
    assert revoked.status_code == 303 and not PasskeyCredential.objects.filter(pk=row.pk).exists()
    assert AuditEvent.objects.filter(tenant=demo, action="passkey.revoke", target_id=str(row.pk)).exists()
    client = Client()
    refused = passkey_sign_in(client, demo, key)
    assert refused.status_code == 400 and refused.json()["error"] == services.MSG_UNKNOWN
    assert_not_signed_in(client)


def test_a_passkey_of_another_tenant_is_unknown_here(world_a: World, world_b: World) -> None:
    key = enroll(world_b.tenant, world_b.member)
    client = Client()
    refused = passkey_sign_in(client, world_a.tenant, key)
    assert refused.status_code == 400 and refused.json()["error"] == services.MSG_UNKNOWN
    assert_not_signed_in(client)
    assert passkey_sign_in(Client(), world_b.tenant, key).status_code == 200  # at home it works


def test_a_passkey_without_user_verification_cannot_sign_in_alone(demo: Tenant) -> None:
    key = enroll(demo, user(demo, "alice"), user_verifies=False)
    client = Client()
    refused = passkey_sign_in(client, demo, key)
    assert refused.status_code == 400 and refused.json()["error"] == services.MSG_NOT_VERIFIED
    assert_not_signed_in(client)


def test_json_endpoints_need_the_csrf_token(demo: Tenant) -> None:
    client = Client(enforce_csrf_checks=True)
    assert post_json(client, url(demo, "authenticate_options"), {"mode": "sign-in"}).status_code == 403
    assert client.get(url(demo, "authenticate_options")).status_code == 405


def require_passkey(tenant: Tenant, identifier: str) -> None:
    """MexBanco asks for a passkey after the password (login.authenticators)."""
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=org(tenant, identifier),
        section="login",
        values={"authenticators": ["password", "passkey"]},
    )
    job_run(job.pk)
    cache.clear()


def test_mexbanco_asks_for_a_passkey_after_the_password_and_a_first_one_is_created(demo: Tenant) -> None:
    require_passkey(demo, "mexbanco")
    bob = user(demo, "bob")
    authorize, verifier = authorize_next(demo, "mexbanco")
    client = Client()
    client.get(authorize)
    step = password_step(client, authorize, username="bob")
    assert step.status_code == 303 and urlsplit(step["Location"]).path == "/t/mightybank/passkeys/verify/"
    assert_not_signed_in(client)
    page = client.get(step["Location"]).content.decode()
    assert "Create a passkey" in page and "Signing in as <strong>bob</strong>" in page
    # No passkey yet: the step registers one, and that passes it.
    key = SoftAuthenticator(rp_id=RP_ID, origin=BASE)
    options = post_json(client, url(demo, "register_options"), {"mode": "flow"}).json()
    done = post_json(
        client, url(demo, "register"), {"mode": "flow", "credential": key.create(options), "next": authorize}
    )
    assert done.status_code == 200 and done.json()["redirect"] == authorize, done.content
    assert client.session[SESSION_AUTH]["amr"] == ["pwd", "hwk", "user"]
    claims = id_token_after(client, authorize, verifier)
    assert claims["amr"] == ["pwd", "hwk", "user"] and claims["acr"] == "urn:canopy:acr:mfa"

    # Next time the existing passkey is asked for, and only bob's.
    again = Client()
    again.get(authorize)
    step = password_step(again, authorize, username="bob")
    assert "Use my passkey" in again.get(step["Location"]).content.decode()
    refused_enrol = post_json(again, url(demo, "register_options"), {"mode": "flow"})
    assert refused_enrol.status_code == 403  # with a passkey, the step does not let you add another
    options = post_json(again, url(demo, "authenticate_options"), {"mode": "flow"}).json()
    assert [c["id"] for c in options["allowCredentials"]] == [key.credential_id_b64]
    passed = post_json(
        again, url(demo, "authenticate"), {"mode": "flow", "credential": key.get(options), "next": authorize}
    )
    assert passed.status_code == 200 and passed.json()["redirect"] == authorize
    assert again.session[SESSION_AUTH]["user_id"] == bob.pk
    assert SESSION_LOGIN not in again.session


def test_the_passkey_step_refuses_someone_elses_passkey(demo: Tenant) -> None:
    require_passkey(demo, "mexbanco")
    enroll(demo, user(demo, "bob"))
    alices = enroll(demo, user(demo, "alice"))
    authorize, _ = authorize_next(demo, "mexbanco")
    client = Client()
    client.get(authorize)
    password_step(client, authorize, username="bob")
    options = post_json(client, url(demo, "authenticate_options"), {"mode": "flow"}).json()
    refused = post_json(client, url(demo, "authenticate"), {"mode": "flow", "credential": alices.get(options)})
    assert refused.status_code == 400 and refused.json()["error"] == services.MSG_UNKNOWN
    assert_not_signed_in(client)


def test_organizations_without_the_setting_do_not_ask(demo: Tenant) -> None:
    require_passkey(demo, "mexbanco")
    authorize, _ = authorize_next(demo, "acme-bank")
    client = Client()
    client.get(authorize)
    step = password_step(client, authorize, username="alice")
    assert step.status_code == 303 and step["Location"] == authorize
    assert client.session[SESSION_AUTH]["amr"] == ["pwd"]


def test_the_passkey_step_page_needs_the_password_first(demo: Tenant) -> None:
    page = Client().get(url(demo, "factor"))
    assert page.status_code == 302 and urlsplit(page["Location"]).path == "/t/mightybank/login/"
    refused = post_json(Client(), url(demo, "authenticate_options"), {"mode": "flow"})
    assert refused.status_code == 400 and "Sign in again" in refused.json()["error"]


def test_admins_list_and_revoke_passkeys_in_their_reach(demo: Tenant, admin_client_for: Any) -> None:
    enroll(demo, user(demo, "alice"), name="Alice key")  # member of MightyBank Americas
    enroll(demo, user(demo, "carol"), name="Carol key")  # Services Contractor: outside Americas
    changelist = reverse("admin:passkeys_passkeycredential_changelist")
    sam = admin_client_for(user(demo, "sam"))
    listed = {o.name for o in sam.get(changelist).context["cl"].result_list}
    assert listed == {"Alice key", "Carol key"}
    alma = admin_client_for(user(demo, "alma"))  # owner of MightyBank Americas
    listed = {o.name for o in alma.get(changelist).context["cl"].result_list}
    assert listed == {"Alice key"}
    carols = PasskeyCredential.objects.get(name="Carol key")
    delete = reverse("admin:passkeys_passkeycredential_delete", args=[carols.pk])
    assert alma.get(delete).status_code == 404
    alices = PasskeyCredential.objects.get(name="Alice key")
    gone = alma.post(reverse("admin:passkeys_passkeycredential_delete", args=[alices.pk]), {"post": "yes"})
    assert gone.status_code == 302 and not PasskeyCredential.objects.filter(pk=alices.pk).exists()
    assert AuditEvent.objects.filter(tenant=demo, action="passkey.revoke", actor=user(demo, "alma")).exists()


def test_a_passkey_sign_in_meets_a_saml_request_for_refeds_mfa(idp: dict[str, Any]) -> None:
    """SAML's AuthnContext comes from the same session methods: hwk + user is MFA there too."""
    key = enroll(idp["tenant"], user(idp["tenant"], "bob"), rp_id="127.0.0.1", origin=SAML_BASE)
    sp = {**idp["sp"], "security": {**idp["sp"]["security"], "requestedAuthnContext": [AC_MFA]}}
    url, request_id = saml_login_url(sp)
    client = Client()
    r = client.get(url)
    assert r.status_code == 302 and urlsplit(r["Location"]).path == "/t/mightybank/login/"
    next_url = parse_qs(urlsplit(r["Location"]).query)["next"][0]
    done = passkey_sign_in(client, idp["tenant"], key, next_url=next_url)
    assert done.status_code == 200 and done.json()["redirect"] == next_url
    post = form_fields(client.get(next_url).content.decode())[1]
    auth = acs_receive(sp, post, request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    root = etree.fromstring(response_xml(post).encode())
    refs = root.findall(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnContextClassRef")
    assert [ref.text for ref in refs] == [AC_MFA]
