"""One-time codes after the password (step-up): the rules, with no HTTP in them.

A challenge lives in the login state of the (server-side) session: the code's keyed
HMAC-SHA-256 with a per-challenge nonce (never the code), its expiry, wrong attempts and
when it was sent. A code is single-use: success removes the challenge; a resend replaces it.
Wrong codes count towards the account's lockout (``tenants.lockout``) as failed sign-ins,
and after the organization's ``lockout_max_attempts`` wrong codes the challenge is dropped.
"""

from __future__ import annotations

import enum
import hmac
import secrets
import smtplib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

from idp.flow import sms
from orgs.inheritance.branding import send_branded_mail
from orgs.inheritance.selectors import effective_section
from orgs.inheritance.texts import email_template, render_text, sms_template
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record
from tenants.lockout import failure_record, failures_reset, identifier_locked
from tenants.models import Tenant, User

EMAIL_OTP = "email_otp"
SMS_OTP = "sms_otp"
FACTORS = (EMAIL_OTP, SMS_OTP)  # the order the journey asks for them
AMR = {EMAIL_OTP: "otp", SMS_OTP: "sms"}  # RFC 8176 method names
RESEND_COOLDOWN_SECONDS = 30
MAX_SENDS = 5


class DeliveryError(Exception):
    """The code could not be sent (mail server or SMS gateway refused or unreachable)."""


