"""The account page's rules: sessions, linked accounts, the user's own profile and contact changes.

Everything is scoped to (tenant, user): a row of another user or tenant looks missing.

Changing the email or mobile number: when the effective ``attribute_verification`` of the
user's home organization (the tenant root if none) says so, a code goes to the *new* value and
the old value stays until the code is typed. The pending change lives in the server-side
session, its code only as ``otp.code_hash`` (keyed HMAC with a nonce), single-use, five wrong
codes or ten minutes and it is gone. With ``notify_on_change`` the old address (or number)
hears about the change once it is made.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import smtplib
import time
from dataclasses import dataclass
from typing import Any

from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone

from idp.account.models import SessionRecord
from idp.flow import sms
from idp.flow.otp import code_hash
from idp.flow.revocation import sessions_ending
from idp.flow.services import client_ip
from orgs.inheritance.branding import send_branded_mail
from orgs.inheritance.selectors import effective_section
from orgs.inheritance.texts import render_text, sms_template
from orgs.tree.selectors import home_organization_id
from tenants.audit import AuditAction, audit_record
from tenants.models import Tenant, User

SESSION_PENDING = "canopy.account.pending"
CODE_LENGTH = 6
CODE_SECONDS = 600
MAX_WRONG = 5
EMAIL = "email"
MOBILE = "mobile"
LABELS = {EMAIL: "email address", MOBILE: "mobile number"}
MAX_NAME = 150


class DeliveryError(Exception):
    """The code or notice could not be sent."""


# --- sessions -------------------------------------------------------------------------------


def session_record_on_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """``user_logged_in``: remember this session for the account page (tenant users only)."""
    if getattr(user, "tenant_id", None) is None or request is None or not hasattr(request, "session"):
        return
    key = request.session.session_key
    if not key:
        request.session.save()
        key = request.session.session_key
    ip = client_ip(request)
    SessionRecord.objects.update_or_create(
        session_key=key,
        defaults={
            "tenant_id": user.tenant_id,
            "user": user,
            "user_agent": str(request.META.get("HTTP_USER_AGENT", ""))[:300],
            "ip": ip if ip and ipaddress.ip_address(ip) else None,
        },
    )


@dataclass(frozen=True)
class SessionRow:
    record: SessionRecord
    current: bool
    expires: Any


def sessions_of(*, tenant: Tenant, user: User, current_key: str | None) -> list[SessionRow]:
    """The user's live sessions, this browser's first; records of ended sessions are pruned."""
    records = list(SessionRecord.objects.filter(tenant=tenant, user=user))
    live = dict(
        Session.objects.filter(
            session_key__in=[r.session_key for r in records], expire_date__gt=timezone.now()
        ).values_list("session_key", "expire_date")
    )
    stale = [r.pk for r in records if r.session_key not in live]
    if stale:
        SessionRecord.objects.filter(pk__in=stale).delete()
    rows = [SessionRow(r, r.session_key == current_key, live[r.session_key]) for r in records if r.session_key in live]
    return sorted(rows, key=lambda row: not row.current)


def session_sign_out(*, tenant: Tenant, user: User, record: SessionRecord) -> None:
    """End one session of the user (deleting the Django session signs that browser out)."""
    with transaction.atomic():
        sessions_ending(tenant_id=tenant.pk, session_keys=[record.session_key])  # its RPs hear of it
        Session.objects.filter(session_key=record.session_key).delete()
        audit_record(
            actor=user, tenant=tenant, action=AuditAction.ACCOUNT_SESSION_END, target=user, data={"session": record.pk}
        )
        record.delete()


def sessions_sign_out_others(*, tenant: Tenant, user: User, current_key: str | None) -> int:
    """End every session of the user except this browser's; returns how many ended."""
    with transaction.atomic():
        others = SessionRecord.objects.filter(tenant=tenant, user=user).exclude(session_key=current_key or "")
        keys = list(others.values_list("session_key", flat=True))
        sessions_ending(tenant_id=tenant.pk, session_keys=keys)  # their RPs hear of it (back-channel logout)
        Session.objects.filter(session_key__in=keys).delete()
        others.delete()
        audit_record(
            actor=user,
            tenant=tenant,
            action=AuditAction.ACCOUNT_SESSION_END_OTHERS,
            target=user,
            data={"count": len(keys)},
        )
    return len(keys)


def sessions_end_all(user: User) -> int:
    """A revoker (``idp.flow.revocation``, on a password reset): end every session of the user.

    The changed password would sign them out on their next request anyway; deleting the rows now
    also keeps the account page from listing sessions that can no longer be used.
    """
    if user.tenant_id is None:
        return 0  # operators have no account-page sessions
    records = SessionRecord.objects.filter(tenant_id=user.tenant_id, user=user)
    keys = list(records.values_list("session_key", flat=True))
    Session.objects.filter(session_key__in=keys).delete()
    records.delete()
    return len(keys)


