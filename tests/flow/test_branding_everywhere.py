"""An organization's branding (``branding.*``) and its per-locale texts on every page and every mail.

The pages of the journey are covered with the decision table (tests/flow/test_organization_decision.py);
here: the consent page, the account page, the error pages and the passkey page, and each mail
Canopy sends (sign-in code, sign-up verification, password recovery, invitation, account
notices), with the texts and the mail templates in the reader's language. Real SMTP (``smtp``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.test import Client

from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.login import password_step, require_email_otp
from tests.support.lookups import org, user
from tests.support.mail import Inbox, body_of
from tests.support.oidc import demo_web_authorize, sign_in, signed_in_flow

pytestmark = pytest.mark.django_db

BRAND = {
    "display_name": "Acme Bank Online",
    "primary_color": "#aa0033",
    "background_color": "#fff8f0",
    "logo_url": "https://cdn.acme.example/logo.svg",
    "terms_url": "https://acme.example/terms",
    "footer_links": [{"label": "Help", "url": "https://acme.example/help"}],
    "texts": {
        "en": {
            "footer": "Acme Bank is regulated by the FCA.",
            "email_footer": "Acme Bank will never ask for your password.",
            "consent_notice": "Only allow apps you trust.",
        },
        "fr": {
            "footer": "Acme Bank est réglementée.",
            "email_footer": "Acme Bank ne vous demandera jamais votre mot de passe.",
            "consent_notice": "N'autorisez que les applications de confiance.",
        },
    },
}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def configure(tenant: Tenant, identifier: str | None, section: str, **values: Any) -> None:
    organization = org(tenant, identifier) if identifier else None
    job = settings_override_set(actor=SYSTEM, tenant=tenant, organization=organization, section=section, values=values)
    job_run(job.pk)
    cache.clear()


def branded(tenant: Tenant, identifier: str | None, **changes: Any) -> None:
    configure(tenant, identifier, "branding", **{**BRAND, **changes})


def assert_branded_page(html: str, *, footer: str = "Acme Bank is regulated by the FCA.") -> None:
    assert "Acme Bank Online" in html
    assert "--accent: #aa0033" in html and "--bg: #fff8f0" in html
    assert 'src="https://cdn.acme.example/logo.svg"' in html
    assert footer in html
    assert 'href="https://acme.example/help">Help</a>' in html and 'href="https://acme.example/terms"' in html


def assert_branded_mail(body: str, *, footer: str = "Acme Bank will never ask for your password.") -> None:
    tail = body.replace("\r\n", "\n").rsplit("\n-- \n", 1)  # the signature separator
    assert len(tail) == 2, body
    assert tail[1].splitlines() == [
        "Acme Bank Online",
        footer,
        "Terms of use: https://acme.example/terms",
        "Help: https://acme.example/help",
    ], body


# --- pages -------------------------------------------------------------------------------------
@pytest.mark.setting("branding.display_name")
@pytest.mark.setting("branding.logo_url")
@pytest.mark.setting("branding.primary_color")
@pytest.mark.setting("branding.background_color")
@pytest.mark.setting("branding.terms_url")
@pytest.mark.setting("branding.footer_links")
@pytest.mark.setting("branding.texts")
@pytest.mark.parametrize(
    ("languages", "notice", "footer"),
    [
        ("", "Only allow apps you trust.", "Acme Bank is regulated by the FCA."),
        ("fr-CA,fr;q=0.9,en;q=0.5", "N'autorisez que les applications de confiance.", "Acme Bank est réglementée."),
        ("de", "Only allow apps you trust.", "Acme Bank is regulated by the FCA."),  # none in German: English
    ],
)
def test_the_consent_page_shows_the_chosen_organization_s_branding_and_texts(
    demo: Tenant, languages: str, notice: str, footer: str
) -> None:
    branded(demo, "mexbanco")
    flow = signed_in_flow(demo, "bob", client_id="demo-spa", secret="", redirect_uri="http://127.0.0.1:8766/callback")
    flow.browser.defaults["HTTP_ACCEPT_LANGUAGE"] = languages
    page = flow.authorize()
    html = page.content.decode()
    assert page.status_code == 200 and "would like to" in html and "MexBanco" in html
    assert_branded_page(html, footer=footer)
    assert f'id="consent-notice">{notice.replace(chr(39), "&#x27;")}</p>' in html


def test_the_consent_page_of_an_organization_without_branding_shows_the_tenant_s(demo: Tenant) -> None:
    branded(demo, "acme-bank")  # someone else's branding
    flow = signed_in_flow(demo, "bob", client_id="demo-spa", secret="", redirect_uri="http://127.0.0.1:8766/callback")
    html = flow.authorize().content.decode()
    assert "would like to" in html and "Acme Bank Online" not in html and "consent-notice" not in html
    assert demo.display_name in html


@pytest.mark.setting("branding.texts")
def test_the_account_page_shows_the_home_organization_s_branding(demo: Tenant) -> None:
    branded(demo, "mexbanco")
    bob, alice = Client(), Client()
    sign_in(bob, demo, user(demo, "bob"))  # home: MexBanco
    sign_in(alice, demo, user(demo, "alice"))  # home: another organization
    assert_branded_page(bob.get("/t/mightybank/account/").content.decode())
    assert "Acme Bank Online" not in alice.get("/t/mightybank/account/").content.decode()


def test_error_pages_show_the_tenant_s_branding_in_plain_words(demo: Tenant) -> None:
    branded(demo, None)  # the tenant root's branding
    client = Client()
    sign_in(client, demo, user(demo, "alice"))
    page = client.get("/t/mightybank/select-organization/?pick=gone")  # a pick that does not exist
    html = page.content.decode()
    assert page.status_code == 400 and "Sign in again" in html
    assert_branded_page(html)
    missing = Client().get("/t/mightybank/no-such-page/")
    assert missing.status_code == 404 and "Page not found" in missing.content.decode()


def test_the_passkey_page_shows_the_organization_s_branding(demo: Tenant) -> None:
    branded(demo, "acme-bank")
    authorize, _ = demo_web_authorize(demo, scope="openid organization", state="s", nonce="n", organization="acme-bank")
    html = Client().get(f"/t/mightybank/passkeys/sign-in/?next={quote(authorize)}").content.decode()
    assert_branded_page(html)


# --- mails -------------------------------------------------------------------------------------
@pytest.mark.setting("branding.texts")
@pytest.mark.setting("templates.email_otp")
@pytest.mark.parametrize(
    ("languages", "subject", "footer"),
    [
        ("", "Your Acme code", "Acme Bank will never ask for your password."),
        ("fr", "Votre code Acme", "Acme Bank ne vous demandera jamais votre mot de passe."),
    ],
)
def test_the_sign_in_code_mail_is_the_organization_s_in_the_reader_s_language(
    demo: Tenant, smtp: Inbox, languages: str, subject: str, footer: str
) -> None:
    require_email_otp(demo, "acme-bank", enabled=True)
    branded(demo, "acme-bank")
    configure(
        demo,
        "acme-bank",
        "templates",
        email_otp={
            "en": {"subject": "Your Acme code", "body": "Your code is {code}."},
            "fr": {"subject": "Votre code Acme", "body": "Votre code est {code}."},
        },
    )
    authorize, _ = demo_web_authorize(demo, scope="openid organization", state="s", nonce="n", organization="acme-bank")
    client = Client(HTTP_ACCEPT_LANGUAGE=languages)
    sign_in_page = password_step(client, authorize)
    assert sign_in_page.status_code == 303 and "/login/email-code/" in sign_in_page["Location"]
    message = smtp.messages[-1]
    assert message["Subject"] == subject
    assert_branded_mail(body_of(message), footer=footer)


@pytest.mark.setting("templates.email_verification")
def test_the_sign_up_mail_is_the_organization_s(demo: Tenant, smtp: Inbox) -> None:
    configure(demo, "acme-bank", "login", self_registration=True)
    branded(demo, "acme-bank")
    configure(
        demo,
        "acme-bank",
        "templates",
        email_verification={"fr": {"subject": "Confirmez {email}", "body": "Suivez {link} ({code})."}},
    )
    form = {
        "username": "dora",
        "email": "dora@acme.example",
        "password": "Correct-Horse-Battery-9",
        "confirm": "Correct-Horse-Battery-9",
        "first_name": "Dora",
        "last_name": "Diaz",
        "org": "acme-bank",
    }
    Client(HTTP_ACCEPT_LANGUAGE="fr").post("/t/mightybank/register/", form)
    Client().post("/t/mightybank/register/", {**form, "username": "dora2", "email": "dora2@acme.example"})
    french, english = smtp.messages[-2:]
    assert french["Subject"] == "Confirmez dora@acme.example" and body_of(french).startswith("Suivez http")
    assert english["Subject"] == "Confirm your email address"  # no English override: the built-in text
    assert_branded_mail(body_of(french), footer="Acme Bank ne vous demandera jamais votre mot de passe.")
    assert_branded_mail(body_of(english))


def test_the_recovery_mail_ends_with_the_branding_of_the_organization_in_context(demo: Tenant, smtp: Inbox) -> None:
    branded(demo, "acme-bank")
    Client().post("/t/mightybank/recover/", {"identifier": "alice", "org": "acme-bank"})
    Client().post("/t/mightybank/recover/", {"identifier": "alice"})  # none in context, home not Acme Bank
    in_context, elsewhere = smtp.messages[-2:]
    assert_branded_mail(body_of(in_context))
    assert "Acme Bank Online" not in body_of(elsewhere) and body_of(elsewhere).rstrip().endswith(demo.display_name)


def test_the_invitation_mail_ends_with_the_inviting_organization_s_branding(
    demo: Tenant, smtp: Inbox, django_capture_on_commit_callbacks: Any
) -> None:
    from orgs.invitations.services import invitation_create

    branded(demo, "mexbanco")
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(actor=user(demo, "barbara"), organization=org(demo, "mexbanco"), email="x@acme.example")
    assert_branded_mail(body_of(smtp.messages[-1]))


def test_account_notices_end_with_the_home_organization_s_branding(demo: Tenant, smtp: Inbox) -> None:
    branded(demo, "mexbanco")
    configure(demo, "mexbanco", "attribute_verification", verify_email=False, notify_on_change=True)
    bob = Client()
    sign_in(bob, demo, user(demo, "bob"))
    changed = bob.post("/t/mightybank/account/contact/", {"attribute": "email", "value": "bob.new@mexbanco.example"})
    assert changed.status_code == 303
    notice = smtp.messages[-1]
    assert notice["To"] == "bob@mexbanco.example" and "was just changed" in body_of(notice)
    assert_branded_mail(body_of(notice))
