"""Passkey rules: the relying party, the two ceremonies, and the credential list. No HTTP here.

Challenges live in the (server-side) session under ``canopy.passkey``, one per purpose, and
are taken out before they are checked: each is good for one answer within five minutes, so a
replayed or late answer finds nothing. py_webauthn checks the client data (type, challenge,
origin), the relying-party id hash, user presence (and verification when asked), the
signature and the counter.

Relying party: the id is the host of ``CANOPY_BASE_URL`` and the expected origin its scheme
and host, never the request's ``Host`` header (as for the OIDC issuer). Every tenant shares
that id, so credentials are looked up by (tenant, credential id): another tenant's passkey is
unknown here. The name and the user-verification / resident-key wishes come from the root's
effective ``connections.passkey`` (not overridable below the root).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.passkeys.models import PasskeyCredential
from orgs.inheritance.selectors import effective_section
from tenants.actors import SYSTEM, Actor
from tenants.audit import AuditAction, audit_record, audited_change
from tenants.models import Tenant, User

SESSION_KEY = "canopy.passkey"
CHALLENGE_SECONDS = 300
REGISTER = "register"
SIGN_IN = "sign-in"  # username-less: any passkey of this tenant, user verification required
FACTOR = "factor"  # after the password: one of this user's passkeys
PASSKEY = "passkey"  # the authenticator's name in login.authenticators
AMR_HWK = "hwk"  # RFC 8176: proof of possession of a hardware-secured key
AMR_USER = "user"  # RFC 8176: user presence and verification (PIN or biometrics) were checked
MAX_NAME = 100
KNOWN_TRANSPORTS = {t.value for t in AuthenticatorTransport}

MSG_CHALLENGE = "This passkey request has expired or was already used. Try again."
MSG_UNKNOWN = (
    "This passkey is not registered for an account here. Sign in with your username, "
    "then add a passkey from your account page."
)
MSG_NOT_VERIFIED = "We could not verify this passkey. Try again, or sign in another way."
MSG_NOT_CREATED = "We could not register this passkey. Try again."
MSG_DUPLICATE = "This passkey is already registered."


class PasskeyError(Exception):
    """A ceremony failed; ``message`` is for the person signing in (plain words, no detail)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RelyingParty:
    id: str
    name: str
    origin: str
    user_verification: str
    resident_key: str


def amr_for(*, user_verified: bool) -> list[str]:
    """RFC 8176 methods a passkey proves: the key, and the user when the authenticator verified them."""
    return [AMR_HWK, AMR_USER] if user_verified else [AMR_HWK]


@dataclass(frozen=True)
class Registration:
    credential: PasskeyCredential
    user_verified: bool

    @property
    def amr(self) -> list[str]:
        return amr_for(user_verified=self.user_verified)


@dataclass(frozen=True)
class Assertion:
    user: User
    credential: PasskeyCredential
    user_verified: bool

    @property
    def amr(self) -> list[str]:
        return amr_for(user_verified=self.user_verified)


def relying_party(tenant: Tenant) -> RelyingParty:
    """The RP of ``tenant``: id and origin from CANOPY_BASE_URL, the rest from the root's settings."""
    base = urlsplit(settings.CANOPY_BASE_URL)
    conn = effective_section(tenant=tenant, organization=None, section="connections")["passkey"] or {}
    return RelyingParty(
        id=base.hostname or "localhost",
        name=str(conn.get("rp_name") or tenant.display_name),
        origin=f"{base.scheme}://{base.netloc}",
        user_verification=str(conn.get("user_verification") or "preferred"),
        resident_key=str(conn.get("resident_key") or "preferred"),
    )


def passkey_required(*, tenant: Tenant, organization: uuid.UUID | None) -> bool:
    """A passkey is asked after the password where the organization's authenticators list it."""
    login = effective_section(tenant=tenant, organization=organization, section="login")
    return PASSKEY in (login["authenticators"] or [])


def can_step_up(*, tenant: Tenant, organization: uuid.UUID | None, user: User) -> bool:
    """A passkey serves a step-up (``acr_values``) for a user who has one in this tenant."""
    del organization  # passkeys belong to the user, whatever the organization
    return PasskeyCredential.objects.filter(tenant=tenant, user=user).exists()


# --- challenges -----------------------------------------------------------------------------


def _challenge_put(session: Any, *, purpose: str, tenant: Tenant, challenge: bytes, **extra: Any) -> None:
    pending = dict(session.get(SESSION_KEY) or {})
    pending[purpose] = {
        "tenant_id": tenant.pk,
        "challenge": bytes_to_base64url(challenge),
        "expires": int(time.time()) + CHALLENGE_SECONDS,
        **extra,
    }
    session[SESSION_KEY] = pending