class Check(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"
    TOO_MANY = "too-many"  # this challenge is spent; sign in again
    LOCKED = "locked"  # the account (or identifier) is locked out
    MISSING = "missing"  # no challenge (already used, replaced, or never sent)


@dataclass(frozen=True)
class OtpPolicy:
    length: int
    ttl_seconds: int
    max_attempts: int


def _key() -> str:
    return str(getattr(settings, "CANOPY_OTP_KEY", "") or settings.SECRET_KEY)


def code_hash(nonce: str, code: str) -> str:
    return salted_hmac("canopy.flow.otp", f"{nonce}:{code}", secret=_key(), algorithm="sha256").hexdigest()


def destination(user: User, factor: str) -> str:
    return user.email if factor == EMAIL_OTP else user.phone_number


def required_factors(*, tenant: Tenant, organization: uuid.UUID | None) -> list[str]:
    """The second factors the organization's effective settings require after the password."""
    login = effective_section(tenant=tenant, organization=organization, section="login")
    allowed = set(login["authenticators"] or [])
    connections = effective_section(tenant=tenant, organization=organization, section="connections")
    return [f for f in FACTORS if f in allowed and (connections[f] or {}).get("enabled")]


def policy_for(*, tenant: Tenant, organization: uuid.UUID | None, factor: str) -> OtpPolicy:
    conn = effective_section(tenant=tenant, organization=organization, section="connections")[factor] or {}
    login = effective_section(tenant=tenant, organization=organization, section="login")
    return OtpPolicy(
        length=int(conn.get("length", 6)),
        ttl_seconds=int(conn.get("ttl_seconds", 300)),
        max_attempts=int(login["lockout_max_attempts"]),
    )


def _template(
    *, tenant: Tenant, organization: uuid.UUID | None, factor: str, languages: Sequence[str] = ()
) -> tuple[str, str]:
    """(subject, body) of the effective ``email_otp`` or ``sms_otp`` template in the reader's language."""
    if factor == SMS_OTP:
        text = sms_template(
            tenant=tenant, organization=organization, kind="otp", default="Your code is {code}.", languages=languages
        )
        return "", text
    return email_template(
        tenant=tenant,
        organization=organization,
        kind="otp",
        default_subject="Your sign-in code",
        default_body="Your code is {code}.",
        languages=languages,
    )


def _deliver(
    *,
    tenant: Tenant,
    organization: uuid.UUID | None,
    factor: str,
    to: str,
    subject: str,
    body: str,
    languages: Sequence[str],
) -> None:
    """An SMS as it is (a gateway counts characters); an email with the organization's footer."""
    try:
        if factor == SMS_OTP:
            sms.gateway().send(to=to, text=body)
        else:
            send_branded_mail(
                tenant=tenant, organization=organization, to=to, subject=subject, body=body, languages=languages
            )
    except (OSError, smtplib.SMTPException, sms.SmsError) as exc:
        raise DeliveryError(factor) from exc


def challenge_send(
    *,
    state: dict[str, Any],
    tenant: Tenant,
    organization: uuid.UUID | None,
    user: User,
    factor: str,
    languages: Sequence[str] = (),
) -> tuple[bool, int]:
    """Create a new code for the login ``state`` and send it to ``user``; replaces any previous one.

    The message is ``organization``'s template in the first of ``languages`` it has, with its branding.

    Returns (sent, seconds to wait): refused while the cool-down runs or after MAX_SENDS.
    Raises DeliveryError when the mail server or gateway does not take it (nothing changes).
    """
    now = int(time.time())
    previous = state.get("otp") or {}
    wait = int(previous.get("sent_at", 0)) + RESEND_COOLDOWN_SECONDS - now
    if previous and wait > 0:
        return False, wait
    sends = int(state.get("otp_sends", 0))
    if sends >= MAX_SENDS:
        return False, 0
    policy = policy_for(tenant=tenant, organization=organization, factor=factor)
    code = "".join(secrets.choice("0123456789") for _ in range(policy.length))
    nonce = secrets.token_hex(16)
    subject, body = _template(tenant=tenant, organization=organization, factor=factor, languages=languages)
    values = {"code": code, "minutes": str(max(1, policy.ttl_seconds // 60)), "tenant": tenant.display_name}
    _deliver(
        tenant=tenant,
        organization=organization,
        languages=languages,
        factor=factor,
        to=destination(user, factor),
        subject=render_text(subject, values),
        body=render_text(body, values),
    )
    state["otp"] = {
        "factor": factor,
        "nonce": nonce,
        "hash": code_hash(nonce, code),
        "expires": now + policy.ttl_seconds,
        "attempts": 0,
        "sent_at": now,
    }
    state["otp_sends"] = sends + 1
    audit_record(actor=SYSTEM, tenant=tenant, action=AuditAction.LOGIN_OTP_SENT, target=user, data={"factor": factor})
    return True, 0


def challenge_check(  # noqa: PLR0911 - one return per outcome
    *, state: dict[str, Any], tenant: Tenant, organization: uuid.UUID | None, user: User, code: str, ip: str
) -> Check:
    """Check ``code`` against the challenge in ``state``; on success the challenge is gone."""
    identifier = str(state.get("identifier", ""))
    if identifier_locked(tenant=tenant, identifier=identifier, user=user):
        state.pop("otp", None)
        return Check.LOCKED
    challenge = state.get("otp")
    if not isinstance(challenge, dict):
        return Check.MISSING
    factor = str(challenge.get("factor") or EMAIL_OTP)
    if int(challenge["expires"]) < int(time.time()):
        state.pop("otp", None)
        return Check.EXPIRED
    candidate = "".join(code.split())
    if hmac.compare_digest(code_hash(str(challenge["nonce"]), candidate), str(challenge["hash"])):
        state.pop("otp", None)
        failures_reset(tenant=tenant, identifier=identifier, user=user)
        audit_record(
            actor=SYSTEM, tenant=tenant, action=AuditAction.LOGIN_OTP_VERIFIED, target=user, data={"factor": factor}
        )
        return Check.OK
    challenge["attempts"] = int(challenge["attempts"]) + 1
    locked = failure_record(tenant=tenant, identifier=identifier, ip=ip, user=user)
    audit_record(actor=SYSTEM, tenant=tenant, action=AuditAction.LOGIN_OTP_FAILED, target=user, data={"factor": factor})
    if locked:
        state.pop("otp", None)
        return Check.LOCKED
    if challenge["attempts"] >= policy_for(tenant=tenant, organization=organization, factor=factor).max_attempts:
        state.pop("otp", None)
        return Check.TOO_MANY
    return Check.WRONG
