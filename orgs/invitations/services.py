"""Invitations by email: signed, single-use, expiring links to join an organization.

The link carries ``django.core.signing`` of (invitation id, a random nonce stored on the row)
with a dedicated salt; it is checked for signature, age (``CANOPY_INVITATION_SECONDS``),
tenant, nonce, expiry and prior use. Accepting needs a signed-in user of the tenant whose
email is the invited one; the membership gets origin ``invited`` and the parent rule applies
(an organization invites people of its immediate parent, or anyone for a top-level one).
The email is sent by the task ``orgs.tasks.send_invitation_email`` (defined here, under the name it
always had; ``orgs.tasks`` imports it for Celery's autodiscovery) on commit, once per nonce: creating
and resending (``invitation_resend``: a new nonce, so the old link dies, and a fresh expiry)
each enqueue one message naming the nonce it is for; a redelivered message sends nothing more.
``invitation_revoke`` makes a pending link dead (the page then says what it says of used links).
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from orgs.inheritance.branding import send_branded_mail
from orgs.inheritance.texts import email_template, render_text
from orgs.invitations.models import Invitation
from orgs.tree import permissions
from orgs.tree.models import Membership, Organization
from orgs.tree.services import membership_create
from tenants.actors import SYSTEM, Actor, SystemActor
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant, User
from tenants.services import user_create

SALT = "canopy.orgs.invitation"
log = logging.getLogger(__name__)


def _lifetime() -> int:
    return int(getattr(settings, "CANOPY_INVITATION_SECONDS", 7 * 24 * 3600))


def invitation_create(
    *, actor: Actor, organization: Organization, email: str, role: str = Membership.Role.MEMBER
) -> Invitation:
    email = invitation_validate(actor=actor, organization=organization, email=email, role=role)
    with transaction.atomic():
        invitation = Invitation.objects.create(
            tenant_id=organization.tenant_id,
            organization=organization,
            email=email,
            role=role,
            invited_by=None if isinstance(actor, SystemActor) else actor,
            nonce=secrets.token_urlsafe(24),
            expires_at=timezone.now() + timedelta(seconds=_lifetime()),
        )
        audit_record(
            actor=actor,
            tenant=organization.tenant,
            action=AuditAction.INVITATION_CREATE,
            target=invitation,
            data={"organization": str(organization.pk), "email": email, "role": role},
        )
        nonce = invitation.nonce
        transaction.on_commit(lambda: _enqueue_email(invitation.pk, nonce))
    return invitation


def _lock_for_change(*, actor: Actor, invitation: Invitation) -> Invitation:
    """The row, locked, once the actor may manage this invitation's organization (as for creating it)."""
    locked = Invitation.objects.select_for_update().select_related("organization__tenant").get(pk=invitation.pk)
    organization = locked.organization
    if not permissions.can_manage_members(actor, organization) or not permissions.can_grant_role(
        actor, organization, locked.role
    ):
        raise PermissionDenied(f"You may not manage invitations to '{organization.identifier}' as '{locked.role}'.")
    return locked


def invitation_revoke(*, actor: Actor, invitation: Invitation) -> Invitation:
    """Make a pending invitation's link dead. Revoking twice changes nothing; a used one cannot be revoked."""
    with transaction.atomic():
        locked = _lock_for_change(actor=actor, invitation=invitation)
        if locked.accepted_at is not None:
            raise ValidationError(
                {"invitation": ["This invitation was already accepted; remove the membership instead."]}
            )
        if locked.revoked_at is not None:
            return locked
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            tenant=locked.organization.tenant,
            action=AuditAction.INVITATION_REVOKE,
            target=locked,
            data={"organization": str(locked.organization_id), "email": locked.email},
        )
    return locked