def _challenge_take(session: Any, *, purpose: str, tenant: Tenant) -> dict[str, Any] | None:
    """The pending challenge of ``purpose``, removed from the session (one answer per challenge)."""
    pending = dict(session.get(SESSION_KEY) or {})
    entry = pending.pop(purpose, None)
    session[SESSION_KEY] = pending
    if not isinstance(entry, dict) or entry.get("tenant_id") != tenant.pk:
        return None
    if int(entry.get("expires", 0)) < int(time.time()):
        return None
    return entry


# --- registration ---------------------------------------------------------------------------


def _descriptors(rows: list[PasskeyCredential]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(row.credential_id),
            transports=[AuthenticatorTransport(t) for t in row.transports if t in KNOWN_TRANSPORTS],
        )
        for row in rows
    ]


def user_handle_for(*, tenant: Tenant, user: User) -> str:
    """The WebAuthn user id: random and opaque (no username in it), the same for all of a user's passkeys."""
    existing = PasskeyCredential.objects.filter(tenant=tenant, user=user).values_list("user_handle", flat=True).first()
    return existing or bytes_to_base64url(secrets.token_bytes(32))


def registration_options(*, session: Any, tenant: Tenant, user: User) -> dict[str, Any]:
    """Options for ``navigator.credentials.create``; remembers the challenge for :func:`register`."""
    rp = relying_party(tenant)
    handle = user_handle_for(tenant=tenant, user=user)
    existing = list(PasskeyCredential.objects.filter(tenant=tenant, user=user))
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_name=user.get_username(),
        user_id=base64url_to_bytes(handle),
        user_display_name=user.get_full_name() or user.get_username(),
        timeout=CHALLENGE_SECONDS * 1000,
        exclude_credentials=_descriptors(existing),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement(rp.resident_key),
            user_verification=UserVerificationRequirement(rp.user_verification),
        ),
    )
    _challenge_put(
        session, purpose=REGISTER, tenant=tenant, challenge=options.challenge, user_id=user.pk, handle=handle
    )
    return dict(json.loads(options_to_json(options)))


def clean_name(name: Any, *, default: str) -> str:
    value = " ".join(str(name or "").split())
    if len(value) > MAX_NAME:
        raise ValidationError({"name": [f"Give the passkey a name of at most {MAX_NAME} characters."]})
    return value or default


def register(*, session: Any, tenant: Tenant, user: User, credential: Any, name: str = "") -> Registration:
    """Verify the authenticator's answer to the pending registration and store the passkey."""
    pending = _challenge_take(session, purpose=REGISTER, tenant=tenant)
    if pending is None or pending.get("user_id") != user.pk:
        raise PasskeyError(MSG_CHALLENGE)
    rp = relying_party(tenant)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(str(pending["challenge"])),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_verification=rp.user_verification == "required",
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise PasskeyError(MSG_NOT_CREATED) from exc
    transports = []
    if isinstance(credential, dict) and isinstance(credential.get("response"), dict):
        transports = [t for t in credential["response"].get("transports") or [] if t in KNOWN_TRANSPORTS]
    count = PasskeyCredential.objects.filter(tenant=tenant, user=user).count()
    label = clean_name(name, default=f"Passkey {count + 1}")
    credential_id = bytes_to_base64url(verified.credential_id)
    with transaction.atomic():
        if PasskeyCredential.objects.filter(tenant=tenant, credential_id=credential_id).exists():
            raise PasskeyError(MSG_DUPLICATE)
        row = PasskeyCredential.objects.create(
            tenant=tenant,
            user=user,
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            user_handle=str(pending.get("handle") or user_handle_for(tenant=tenant, user=user)),
            name=label,
            transports=transports,
            aaguid=str(verified.aaguid),
            backed_up=bool(verified.credential_backed_up),
        )
        audit_record(actor=user, tenant=tenant, action=AuditAction.PASSKEY_REGISTER, target=row, data={"name": label})
    return Registration(credential=row, user_verified=bool(verified.user_verified))


# --- authentication -------------------------------------------------------------------------


