"""Revoking and resending invitations (orgs.invitations, the API, the admin), with a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from orgs.invitations.models import Invitation
from orgs.invitations.services import invitation_create, invitation_resend, invitation_revoke
from orgs.tasks import send_invitation_email
from orgs.tree.models import Membership
from orgs.tree.services import organization_create, organization_user_create
from tenants.actors import SYSTEM
from tenants.models import AuditEvent, Tenant
from tests.support.api import ApiClient, api_token, assert_problem
from tests.support.login import signed_in_client
from tests.support.lookups import org, user
from tests.support.mail import Inbox, invitation_link_in

pytestmark = pytest.mark.django_db

ACCEPT = "/t/mightybank/invitations/accept/"
SAME_AS_USED = b"This invitation link is invalid, has expired or was already used. Ask for a new one."


def _barbara(demo: Tenant) -> ApiClient:
    """Admin of mightybank-americas, whose subtree holds mexbanco."""
    return ApiClient(api_token(tenant=demo, user=user(demo, "barbara")), demo.slug)


def _invite(demo: Tenant, smtp: Inbox, capture) -> tuple[Invitation, str]:
    with capture(execute=True):
        response = _barbara(demo).post("organizations/mexbanco/invitations/", {"email": "alice@acme.example"})
    assert response.status_code == 201, response.content
    return Invitation.objects.get(pk=response.json()["id"]), invitation_link_in(smtp.messages[-1])


def _refused(url: str) -> None:
    page = Client().get(url)
    assert page.status_code == 400
    assert SAME_AS_USED in page.content  # the page's words for used and expired links


def test_resend_mails_a_new_link_once_and_the_old_link_is_refused(
    demo: Tenant, smtp: Inbox, django_capture_on_commit_callbacks
) -> None:
    invitation, old_url = _invite(demo, smtp, django_capture_on_commit_callbacks)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        response = _barbara(demo).post(f"organizations/mexbanco/invitations/{invitation.pk}/resend/")
    assert response.status_code == 200, response.content
    assert len(smtp.messages) == 2
    new_url = invitation_link_in(smtp.messages[-1])
    assert new_url != old_url and smtp.messages[-1]["To"] == "alice@acme.example"
    fresh = Invitation.objects.get(pk=invitation.pk)
    assert fresh.sent_at is not None and fresh.expires_at > timezone.now() + timedelta(days=6)
    assert AuditEvent.objects.filter(tenant=demo, action="invitation.resend").count() == 1
    # Redeliveries send nothing more: of the resend's message, and of the first one (old nonce).
    assert send_invitation_email(invitation.pk, fresh.nonce) is False
    assert send_invitation_email(invitation.pk, invitation.nonce) is False
    assert len(smtp.messages) == 2
    # The old link is refused like a used one; the new one works.
    _refused(old_url)
    alice = signed_in_client("alice")
    page = alice.get(new_url)
    assert page.status_code == 200
    done = alice.post(ACCEPT, {"token": page.context["token"]})
    assert done.status_code == 200, done.content
    assert Membership.objects.filter(user__username="alice", organization__identifier="mexbanco").exists()
    # A used invitation cannot be sent again.
    again = _barbara(demo).post(f"organizations/mexbanco/invitations/{invitation.pk}/resend/")
    assert "invitation" in assert_problem(again, 400)["errors"]
    assert len(smtp.messages) == 2


def test_revoke_makes_the_link_refused_and_cannot_be_resent(
    demo: Tenant, smtp: Inbox, django_capture_on_commit_callbacks
) -> None:
    invitation, url = _invite(demo, smtp, django_capture_on_commit_callbacks)
    barbara = _barbara(demo)
    detail = f"organizations/mexbanco/invitations/{invitation.pk}/"
    etag = barbara.get(detail)["ETag"]
    stale = barbara.delete(detail, headers={"If-Match": '"stale"'})
    assert_problem(stale, 412)
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None
    assert barbara.delete(detail, headers={"If-Match": etag}).status_code == 204
    assert barbara.get(detail).json()["revoked_at"] is not None
    assert AuditEvent.objects.filter(tenant=demo, action="invitation.revoke").count() == 1
    _refused(url)
    alice = signed_in_client("alice")
    token = url.split("token=", 1)[1]
    assert alice.post(ACCEPT, {"token": token}).status_code == 400
    assert not Membership.objects.filter(user__username="alice", organization__identifier="mexbanco").exists()
    refused = barbara.post(f"{detail}resend/")
    assert assert_problem(refused, 400)["errors"]["invitation"][0].startswith("Only a pending invitation")
    assert send_invitation_email(invitation.pk) is False
    assert len(smtp.messages) == 1


def test_outsiders_get_404_and_change_nothing(demo: Tenant, world_b, smtp: Inbox) -> None:
    invitation = invitation_create(actor=SYSTEM, organization=org(demo, "mexbanco"), email="alice@acme.example")
    elsewhere = organization_create(actor=SYSTEM, tenant=demo, identifier="elsewhere", display_name="Elsewhere")
    olga = organization_user_create(
        actor=SYSTEM,
        organization=elsewhere,
        username="olga",
        role=Membership.Role.OWNER,
        validate_password_strength=False,
    )
    outsider = ApiClient(api_token(tenant=demo, user=olga), demo.slug)
    other_tenant = ApiClient(api_token(tenant=world_b.tenant, user=world_b.admin), world_b.tenant.slug)
    other_machine = ApiClient(api_token(tenant=world_b.tenant, user=None), world_b.tenant.slug)
    before = AuditEvent.objects.filter(tenant=demo).count()
    for client, org_key in (
        (outsider, "mexbanco"),  # outside olga's subtree
        (outsider, "elsewhere"),  # her own organization, another organization's invitation
        (other_tenant, str(org(demo, "mexbanco").pk)),
        (other_tenant, world_b.root.identifier),
        (other_machine, str(org(demo, "mexbanco").pk)),
    ):
        detail = f"organizations/{org_key}/invitations/{invitation.pk}/"
        assert_problem(client.get(detail), 404)
        assert_problem(client.delete(detail), 404)
        assert_problem(client.post(f"{detail}resend/"), 404)
    fresh = Invitation.objects.get(pk=invitation.pk)
    assert (fresh.revoked_at, fresh.nonce) == (None, invitation.nonce)
    assert AuditEvent.objects.filter(tenant=demo).count() == before
    assert smtp.messages == []


def test_members_without_the_right_cannot_revoke_or_resend(demo: Tenant) -> None:
    """alice is a plain member of mexbanco: the invitation endpoints do not exist for her (as for listing)."""
    invitation = invitation_create(actor=SYSTEM, organization=org(demo, "mexbanco"), email="zed@acme.example")
    alice = ApiClient(api_token(tenant=demo, user=user(demo, "alice")), demo.slug)
    assert alice.delete(f"organizations/mexbanco/invitations/{invitation.pk}/").status_code == 404
    with pytest.raises(PermissionDenied, match="may not manage invitations"):
        invitation_revoke(actor=user(demo, "alice"), invitation=invitation)
    with pytest.raises(PermissionDenied, match="may not manage invitations"):
        invitation_resend(actor=user(demo, "alice"), invitation=invitation)
    assert Invitation.objects.get(pk=invitation.pk).revoked_at is None


def test_admin_actions_revoke_and_resend(
    demo: Tenant, smtp: Inbox, admin_client_for, django_capture_on_commit_callbacks
) -> None:
    first, first_url = _invite(demo, smtp, django_capture_on_commit_callbacks)
    second = invitation_create(actor=SYSTEM, organization=org(demo, "mexbanco"), email="bob@acme.example")
    browser = admin_client_for(user(demo, "sam"))
    changelist = "/admin/orgs/invitation/"
    assert browser.get(changelist).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(
            changelist, {"action": "resend_invitations", "_selected_action": [first.pk]}, follow=True
        )
    assert b"Sent again 1 invitation(s)." in response.content
    assert len(smtp.messages) == 2 and invitation_link_in(smtp.messages[-1]) != first_url
    _refused(first_url)
    response = browser.post(
        changelist, {"action": "revoke_invitations", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert b"Revoked 2 invitation(s)." in response.content
    assert Invitation.objects.filter(pk__in=[first.pk, second.pk], revoked_at__isnull=False).count() == 2
    _refused(invitation_link_in(smtp.messages[-1]))
    response = browser.post(changelist, {"action": "resend_invitations", "_selected_action": [first.pk]}, follow=True)
    assert b"Not done: alice@acme.example: Only a pending invitation" in response.content