def invitation_resend(*, actor: Actor, invitation: Invitation) -> Invitation:
    """Mail a pending invitation again with a new link (the old one stops working) and a fresh expiry.

    Only for invitations still usable: used, expired or revoked ones need a new invitation, so
    that a resend never revives a link someone decided to end.
    """
    with transaction.atomic():
        locked = _lock_for_change(actor=actor, invitation=invitation)
        if not _usable(locked):
            raise ValidationError(
                {"invitation": ["Only a pending invitation can be sent again: this one was used, expired or revoked."]}
            )
        locked.nonce = secrets.token_urlsafe(24)
        locked.expires_at = timezone.now() + timedelta(seconds=_lifetime())
        locked.sent_at = None  # the message for this nonce is not sent yet
        locked.save(update_fields=["nonce", "expires_at", "sent_at"])
        audit_record(
            actor=actor,
            tenant=locked.organization.tenant,
            action=AuditAction.INVITATION_RESEND,
            target=locked,
            data={"organization": str(locked.organization_id), "email": locked.email},
        )
        nonce = locked.nonce
        transaction.on_commit(lambda: _enqueue_email(locked.pk, nonce))
    return locked


def invitation_validate(*, actor: Actor, organization: Organization, email: str, role: str) -> str:
    """Every rule of an invitation, without writing: the normalized address, or the refusal.

    The address may belong to an existing user or to nobody yet (the link then leads to a
    sign-up form, see ``invitation_register``). Raises ValidationError by field, or
    PermissionDenied when the actor may not invite to this organization with this role.
    """
    if role not in Membership.Role.values:
        raise ValidationError({"role": [f"Unknown role '{role}'."]})
    if not permissions.can_manage_members(actor, organization) or not permissions.can_grant_role(
        actor, organization, role
    ):
        raise PermissionDenied(f"You may not invite people to '{organization.identifier}' as '{role}'.")
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": ["Enter a valid email address."]}) from exc
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": [f"{email} is already a member of '{organization.identifier}'."]})
    return email


def _enqueue_email(invitation_id: int, nonce: str) -> None:
    try:
        send_invitation_email.delay(invitation_id, nonce)
    except Exception:  # noqa: BLE001 - the invitation stands; sending can be retried (sent_at stays empty)
        log.exception("could not send invitation %s", invitation_id)


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps({"i": invitation.pk, "n": invitation.nonce}, salt=SALT, compress=False)


def invitation_link(invitation: Invitation) -> str:
    slug = invitation.organization.tenant.slug
    return f"{settings.CANOPY_BASE_URL}/t/{slug}/invitations/accept/?token={invitation_token(invitation)}"


MSG_INVALID = "This invitation link is invalid, expired or already used."


def _usable(invitation: Invitation) -> bool:
    """Not used, revoked or expired: the one rule every way of redeeming a link checks."""
    return invitation.accepted_at is None and invitation.revoked_at is None and invitation.expires_at > timezone.now()


def _lock_usable(invitation: Invitation) -> Invitation:
    """The invitation's row, locked for this transaction, if it is still usable (a link redeems once)."""
    locked = Invitation.objects.select_for_update().select_related("organization").get(pk=invitation.pk)
    if not _usable(locked):
        raise ValidationError({"token": [MSG_INVALID]})
    return locked


def _mark_used(locked: Invitation, *, by: User) -> None:
    locked.accepted_at = timezone.now()
    locked.accepted_by = by
    locked.save(update_fields=["accepted_at", "accepted_by"])


def invitation_from_token(*, tenant: Tenant, token: str) -> Invitation:
    """The pending invitation the token names, in this tenant; ValidationError otherwise."""
    invalid = ValidationError({"token": [MSG_INVALID]})
    try:
        data = signing.loads(token or "", salt=SALT, max_age=_lifetime())
    except signing.BadSignature as exc:  # includes SignatureExpired
        raise invalid from exc
    if not isinstance(data, dict) or not isinstance(data.get("i"), int):
        raise invalid
    invitation = (
        Invitation.objects.select_related("organization", "organization__tenant")
        .filter(pk=data["i"], tenant=tenant)
        .first()
    )
    if (
        invitation is None
        or not secrets.compare_digest(invitation.nonce, str(data.get("n", "")))
        or not _usable(invitation)
    ):
        raise invalid
    return invitation