def authentication_options(
    *, session: Any, tenant: Tenant, user: User | None, verify_user: bool = False
) -> dict[str, Any]:
    """Options for ``navigator.credentials.get``.

    With ``user`` (a factor of the journey): that user's passkeys, user verification as the
    settings say, or required with ``verify_user`` (the passkey is the first factor, where the
    organization allows no password). Without (username-less): any discoverable passkey, and
    user verification is required, because the passkey is then the whole sign-in.
    """
    rp = relying_party(tenant)
    if user is not None:
        allowed = _descriptors(list(PasskeyCredential.objects.filter(tenant=tenant, user=user)))
        wanted = UserVerificationRequirement.REQUIRED if verify_user else None
        verification = wanted or UserVerificationRequirement(rp.user_verification)
        purpose = FACTOR
    else:
        allowed, verification, purpose = [], UserVerificationRequirement.REQUIRED, SIGN_IN
    options = generate_authentication_options(
        rp_id=rp.id, timeout=CHALLENGE_SECONDS * 1000, allow_credentials=allowed, user_verification=verification
    )
    _challenge_put(
        session,
        purpose=purpose,
        tenant=tenant,
        challenge=options.challenge,
        user_id=user.pk if user else None,
        uv=verification == UserVerificationRequirement.REQUIRED,
    )
    return dict(json.loads(options_to_json(options)))


def _credential_id_of(credential: Any) -> str:
    if not isinstance(credential, dict):
        return ""
    value = credential.get("rawId") or credential.get("id") or ""
    return str(value)[:1400] if isinstance(value, str) else ""


def _same_handle(given: Any, stored: str) -> bool:
    if not given:
        return True  # a non-discoverable credential answers without a user handle
    try:
        return isinstance(given, str) and base64url_to_bytes(given) == base64url_to_bytes(stored)
    except ValueError:
        return False


def authenticate(*, session: Any, tenant: Tenant, credential: Any, user: User | None) -> Assertion:
    """Verify an answer to the pending sign-in (``user`` None) or second-factor challenge.

    The challenge is spent whatever the outcome. Raises PasskeyError with a plain message.
    """
    purpose = FACTOR if user is not None else SIGN_IN
    pending = _challenge_take(session, purpose=purpose, tenant=tenant)
    if pending is None or pending.get("user_id") != (user.pk if user else None):
        raise PasskeyError(MSG_CHALLENGE)
    row = (
        PasskeyCredential.objects.select_related("user")
        .filter(tenant=tenant, credential_id=_credential_id_of(credential), user__is_active=True)
        .first()
    )
    if row is None or (user is not None and row.user_id != user.pk):
        audit_record(actor=SYSTEM, tenant=tenant, action=AuditAction.LOGIN_PASSKEY_FAILED, data={"reason": "unknown"})
        raise PasskeyError(MSG_UNKNOWN)
    response = credential.get("response") if isinstance(credential, dict) else None
    if not isinstance(response, dict) or not _same_handle(response.get("userHandle"), row.user_handle):
        raise PasskeyError(MSG_NOT_VERIFIED)
    rp = relying_party(tenant)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=base64url_to_bytes(str(pending["challenge"])),
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=bytes(row.public_key),
            credential_current_sign_count=row.sign_count,
            require_user_verification=purpose == SIGN_IN or bool(pending.get("uv")),
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        audit_record(
            actor=SYSTEM,
            tenant=tenant,
            action=AuditAction.LOGIN_PASSKEY_FAILED,
            target=row.user,
            data={"reason": "invalid"},
        )
        raise PasskeyError(MSG_NOT_VERIFIED) from exc
    PasskeyCredential.objects.filter(pk=row.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    audit_record(
        actor=SYSTEM,
        tenant=tenant,
        action=AuditAction.LOGIN_PASSKEY_VERIFIED,
        target=row.user,
        data={"passkey": row.pk, "user_verified": verified.user_verified},
    )
    return Assertion(user=row.user, credential=row, user_verified=bool(verified.user_verified))


# --- the list -------------------------------------------------------------------------------


def passkey_rename(*, actor: Actor, credential: PasskeyCredential, name: str) -> PasskeyCredential:
    label = clean_name(name, default=credential.name)
    return audited_change(
        actor=actor,
        tenant=credential.tenant,
        action=AuditAction.PASSKEY_RENAME,
        target=credential,
        field="name",
        value=label,
    )


def passkey_revoke(*, actor: Actor, credential: PasskeyCredential) -> None:
    """Delete the passkey: it no longer signs in (the authenticator keeps a useless key)."""
    with transaction.atomic():
        audit_record(
            actor=actor,
            tenant=credential.tenant,
            action=AuditAction.PASSKEY_REVOKE,
            target=credential,
            data={"name": credential.name, "user": credential.user_id},
        )
        credential.delete()