def session_record_upstream(*, request: HttpRequest, idp: Any, sid: str, subject: str) -> None:
    """After a federated sign-in: which upstream session this browser session came from."""
    key = request.session.session_key
    if key:
        SessionRecord.objects.filter(session_key=key, tenant_id=idp.tenant_id).update(
            upstream_idp=idp, upstream_sid=sid[:255], upstream_subject=subject[:255]
        )


def sessions_end_upstream(*, idp: Any, sid: str, subject: str) -> int:
    """End the sessions that came from one upstream session (``sid``) or, without one, from every
    session of that upstream subject; returns how many ended. The caller audits."""
    if not sid and not subject:
        return 0  # naming no one ends nothing
    records = SessionRecord.objects.filter(tenant_id=idp.tenant_id, upstream_idp=idp)
    if sid:
        records = records.filter(upstream_sid=sid)
    if subject:
        records = records.filter(upstream_subject=subject)
    with transaction.atomic():
        keys = list(records.values_list("session_key", flat=True))
        sessions_ending(tenant_id=idp.tenant_id, session_keys=keys)  # Canopy's own RPs hear of it too
        Session.objects.filter(session_key__in=keys).delete()
        SessionRecord.objects.filter(session_key__in=keys).delete()
    return len(keys)


class SessionRecordUpstreams:
    """The upstream-session link kept on ``SessionRecord`` (``idp.flow.revocation.UpstreamSessions``)."""

    def started(self, *, request: HttpRequest, idp: Any, sid: str, subject: str) -> None:
        session_record_upstream(request=request, idp=idp, sid=sid, subject=subject)

    def ended(self, *, idp: Any, sid: str, subject: str) -> int:
        return sessions_end_upstream(idp=idp, sid=sid, subject=subject)


SESSION_RECORD_UPSTREAMS = SessionRecordUpstreams()


# --- linked upstream accounts ---------------------------------------------------------------


def upstream_unlink(*, tenant: Tenant, user: User, identity: Any) -> None:
    """Remove the link to an upstream account; signing in there no longer reaches this profile."""
    with transaction.atomic():
        audit_record(
            actor=user,
            tenant=tenant,
            action=AuditAction.FEDERATION_IDENTITY_UNLINK,
            target=identity,
            data={"idp": identity.idp.slug, "subject": identity.subject},
        )
        identity.delete()


# --- the profile ----------------------------------------------------------------------------


def profile_update(*, tenant: Tenant, user: User, given_name: str, family_name: str) -> User:
    """The user's own given and family names (the origin values)."""
    first, last = " ".join(given_name.split()), " ".join(family_name.split())
    errors = {
        field: [f"Use at most {MAX_NAME} characters."]
        for field, value in (("given_name", first), ("family_name", last))
        if len(value) > MAX_NAME
    }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = {"given_name": user.first_name, "family_name": user.last_name}
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
        audit_record(
            actor=user,
            tenant=tenant,
            action=AuditAction.ACCOUNT_PROFILE_UPDATE,
            target=user,
            data={"before": before, "after": {"given_name": first, "family_name": last}},
        )
    return user


def verification_policy(*, tenant: Tenant, user: User) -> dict[str, bool]:
    section = effective_section(
        tenant=tenant, organization=home_organization_id(user=user), section="attribute_verification"
    )
    return {
        EMAIL: bool(section["verify_email"]),
        MOBILE: bool(section["verify_mobile"]),
        "notify": bool(section["notify_on_change"]),
    }


def current_value(user: User, attribute: str) -> str:
    return user.email if attribute == EMAIL else user.phone_number


def _clean(*, tenant: Tenant, user: User, attribute: str, value: str) -> str:
    value = value.strip()
    if attribute == EMAIL:
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({EMAIL: ["Enter an email address like name@example.com."]}) from None
        if User.objects.filter(tenant=tenant, email__iexact=value).exclude(pk=user.pk).exists():
            raise ValidationError({EMAIL: ["Another account already uses that email address."]})
        return value
    digits = value.replace(" ", "").replace("-", "")
    if not (digits.startswith("+") and digits[1:].isdigit() and 8 <= len(digits) <= 16):
        raise ValidationError({MOBILE: ["Enter the number in international form, like +44 7700 900123."]})
    return digits


DEFAULT_SMS_CODE = "Your code is {code}."


def _send(
    *, tenant: Tenant, user: User, attribute: str, to: str, subject: str, template: str, context: dict[str, Any]
) -> None:
    """To the home organization's (the account page's) taste: a verification SMS is its ``sms_verification``
    template, an email ends with its branding."""
    try:
        if attribute == MOBILE and template == "verify":
            text = sms_template(
                tenant=tenant,
                organization=home_organization_id(user=user),
                kind="verification",
                default=DEFAULT_SMS_CODE,
            )
            values = {"code": str(context["code"]), "minutes": str(context["minutes"]), "tenant": tenant.display_name}
            sms.gateway().send(to=to, text=render_text(text, values))
        elif attribute == MOBILE:
            sms.gateway().send(to=to, text=render_to_string(f"account/{template}.sms.txt", context).strip())
        else:
            send_branded_mail(
                tenant=tenant,
                organization=home_organization_id(user=user),
                to=to,
                subject=subject,
                body=render_to_string(f"account/{template}.txt", context),
            )
    except (OSError, smtplib.SMTPException, sms.SmsError) as exc:
        raise DeliveryError(attribute) from exc