def send_invitation(*, invitation_id: int, nonce: str | None = None) -> bool:
    """Send the email once per nonce (the row records it). Returns whether a message went out.

    ``nonce`` names the link the message is for: after a resend, a late or redelivered message
    of the old link finds another nonce and sends nothing (messages queued before nonces were
    passed carry none and send the current link, still at most once).
    """
    with transaction.atomic():
        pending = Invitation.objects.select_for_update().filter(
            pk=invitation_id, sent_at__isnull=True, accepted_at__isnull=True, revoked_at__isnull=True
        )
        if nonce is not None:
            pending = pending.filter(nonce=nonce)
        invitation = pending.select_related("organization", "organization__tenant").first()
        if invitation is None:
            return False
        org = invitation.organization
        link = invitation_link(invitation)
        subject, body = email_template(
            tenant=org.tenant,
            organization=org,
            kind="invitation",
            default_subject="You are invited to {org}",
            default_body="Follow {link} to join {org}.",
        )
        values = {"org": org.display_name, "tenant": org.tenant.display_name, "role": invitation.role, "link": link}
        body = render_text(body, values)
        if link not in body:  # a template that forgot the link still lets the person accept
            body += f"\n\nAccept the invitation: {link}"
        send_branded_mail(
            tenant=org.tenant,
            organization=org,
            to=invitation.email,
            subject=render_text(subject, values),
            body=f"{body}\n\nThe link works once and expires on {invitation.expires_at:%Y-%m-%d %H:%M} UTC.",
        )
        invitation.sent_at = timezone.now()
        invitation.save(update_fields=["sent_at"])
    return True


def invitation_accept(*, actor: User, invitation: Invitation) -> Membership:
    with transaction.atomic():
        locked = _lock_usable(invitation)
        if actor.tenant_id != locked.tenant_id or (actor.email or "").lower() != locked.email:
            raise PermissionDenied("This invitation was sent to another email address.")
        membership = membership_create(
            organization=locked.organization,
            user=actor,
            role=locked.role,
            origin=Membership.Origin.INVITED,
            duplicate="You are already a member of this organization.",
        )
        _mark_used(locked, by=actor)
        audit_record(
            actor=actor,
            tenant=locked.organization.tenant,
            action=AuditAction.INVITATION_ACCEPT,
            target=membership,
            data={"invitation": locked.pk, "organization": str(locked.organization_id), "role": locked.role},
        )
    return membership


def invitation_needs_account(invitation: Invitation) -> bool:
    """True when nobody in the tenant has the invited address yet: the link leads to sign-up."""
    return not User.objects.filter(tenant_id=invitation.tenant_id, email__iexact=invitation.email).exists()


def invitation_register(
    *,
    invitation: Invitation,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
) -> User:
    """Create the invited person's account from the link, as a member of the inviting organization.

    The link proved the address, so the account's email is the invited one. The new profile is
    created in the inviting organization (origin ``created-here``, the invitation's role): the
    parent rule is about existing profiles, and this one starts here. The caller checks the
    password policy; the row is locked and marked used in the same transaction, so a link
    registers one account once.
    """

    with transaction.atomic():
        locked = _lock_usable(invitation)
        if not invitation_needs_account(locked):
            raise ValidationError({"email": ["An account with this email address exists. Sign in to accept."]})
        user = user_create(
            actor=SYSTEM,
            tenant=locked.organization.tenant,
            username=username,
            email=locked.email,
            password=None,
            first_name=first_name,
            last_name=last_name,
        )
        user.set_password(password)
        user.save(update_fields=["password"])
        membership = membership_create(
            organization=locked.organization, user=user, role=locked.role, origin=Membership.Origin.CREATED_HERE
        )
        _mark_used(locked, by=user)
        audit_record(
            actor=user,
            tenant=locked.organization.tenant,
            action=AuditAction.INVITATION_REGISTER,
            target=membership,
            data={"invitation": locked.pk, "organization": str(locked.organization_id), "role": locked.role},
        )
    return user


@shared_task(name="orgs.tasks.send_invitation_email")
def send_invitation_email(invitation_id: int, nonce: str | None = None) -> bool:
    """Email one invitation's link (the one of ``nonce``); a redelivery after success sends nothing."""
    return send_invitation(invitation_id=invitation_id, nonce=nonce)
