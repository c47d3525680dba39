"""The organization decision on every path to a code or an assertion (``idp.flow.decision``).

Table-driven: paths × policies. A policy is set on an organization of the quickstart tenant the
way an administrator does (settings overrides, propagated); each path then has to end in a token
whose ``amr``/``acr`` meet it, an assertion whose ``AuthnContextClassRef`` says MFA, or a refusal.
Codes come by real mail (local SMTP), passkeys from the software authenticator, SAML requests
and responses through python3-saml (an independent SP).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client
from lxml import etree

from idp.flow.decision import AUDIT_ACTION, AUDIT_REFUSED
from idp.saml.protocol import AC_MFA
from idp.saml.services import service_provider_update
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.login import require_email_otp
from tests.support.lookups import org, user
from tests.support.mail import Inbox, code_in
from tests.support.oidc import DEMO_WEB, demo_web_authorize, demo_web_claims, query_of, sign_in
from tests.support.saml import (
    SP_ENTITY,
    acs_receive,
    form_fields,
    login_url,
    post_request_xml,
    post_sso,
    register_independent_sp,
    response_xml,
    saml_status,
)
from tests.support.saml import signed_in as saml_signed_in
from tests.support.webauthn import SoftAuthenticator, enroll, post_json, url

pytestmark = pytest.mark.django_db
MFA = "urn:canopy:acr:mfa"
PASSKEY_BASE = "http://localhost:8000"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


# --- policies -----------------------------------------------------------------------------------
@dataclass
class Policy:
    """An organization's rule, who is tested against it, and what a token must then say."""

    organization: str
    username: str
    amr: list[str]
    apply: Callable[[Tenant], Any]


def _passkey_only(tenant: Tenant) -> SoftAuthenticator:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=tenant,
        organization=org(tenant, "mexbanco"),
        section="login",
        values={"authenticators": ["passkey"]},
    )
    job_run(job.pk)
    cache.clear()
    return enroll(tenant, user(tenant, "bob"))


POLICIES = {
    "email_code": Policy(
        "acme-bank", "alice", ["pwd", "otp"], lambda t: require_email_otp(t, "acme-bank", enabled=True)
    ),
    "passkey_only": Policy("mexbanco", "bob", ["hwk", "user"], _passkey_only),
}


@dataclass
class Run:
    """One cell: the tenant, the browser, the policy and what applying it returned (the passkey)."""

    tenant: Tenant
    client: Client
    policy: Policy
    smtp: Inbox
    key: SoftAuthenticator | None


def step_up(run: Run, response: Any) -> str:
    """Follow the policy's step-up page to its end; the URL it returns to (the protocol endpoint)."""
    assert response.status_code == 302, (response.status_code, response.content[:300])
    location = response["Location"]
    assert urlsplit(location).path == "/t/mightybank/login/more/", location
    page = run.client.get(location)
    assert page.status_code == 200 and "One more step" in page.content.decode()
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    started = run.client.post("/t/mightybank/login/more/", query)
    assert started.status_code == 303, started.content[:300]
    return finish_factor(run, started["Location"], query["next"])


def finish_factor(run: Run, factor_page: str, next_url: str) -> str:
    if run.key is None:  # the emailed code
        assert urlsplit(factor_page).path == "/t/mightybank/login/email-code/", factor_page
        done = run.client.post(factor_page, {"code": code_in(run.smtp.messages[-1]), "next": next_url})
        assert done.status_code == 303, done.content[:300]
        return str(done["Location"])
    assert urlsplit(factor_page).path == "/t/mightybank/passkeys/verify/", factor_page
    options = post_json(run.client, url(run.tenant, "authenticate_options"), {"mode": "flow"}).json()
    done = post_json(
        run.client,
        url(run.tenant, "authenticate"),
        {"mode": "flow", "credential": run.key.get(options), "next": next_url},
    )
    assert done.status_code == 200, done.content
    return str(done.json()["redirect"])


def tokens(location: str, verifier: str) -> dict[str, Any]:
    assert location.startswith(DEMO_WEB[2]), location
    return demo_web_claims(location, verifier)


