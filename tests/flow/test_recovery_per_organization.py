"""Password recovery follows the organization in context (``org`` on the page or ``organization`` in
``next``): its ``flows.password_recovery`` switch and its recovery mail template; with no
organization in context the mail is the account's home organization's. Real SMTP (``smtp``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client

from idp.flow.recovery import MSG_OFF, MSG_SENT, SESSION_RECOVER_CODE
from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from orgs.tree.models import Organization
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.lookups import org
from tests.support.mail import Inbox, body_of, recovery_code_in
from tests.support.oidc import demo_web_authorize

pytestmark = pytest.mark.django_db
RECOVER = "/t/mightybank/recover/"
RECOVERY_FLOW = pytest.mark.setting("flows.password_recovery")
RECOVERY_MAIL = pytest.mark.setting("templates.email_password_recovery")
OFF = {"enabled": False, "steps": ["identifier", "email_otp"], "options": {}}
ON = {"enabled": True, "steps": ["identifier", "email_otp"], "options": {}}


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def override(tenant: Tenant, organization: Organization | None, section: str, values: dict[str, Any]) -> None:
    job = settings_override_set(actor=SYSTEM, tenant=tenant, organization=organization, section=section, values=values)
    job_run(job.pk)
    cache.clear()


def mail_template(tenant: Tenant, organization: Organization | None, subject: str, body: str) -> None:
    override(tenant, organization, "templates", {"email_password_recovery": {"en": {"subject": subject, "body": body}}})


def ask(client: Client, identifier: str, **carried: str) -> Any:
    return client.post(RECOVER, {"identifier": identifier, **carried})


def authorize_for(tenant: Tenant, organization: str) -> str:
    path, _ = demo_web_authorize(tenant, scope="openid", state="s", nonce="n", organization=organization)
    return path


@RECOVERY_FLOW
def test_an_organization_that_turns_recovery_off_gets_none_though_the_root_allows_it(
    demo: Tenant,
    smtp: Inbox,
) -> None:
    override(demo, org(demo, "mexbanco"), "flows", {"password_recovery": OFF})
    client = Client()
    for carried in ({"org": "mexbanco"}, {"next": authorize_for(demo, "mexbanco")}):
        page = client.get(f"{RECOVER}?{urlencode(carried)}")
        assert page.status_code == 403 and MSG_OFF in page.content.decode()
        refused = ask(client, "bob", **carried)
        assert refused.status_code == 403 and MSG_OFF in refused.content.decode()
        assert SESSION_RECOVER_CODE not in client.session
    assert smtp.messages == []
    # At the root (no organization in context) it is on, and so at Acme Bank.
    assert client.get(RECOVER).status_code == 200
    assert ask(client, "alice", org="acme-bank").status_code == 303
    assert [m["To"] for m in smtp.messages] == ["alice@acme.example"]


@RECOVERY_FLOW
def test_an_organization_that_turns_recovery_on_gets_it_though_the_root_does_not(
    demo: Tenant,
    smtp: Inbox,
) -> None:
    override(demo, None, "flows", {"password_recovery": OFF})
    override(demo, org(demo, "mexbanco"), "flows", {"password_recovery": ON})
    client = Client()
    assert client.get(RECOVER).status_code == 403
    assert ask(client, "bob").status_code == 403 and smtp.messages == []
    assert client.get(f"{RECOVER}?org=acme-bank").status_code == 403  # inherits the root's "off"
    sent = ask(client, "bob", org="mexbanco")
    assert sent.status_code == 303 and sent["Location"] == f"{RECOVER}?sent=1&org=mexbanco"
    page = client.get(sent["Location"]).content.decode()
    assert MSG_SENT in page and 'name="org" value="mexbanco"' in page and 'name="code"' in page
    assert [m["To"] for m in smtp.messages] == ["bob@mexbanco.example"]
    # The code from that mail works at MexBanco.
    done = client.post("/t/mightybank/recover/code/", {"code": recovery_code_in(smtp.messages[0]), "org": "mexbanco"})
    assert done.status_code == 303 and done["Location"] == "/t/mightybank/recover/reset/"


@RECOVERY_FLOW
def test_with_no_organization_in_context_the_home_organization_s_switch_decides_the_mail(
    demo: Tenant,
    smtp: Inbox,
) -> None:
    override(demo, org(demo, "mexbanco"), "flows", {"password_recovery": OFF})
    client = Client()
    answer = ask(client, "bob")  # the root page is open, but bob's home organization said no
    assert answer.status_code == 303 and answer["Location"] == f"{RECOVER}?sent=1"
    assert smtp.messages == []
    assert ask(Client(), "nobody").status_code == 303  # the same answer as for no account
    assert ask(Client(), "alice").status_code == 303
    assert [m["To"] for m in smtp.messages] == ["alice@acme.example"]


@RECOVERY_MAIL
def test_the_recovery_mail_is_the_organization_s_own(demo: Tenant, smtp: Inbox) -> None:
    mail_template(demo, None, "Root: reset", "Root says follow {link}")
    mail_template(demo, org(demo, "acme-bank"), "Acme: reset your password", "Acme says follow {link}")
    mail_template(demo, org(demo, "mexbanco"), "MexBanco: restablecer", "MexBanco says follow {link}")
    ask(Client(), "alice", next=authorize_for(demo, "acme-bank"))  # in context: Acme Bank
    ask(Client(), "alice")  # none in context: her home, MightyBank Americas, inherits the root's
    ask(Client(), "bob")  # none in context: his home, MexBanco
    ask(Client(), "sam", org="mexbanco")  # no home, MexBanco in context
    ask(Client(), "sam")  # no home, none in context: the root's
    got = [(m["To"], m["Subject"], body_of(m).split(" http", 1)[0]) for m in smtp.messages]
    assert got == [
        ("alice@acme.example", "Acme: reset your password", "Acme says follow"),
        ("alice@acme.example", "Root: reset", "Root says follow"),
        ("bob@mexbanco.example", "MexBanco: restablecer", "MexBanco says follow"),
        ("sam@mightybank.example", "MexBanco: restablecer", "MexBanco says follow"),
        ("sam@mightybank.example", "Root: reset", "Root says follow"),
    ]
    assert all("/t/mightybank/recover/reset/?" in body_of(m) for m in smtp.messages)


def test_the_password_page_s_link_keeps_the_organization_in_context(demo: Tenant, smtp: Inbox) -> None:
    override(demo, org(demo, "mexbanco"), "flows", {"password_recovery": OFF})
    next_url = authorize_for(demo, "mexbanco")
    client = Client()
    step = client.post("/t/mightybank/login/", {"identifier": "bob", "next": next_url})
    page = client.get(step["Location"]).content.decode()
    link = f"{RECOVER}?{urlencode({'next': next_url}, safe='')}"
    assert f'href="{link}"' in page.replace("&amp;", "&")
    assert client.get(link).status_code == 403