def _apply(*, tenant: Tenant, user: User, attribute: str, value: str, notify: bool, verified: bool) -> None:
    old = current_value(user, attribute)
    try:
        with transaction.atomic():
            if attribute == EMAIL:
                user.email = value
            else:
                user.phone_number = value
            user.save(update_fields=["email" if attribute == EMAIL else "phone_number"])
            audit_record(
                actor=user,
                tenant=tenant,
                action=AuditAction(f"account.{attribute}.change"),
                target=user,
                data={"verified": verified},  # the values are personal data; the user row has the new one
            )
    except IntegrityError:
        raise ValidationError({attribute: ["Another account already uses that email address."]}) from None
    if notify and old and old != value:
        context = {"tenant": tenant, "what": LABELS[attribute], "user": user}
        try:
            _send(
                tenant=tenant,
                user=user,
                attribute=attribute,
                to=old,
                subject=f"Your {LABELS[attribute]} was changed",
                template="changed",
                context=context,
            )
        except DeliveryError:
            pass  # the change is made; a notice that cannot be delivered does not undo it


def change_start(*, session: Any, tenant: Tenant, user: User, attribute: str, value: str) -> bool:
    """Begin changing the email or mobile number. True: a code was sent (pending); False: changed now."""
    value = _clean(tenant=tenant, user=user, attribute=attribute, value=value)
    if value == current_value(user, attribute):
        raise ValidationError({attribute: [f"That is already your {LABELS[attribute]}."]})
    policy = verification_policy(tenant=tenant, user=user)
    if not policy[attribute]:
        _apply(tenant=tenant, user=user, attribute=attribute, value=value, notify=policy["notify"], verified=False)
        return False
    code = "".join(secrets.choice("0123456789") for _ in range(CODE_LENGTH))
    nonce = secrets.token_hex(16)
    _send(
        tenant=tenant,
        user=user,
        attribute=attribute,
        to=value,
        subject=f"Confirm your new {LABELS[attribute]}",
        template="verify",
        context={"tenant": tenant, "code": code, "minutes": CODE_SECONDS // 60, "what": LABELS[attribute]},
    )
    session[SESSION_PENDING] = {
        "tenant_id": tenant.pk,
        "user_id": user.pk,
        "attribute": attribute,
        "value": value,
        "nonce": nonce,
        "hash": code_hash(nonce, code),
        "expires": int(time.time()) + CODE_SECONDS,
        "wrong": 0,
    }
    audit_record(actor=user, tenant=tenant, action=AuditAction(f"account.{attribute}.code_sent"), target=user)
    return True


def pending_change(*, session: Any, tenant: Tenant, user: User) -> dict[str, Any] | None:
    pending = session.get(SESSION_PENDING)
    if not isinstance(pending, dict) or pending.get("tenant_id") != tenant.pk or pending.get("user_id") != user.pk:
        return None
    if int(pending.get("expires", 0)) < int(time.time()):
        session.pop(SESSION_PENDING, None)
        return None
    return pending


def change_confirm(*, session: Any, tenant: Tenant, user: User, code: str) -> str:
    """Check the code for the pending change and make it; returns the attribute changed.

    A wrong code keeps the old value; after MAX_WRONG wrong codes the change is dropped.
    """
    pending = pending_change(session=session, tenant=tenant, user=user)
    if pending is None:
        raise ValidationError({"code": ["There is no change waiting for a code, or it expired. Start again."]})
    candidate = "".join(str(code).split())
    if not hmac.compare_digest(code_hash(str(pending["nonce"]), candidate), str(pending["hash"])):
        pending["wrong"] = int(pending["wrong"]) + 1
        audit_record(
            actor=user, tenant=tenant, action=AuditAction(f"account.{pending['attribute']}.code_failed"), target=user
        )
        if pending["wrong"] >= MAX_WRONG:
            session.pop(SESSION_PENDING, None)
            raise ValidationError({"code": ["Too many wrong codes. Start the change again."]})
        session[SESSION_PENDING] = pending
        raise ValidationError({"code": ["That code is not right. Check the latest message we sent and try again."]})
    session.pop(SESSION_PENDING, None)
    attribute = str(pending["attribute"])
    policy = verification_policy(tenant=tenant, user=user)
    _apply(
        tenant=tenant,
        user=user,
        attribute=attribute,
        value=str(pending["value"]),
        notify=policy["notify"],
        verified=True,
    )
    return attribute