def signed_in_with_password(run: Run) -> None:
    sign_in(run.client, run.tenant, user(run.tenant, run.policy.username))


def last_decision(tenant: Tenant) -> dict[str, Any]:
    event = AuditEvent.objects.filter(tenant=tenant, action=AUDIT_ACTION).order_by("-pk").first()
    assert event is not None
    return dict(event.data)


# --- OIDC paths ---------------------------------------------------------------------------------
def path_parameter(run: Run) -> dict[str, Any]:
    """No session: ``organization=`` names it up front, so the journey itself asks for the policy's factors."""
    authorize, verifier = demo_web_authorize(
        run.tenant, scope="openid organization", state="s", nonce="n", organization=run.policy.organization
    )
    login = run.client.get(authorize)
    assert login.status_code == 302 and login["Location"].startswith("/t/mightybank/login/")
    step = run.client.post("/t/mightybank/login/", {"identifier": run.policy.username, "next": authorize})
    assert step.status_code == 303
    if run.key is None:
        step = run.client.post(step["Location"], {"password": f"{run.policy.username}-demo-pass", "next": authorize})
        assert step.status_code == 303
    back = finish_factor(run, step["Location"], authorize)
    claims = tokens(run.client.get(back)["Location"], verifier)
    assert last_decision(run.tenant)["source"] == "parameter"
    return claims


def path_scope(run: Run) -> dict[str, Any]:
    signed_in_with_password(run)
    authorize, verifier = demo_web_authorize(
        run.tenant, scope=f"openid organization:{run.policy.organization}", state="s", nonce="n"
    )
    back = step_up(run, run.client.get(authorize))
    claims = tokens(run.client.get(back)["Location"], verifier)
    assert last_decision(run.tenant)["source"] == "scope"
    return claims


def path_picker(run: Run) -> dict[str, Any]:
    signed_in_with_password(run)
    authorize, verifier = demo_web_authorize(
        run.tenant, scope="openid organization", state="s", nonce="n", prompt="select_account"
    )
    picker = run.client.get(authorize)
    assert picker.status_code == 302 and "/select-organization/" in picker["Location"]
    pick_id = query_of(picker["Location"])["pick"]
    chosen = run.client.post(
        "/t/mightybank/select-organization/",
        {"pick": pick_id, "organization": str(org(run.tenant, run.policy.organization).pk)},
    )
    assert chosen.status_code == 303
    back = step_up(run, run.client.get(chosen["Location"]))
    claims = tokens(run.client.get(back)["Location"], verifier)
    decided = last_decision(run.tenant)
    assert decided["source"] == "picker" and decided["stepped_up"]
    return claims


def path_existing_session(run: Run) -> dict[str, Any]:
    signed_in_with_password(run)
    authorize, verifier = demo_web_authorize(
        run.tenant, scope="openid organization", state="s", nonce="n", organization=run.policy.organization
    )
    back = step_up(run, run.client.get(authorize))
    claims = tokens(run.client.get(back)["Location"], verifier)
    # The session now meets the policy: the next sign-in for the organization asks nothing more.
    again, verifier = demo_web_authorize(
        run.tenant, scope="openid organization", state="t", nonce="m", organization=run.policy.organization
    )
    assert tokens(run.client.get(again)["Location"], verifier)["amr"] == claims["amr"]
    return claims


OIDC_PATHS = {
    "parameter": path_parameter,
    "scope": path_scope,
    "picker": path_picker,
    "existing_session": path_existing_session,
}


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
@pytest.mark.parametrize("path_name", sorted(OIDC_PATHS))
def test_every_oidc_path_meets_the_organizations_policy(
    demo: Tenant, smtp: Inbox, settings: Any, path_name: str, policy_name: str
) -> None:
    settings.CANOPY_BASE_URL = PASSKEY_BASE
    policy = POLICIES[policy_name]
    key = policy.apply(demo)
    run = Run(demo, Client(), policy, smtp, key if isinstance(key, SoftAuthenticator) else None)
    claims = OIDC_PATHS[path_name](run)
    assert claims["amr"] == policy.amr and claims["acr"] == MFA
    assert claims["org_id"] == str(org(demo, policy.organization).pk)


