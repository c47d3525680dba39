"""Invitations by email: a real local SMTP server (aiosmtpd), signed single-use expiring links,
acceptance in the login journey."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from orgs.invitations.models import Invitation
from orgs.invitations.services import invitation_create, invitation_token
from orgs.tree.models import Membership
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tests.support.api import ApiClient, api_token
from tests.support.login import signed_in_client
from tests.support.lookups import org, user
from tests.support.mail import Inbox, invitation_link_in

pytestmark = pytest.mark.django_db


def test_invite_email_accept_once(demo: Tenant, smtp: Inbox, django_capture_on_commit_callbacks) -> None:
    barbara = ApiClient(api_token(tenant=demo, user=user(demo, "barbara")), demo.slug)
    with django_capture_on_commit_callbacks(execute=True):
        response = barbara.post("organizations/mexbanco/invitations/", {"email": "Alice@Acme.example"})
    assert response.status_code == 201, response.content
    assert response.json()["sent_at"] is None  # sent after commit
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "alice@acme.example" and "MexBanco" in message["Subject"]
    url = invitation_link_in(message)
    assert Invitation.objects.get().sent_at is not None

    # Not signed in: through the login journey and back.
    anonymous = Client().get(url)
    assert anonymous.status_code in (302, 303) and "/t/mightybank/login/" in anonymous["Location"]
    alice = signed_in_client("alice")
    page = alice.get(url)
    assert page.status_code == 200 and b"Join MexBanco" in page.content
    token = page.context["token"]
    done = alice.post("/t/mightybank/invitations/accept/", {"token": token})
    assert done.status_code == 200 and b"Welcome to MexBanco" in done.content
    m = Membership.objects.get(user__username="alice", organization__identifier="mexbanco")
    assert (m.role, m.origin) == ("member", "invited")
    # Single use.
    again = alice.post("/t/mightybank/invitations/accept/", {"token": token})
    assert again.status_code == 400
    assert alice.get(url).status_code == 400
    # A redelivered send task sends nothing more.
    from orgs.tasks import send_invitation_email

    assert send_invitation_email(Invitation.objects.get().pk) is False
    assert len(smtp.messages) == 1


def test_links_are_bound_to_the_email_the_tenant_the_signature_and_the_clock(demo: Tenant, world_b) -> None:
    invitation = invitation_create(actor=SYSTEM, organization=org(demo, "mexbanco"), email="alice@acme.example")
    token = invitation_token(invitation)
    url = f"/t/mightybank/invitations/accept/?token={token}"
    bob = signed_in_client("bob")  # signed in, but not the invited address
    assert bob.get(url).status_code == 200
    refused = bob.post("/t/mightybank/invitations/accept/", {"token": token})
    assert refused.status_code == 403
    assert not Membership.objects.filter(user__username="bob", organization__identifier="acme-bank").exists()
    # Tampered, foreign-tenant, wrong-nonce and expired links are all the same error.
    assert Client().get(url[:-3] + "abc").status_code == 400
    assert Client().get(f"/t/{world_b.tenant.slug}/invitations/accept/?token={token}").status_code == 400
    forged = signing.dumps({"i": invitation.pk, "n": "guess"}, salt="canopy.orgs.invitation")
    assert Client().get(f"/t/mightybank/invitations/accept/?token={forged}").status_code == 400
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(url).status_code == 400


def test_the_parent_rule_and_roles_apply(demo: Tenant) -> None:
    # carol (contractor) invited to acme-bank: accepting fails, she is not in mightybank-americas.
    invitation = invitation_create(actor=SYSTEM, organization=org(demo, "acme-bank"), email="carol@contractor.example")
    carol = signed_in_client("carol")
    response = carol.post("/t/mightybank/invitations/accept/", {"token": invitation_token(invitation)})
    assert response.status_code == 400 and b"not a member of the parent" in response.content
    barbara = ApiClient(api_token(tenant=demo, user=user(demo, "barbara")), demo.slug)
    owner = barbara.post("organizations/mexbanco/invitations/", {"email": "x@acme.example", "role": "owner"})
    assert owner.status_code == 403
    bad = barbara.post("organizations/mexbanco/invitations/", {"email": "not-an-email"})
    assert bad.status_code == 400 and "email" in bad.json()["errors"]
    alice = ApiClient(api_token(tenant=demo, user=user(demo, "alice")), demo.slug)
    assert alice.post("organizations/mexbanco/invitations/", {"email": "y@acme.example"}).status_code == 404


@pytest.mark.setting("templates.email_invitation")
def test_the_mail_uses_the_inviting_organizations_effective_template(
    demo: Tenant, smtp: Inbox, django_capture_on_commit_callbacks
) -> None:
    """mexbanco overrides the invitation mail (templates.email_invitation); its invitations use that text."""
    from orgs.inheritance.propagation import job_run
    from orgs.inheritance.services import settings_override_set

    custom = {"en": {"subject": "Bienvenido a {org}", "body": "Hola: {link} ({role}, {tenant}) {unknown}"}}
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        organization=org(demo, "mexbanco"),
        section="templates",
        values={"email_invitation": custom},
    )
    job_run(job.pk)
    barbara = ApiClient(api_token(tenant=demo, user=user(demo, "barbara")), demo.slug)
    with django_capture_on_commit_callbacks(execute=True):
        assert barbara.post("organizations/mexbanco/invitations/", {"email": "alice@acme.example"}).status_code == 201
    message = smtp.messages[-1]
    body = message.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert message["Subject"] == "Bienvenido a MexBanco"
    assert body.startswith("Hola: http") and "(member, MightyBank)" in body
    assert "{unknown}" in body  # plain replacement: an unknown field stays as written, nothing is evaluated
    assert invitation_link_in(message)  # the link is in the body the organization wrote
    assert "expires on" in body
