"""The audit trail: every service that changes state records one event."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from django.db import models, transaction

from tenants.actors import Actor, SystemActor, actor_label
from tenants.models import AuditEvent, Tenant


class AuditAction(StrEnum):
    """Every action the audit trail knows: a closed set (Zulip's ``RealmAuditLog`` constants).

    A new kind of event is a new member here; ``audit_record`` refuses anything else, so a typo
    cannot start a second spelling that filters, exports and webhooks would miss.
    """

    ACCOUNT_EMAIL_CHANGE = "account.email.change"
    ACCOUNT_EMAIL_CODE_FAILED = "account.email.code_failed"
    ACCOUNT_EMAIL_CODE_SENT = "account.email.code_sent"
    ACCOUNT_MOBILE_CHANGE = "account.mobile.change"
    ACCOUNT_MOBILE_CODE_FAILED = "account.mobile.code_failed"
    ACCOUNT_MOBILE_CODE_SENT = "account.mobile.code_sent"
    ACCOUNT_PROFILE_UPDATE = "account.profile.update"
    ACCOUNT_SESSION_END = "account.session.end"
    ACCOUNT_SESSION_END_OTHERS = "account.session.end_others"
    ACTS_FOR_ADD = "acts_for.add"
    ACTS_FOR_REMOVE = "acts_for.remove"
    DOMAIN_ADD = "domain.add"
    DOMAIN_REMOVE = "domain.remove"
    DOMAIN_VERIFY = "domain.verify"
    FEDERATION_BACKCHANNEL_LOGOUT = "federation.backchannel_logout"
    FEDERATION_DOMAIN_CHECK = "federation.domain.check"
    FEDERATION_DOMAIN_CLAIM = "federation.domain.claim"
    FEDERATION_DOMAIN_RELEASE = "federation.domain.release"
    FEDERATION_DOMAIN_UNVERIFIED = "federation.domain.unverified"
    FEDERATION_DOMAIN_VERIFY = "federation.domain.verify"
    FEDERATION_IDENTITY_UNLINK = "federation.identity.unlink"
    FEDERATION_IDP_CREATE = "federation.idp.create"
    FEDERATION_IDP_DELETE = "federation.idp.delete"
    FEDERATION_IDP_METADATA = "federation.idp.metadata"
    FEDERATION_IDP_SECRET = "federation.idp.secret"
    FEDERATION_IDP_UPDATE = "federation.idp.update"
    FEDERATION_JIT_CREATE = "federation.jit_create"
    FEDERATION_LINK = "federation.link"
    FEDERATION_LOGIN = "federation.login"
    FEDERATION_PARTNER_LOGOUT = "federation.partner_logout"
    FEDERATION_PARTNER_LOGOUT_REFUSED = "federation.partner_logout_refused"
    FEDERATION_REFUSED = "federation.refused"
    INVITATION_ACCEPT = "invitation.accept"
    INVITATION_CREATE = "invitation.create"
    INVITATION_REGISTER = "invitation.register"
    INVITATION_RESEND = "invitation.resend"
    INVITATION_REVOKE = "invitation.revoke"
    LOGIN_LOCKOUT_CLEAR = "login.lockout_clear"
    LOGIN_OTP_FAILED = "login.otp.failed"
    LOGIN_OTP_SENT = "login.otp.sent"
    LOGIN_OTP_VERIFIED = "login.otp.verified"
    LOGIN_PASSKEY_FAILED = "login.passkey.failed"
    LOGIN_PASSKEY_VERIFIED = "login.passkey.verified"
    LOGIN_PUSH_APPROVED = "login.push.approved"
    LOGIN_PUSH_DENIED = "login.push.denied"
    LOGIN_PUSH_SENT = "login.push.sent"
    MEMBERSHIP_ADD = "membership.add"
    MEMBERSHIP_REMOVE = "membership.remove"
    MEMBERSHIP_SET_ROLE = "membership.set_role"
    OIDC_CLIENT_BACKCHANNEL_LOGOUT_FAILED = "oidc_client.backchannel_logout_failed"
    OIDC_CLIENT_CREATE = "oidc_client.create"
    OIDC_CLIENT_DELETE = "oidc_client.delete"
    OIDC_CLIENT_ROTATE_SECRET = "oidc_client.rotate_secret"
    OIDC_CLIENT_UPDATE = "oidc_client.update"
    ORGANIZATION_CREATE = "organization.create"
    ORGANIZATION_DELETE = "organization.delete"
    ORGANIZATION_MOVE = "organization.move"
    ORGANIZATION_UPDATE = "organization.update"
    PASSKEY_REGISTER = "passkey.register"
    PASSKEY_RENAME = "passkey.rename"
    PASSKEY_REVOKE = "passkey.revoke"
    PASSWORD_RECOVERY_CODE_VERIFIED = "password.recovery.code_verified"
    PASSWORD_RECOVERY_SENT = "password.recovery.sent"
    PASSWORD_RESET = "password.reset"
    PROFILE_CLEAR = "profile.clear"
    PROFILE_SET = "profile.set"
    PROPAGATIONJOB_RESUME = "propagationjob.resume"
    SAML_SP_CREATE = "saml.sp.create"
    SAML_SP_DELETE = "saml.sp.delete"
    SAML_SP_METADATA = "saml.sp.metadata"
    SAML_SP_UPDATE = "saml.sp.update"
    SETTINGS_OVERRIDE = "settings.override"
    SETTINGS_REVERT = "settings.revert"
    SHARING_REMOVE = "sharing.remove"
    SHARING_SET = "sharing.set"
    SHARINGJOB_RESUME = "sharingjob.resume"
    SIGNIN_DECISION = "signin.decision"
    SIGNIN_REFUSED = "signin.refused"
    SIGNING_KEYS_ROTATE = "signing_keys.rotate"
    TENANT_CREATE = "tenant.create"
    USER_ATTRIBUTES_UPDATE = "user.attributes.update"
    USER_CREATE = "user.create"
    USER_REGISTER = "user.register"
    USER_UPDATE = "user.update"
    USER_STORE_CREATE = "user_store.create"
    USER_STORE_MAPPING = "user_store.mapping"


def audit_record(
    *,
    actor: Actor,
    tenant: Tenant | None,
    action: AuditAction,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    action = AuditAction(action)  # refuses an action outside the enumeration (ValueError)
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=None if isinstance(actor, SystemActor) else actor,
        actor_label=actor_label(actor)[:200],
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
    )


M = TypeVar("M", bound=models.Model)


def audited_change(
    *,
    actor: Actor,
    tenant: Tenant | None,
    action: AuditAction,
    target: M,
    field: str,
    value: Any,
    keys: tuple[str, str] = ("before", "after"),
) -> M:
    """Set one field of ``target`` and record it (the old and new value under ``keys``), atomically."""
    with transaction.atomic():
        before = getattr(target, field)
        setattr(target, field, value)
        target.save(update_fields=[field])
        audit_record(actor=actor, tenant=tenant, action=action, target=target, data={keys[0]: before, keys[1]: value})
    return target