@pytest.mark.parametrize("policy_name", sorted(POLICIES))
def test_prompt_none_that_needs_a_step_up_is_interaction_required(
    demo: Tenant, smtp: Inbox, settings: Any, policy_name: str
) -> None:
    settings.CANOPY_BASE_URL = PASSKEY_BASE
    policy = POLICIES[policy_name]
    policy.apply(demo)
    run = Run(demo, Client(), policy, smtp, None)
    signed_in_with_password(run)
    authorize, _ = demo_web_authorize(
        demo, scope="openid organization", state="s", nonce="n", organization=policy.organization, prompt="none"
    )
    answer = run.client.get(authorize)
    assert answer.status_code == 302 and answer["Location"].startswith(DEMO_WEB[2])
    params = query_of(answer["Location"])
    assert params["error"] == "interaction_required" and params["state"] == "s" and "code" not in params
    assert AuditEvent.objects.filter(tenant=demo, action=AUDIT_REFUSED, data__reason="interaction").exists()


def test_a_step_up_that_does_not_meet_the_policy_is_refused_not_repeated(demo: Tenant, smtp: Inbox) -> None:
    """Coming back from the step-up still short of the policy (here: the page was skipped) refuses."""
    require_email_otp(demo, "acme-bank", enabled=True)
    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    authorize, _ = demo_web_authorize(demo, scope="openid organization", state="s", nonce="n", organization="acme-bank")
    first = client.get(authorize)
    back = query_of(first["Location"])["next"]
    answer = client.get(back)  # straight back, no code entered
    assert query_of(answer["Location"])["error"] == "access_denied"


# --- consent confirms, never decides ---------------------------------------------------------------
SPA = ("demo-spa", "http://127.0.0.1:8766/callback")


def spa_authorize(tenant: Tenant, **params: str) -> str:
    from tests.support.oidc import authorize_url, pkce

    _, challenge = pkce()
    return authorize_url(
        tenant,
        response_type="code",
        client_id=SPA[0],
        redirect_uri=SPA[1],
        scope="openid organization",
        state="s",
        nonce="n",
        code_challenge=challenge,
        code_challenge_method="S256",
        **params,
    )


def test_a_forged_consent_post_cannot_choose_the_organization_or_skip_the_policy(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, "acme-bank", enabled=True)
    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    # The old form's fields, naming an organization: nothing but a stored transaction counts.
    forged = client.post(
        spa_authorize(demo),
        {
            "client_id": SPA[0],
            "redirect_uri": SPA[1],
            "response_type": "code",
            "scope": "openid organization:acme-bank",
            "state": "s",
            "allow": "Authorize",
        },
    )
    assert forged.status_code == 400 and "Location" not in forged
    # The transaction stored before the step-up, answered directly: the policy is still checked.
    first = client.get(spa_authorize(demo, organization="acme-bank"))
    assert urlsplit(first["Location"]).path == "/t/mightybank/login/more/"
    txn = query_of(query_of(first["Location"])["next"])["canopy_txn"]
    answered = client.post(spa_authorize(demo), {"txn": txn, "allow": "Authorize", "scope": "openid"})
    assert answered.status_code == 302 and urlsplit(answered["Location"]).path == "/t/mightybank/login/more/"
    assert "code" not in query_of(answered["Location"])
    # The consent page of a decision that is met shows only the transaction; posting it gets that decision.
    page = client.get(spa_authorize(demo, organization="mightybank-americas"))
    assert page.status_code == 200 and set(page.context["form"].initial) == {"txn"}
    allowed = client.post(
        spa_authorize(demo),
        {"txn": page.context["form"].initial["txn"], "allow": "Authorize", "organization": "acme-bank"},
    )
    assert urlsplit(allowed["Location"]).netloc == "127.0.0.1:8766" and "code" in query_of(allowed["Location"])
    assert last_decision(demo)["organization_identifier"] == "mightybank-americas"
    # A transaction answers once.
    replay = client.post(spa_authorize(demo), {"txn": page.context["form"].initial["txn"], "allow": "Authorize"})
    assert replay.status_code == 400


def test_organization_required_is_enforced_where_the_code_is_issued(demo: Tenant) -> None:
    from idp.oidc.models import Application

    Application.objects.filter(client_id=SPA[0]).update(organization_required=True)
    sam = user(demo, "sam")  # the tenant admin belongs to no organization
    client = Client()
    sign_in(client, demo, sam)
    page = client.get(spa_authorize(demo))
    assert page.status_code == 403 and "requires you to belong to an organization" in page.content.decode()
    forged = client.post(spa_authorize(demo), {"txn": "made-up", "allow": "Authorize"})
    assert forged.status_code == 400 and "Location" not in forged


# --- SAML paths (email code: Acme Bank) -------------------------------------------------------------
@pytest.fixture
def saml(demo: Tenant, settings: Any, tmp_path: Any, smtp: Inbox) -> dict[str, Any]:
    found = register_independent_sp(demo, settings, tmp_path)
    require_email_otp(demo, "acme-bank", enabled=True)
    return found


def saml_step_up(client: Client, response: Any, smtp: Inbox) -> Any:
    run = Run(client=client, tenant=None, policy=POLICIES["email_code"], smtp=smtp, key=None)  # type: ignore[arg-type]
    return client.get(step_up(run, response))


def assert_mfa_assertion(sp: dict, page: Any, request_id: str | None) -> None:
    post = form_fields(page.content.decode())[1]
    auth = acs_receive(sp, post, request_id)
    assert auth.get_errors() == [], auth.get_last_error_reason()
    root = etree.fromstring(response_xml(post).encode())
    refs = root.findall(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnContextClassRef")
    assert [r.text for r in refs] == [AC_MFA]


def test_saml_redirect_binding_with_the_organization_parameter_steps_up(saml: dict, smtp: Inbox) -> None:
    target, request_id = login_url(saml["sp"])
    client = saml_signed_in("alice", saml["tenant"])
    page = saml_step_up(client, client.get(target + "&organization=acme-bank"), smtp)
    assert_mfa_assertion(saml["sp"], page, request_id)
    decided = last_decision(saml["tenant"])
    assert decided["source"] == "parameter" and decided["stepped_up"] == ["email_otp"]
    assert decided["rp"] == f"saml:{SP_ENTITY}"


def test_saml_post_binding_with_the_organization_parameter_steps_up(saml: dict, smtp: Inbox) -> None:
    xml, request_id = post_request_xml(saml["sp"])
    client = saml_signed_in("alice", saml["tenant"])
    page = saml_step_up(client, post_sso(client, xml, query="?organization=acme-bank"), smtp)
    assert_mfa_assertion(saml["sp"], page, request_id)


def test_saml_sp_default_organization_steps_up(saml: dict, smtp: Inbox) -> None:
    service_provider_update(actor=SYSTEM, sp=saml["model"], default_organization=org(saml["tenant"], "acme-bank"))
    target, request_id = login_url(saml["sp"])
    client = saml_signed_in("alice", saml["tenant"])
    page = saml_step_up(client, client.get(target), smtp)
    assert_mfa_assertion(saml["sp"], page, request_id)
    assert last_decision(saml["tenant"])["source"] == "sp_default"


def test_saml_sign_in_from_scratch_runs_the_policy_in_the_journey(saml: dict, smtp: Inbox) -> None:
    """Not signed in: the journey is told the organization, so it asks for the code after the password."""
    target, request_id = login_url(saml["sp"])
    client = Client()
    login = client.get(target + "&organization=acme-bank")
    next_url = query_of(login["Location"])["next"]
    assert "organization=acme-bank" in next_url
    step = client.post("/t/mightybank/login/", {"identifier": "alice", "next": next_url})
    step = client.post(step["Location"], {"password": "alice-demo-pass", "next": next_url})
    assert urlsplit(step["Location"]).path == "/t/mightybank/login/email-code/"
    done = client.post(step["Location"], {"code": code_in(smtp.messages[-1]), "next": next_url})
    assert_mfa_assertion(saml["sp"], client.get(done["Location"]), request_id)


def test_saml_idp_initiated_sso_steps_up(saml: dict, smtp: Inbox) -> None:
    service_provider_update(actor=SYSTEM, sp=saml["model"], idp_initiated=True)
    client = saml_signed_in("alice", saml["tenant"])
    started = client.get(f"/t/mightybank/saml/sso/init?sp={SP_ENTITY}&organization=acme-bank")
    page = saml_step_up(client, started, smtp)
    post = form_fields(page.content.decode())[1]
    root = etree.fromstring(response_xml(post).encode())
    refs = root.findall(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnContextClassRef")
    assert [r.text for r in refs] == [AC_MFA]


def test_saml_is_passive_that_needs_a_step_up_answers_no_passive(saml: dict) -> None:
    target, _ = login_url(saml["sp"], is_passive=True)
    client = saml_signed_in("alice", saml["tenant"])
    page = client.get(target + "&organization=acme-bank")
    status = saml_status(form_fields(page.content.decode())[1])
    assert status[-1] == "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
    assert "Assertion" not in response_xml(form_fields(page.content.decode())[1])


# --- sign-up closed / open and own branding, on the pages each path shows ------------------------------
def _configure(tenant: Tenant, identifier: str, section: str, **values: Any) -> None:
    job = settings_override_set(
        actor=SYSTEM, tenant=tenant, organization=org(tenant, identifier), section=section, values=values
    )
    job_run(job.pk)
    cache.clear()


def _login_page_via_oidc(tenant: Tenant, identifier: str, client: Client, sp: dict) -> str:
    authorize, _ = demo_web_authorize(
        tenant, scope="openid organization", state="s", nonce="n", organization=identifier
    )
    return client.get(client.get(authorize)["Location"]).content.decode()


def _login_page_via_saml(tenant: Tenant, identifier: str, client: Client, sp: dict) -> str:
    target, _ = login_url(sp)
    return client.get(client.get(target + f"&organization={identifier}")["Location"]).content.decode()


@pytest.fixture
def sp_settings(demo: Tenant, settings: Any, tmp_path: Any) -> dict:
    return register_independent_sp(demo, settings, tmp_path)["sp"]


LOGIN_PAGES = {"oidc_parameter": _login_page_via_oidc, "saml_parameter": _login_page_via_saml}


@pytest.mark.parametrize("via", sorted(LOGIN_PAGES))
def test_sign_up_closed_or_open_follows_the_organization_on_every_path(
    demo: Tenant, sp_settings: dict, via: str
) -> None:
    _configure(demo, "mexbanco", "login", self_registration=True)
    _configure(demo, "mexbanco", "flows", self_registration={"enabled": True, "steps": ["password"], "options": {}})
    closed = LOGIN_PAGES[via](demo, "acme-bank", Client(), sp_settings)  # the root default: closed
    opened = LOGIN_PAGES[via](demo, "mexbanco", Client(), sp_settings)
    assert "Create an account" not in closed
    assert "Create an account" in opened


@pytest.mark.parametrize("via", sorted(LOGIN_PAGES))
def test_own_branding_shows_on_the_journey_of_every_path(demo: Tenant, sp_settings: dict, via: str) -> None:
    _configure(demo, "acme-bank", "branding", display_name="Acme Bank Online", primary_color="#aa0033")
    page = LOGIN_PAGES[via](demo, "acme-bank", Client(), sp_settings)
    assert "Acme Bank Online" in page and "#aa0033" in page
    assert "Acme Bank Online" not in LOGIN_PAGES[via](demo, "mexbanco", Client(), sp_settings)


def test_own_branding_shows_on_the_step_up_page_after_the_picker(demo: Tenant, smtp: Inbox) -> None:
    require_email_otp(demo, "acme-bank", enabled=True)
    _configure(demo, "acme-bank", "branding", display_name="Acme Bank Online")
    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    authorize, _ = demo_web_authorize(demo, scope="openid organization", state="s", nonce="n")
    picker = client.get(authorize)
    chosen = client.post(
        "/t/mightybank/select-organization/",
        {"pick": query_of(picker["Location"])["pick"], "organization": str(org(demo, "acme-bank").pk)},
    )
    step = client.get(client.get(chosen["Location"])["Location"])
    assert "One more step" in step.content.decode() and "Acme Bank Online" in step.content.decode()
