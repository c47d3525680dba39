"""Password recovery by email link: ``/t/<slug>/recover/``.

- The request page answers the same whatever was typed (an account or not, with an email or
  not), and is rate-limited per identifier and per address (``tenants.lockout.rate_exceeded``).
- The link carries Django's password-reset token for the user (HMAC-signed with SECRET_KEY,
  expiring after ``CANOPY_RECOVERY_SECONDS``, and single-use: it covers the password hash and
  the last login, so it stops working once the password changes) and the user id, signed.
- Opening the link moves the token into the session and redirects to a URL without it (no
  token in the Referer or the history); the form checks the token again.
- On reset: the new password is checked by the password validators, every other session of
  the user ends (the session auth hash changes) and the registered revokers
  (``idp.flow.revocation``: OIDC refresh and access tokens) run; audit events record both.
- Per organization: the organization in context (``org`` on the page, else ``organization`` in
  ``next``, as the other login pages; else the tenant root) decides with its effective
  ``flows.password_recovery`` whether recovery is offered at all: where it is off the page says so
  (403) and no mail goes out, whatever the root says (and the other way round). The mail uses the
  effective ``templates.email_password_recovery`` of the organization in context, else of the
  account's home organization (else the root's); with no organization in context, an account whose
  home organization turned recovery off gets no mail (the page answers as for anyone else).
- By code as well, when that effective ``flows.password_recovery`` flow is enabled
  and lists the ``email_otp`` step (the default): the same email also carries a one-time code,
  and the "check your email" page offers a field for it (``recover/code/``). The challenge sits
  in the session whether or not the account exists (a made-up one never matches), stored as a
  keyed hash (:func:`idp.flow.otp.code_hash`), expires with ``connections.email_otp``'s
  lifetime, is single-use, and after the organization's ``lockout_max_attempts`` wrong codes it is
  dropped (ask again: the request rate limit bounds the guesses). A right code leads to the
  same reset form as the link, with the same guarantees.
"""

from __future__ import annotations

import hmac
import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from idp.flow import otp, pages
from idp.flow.branding import request_languages
from idp.flow.passwords import password_problems
from idp.flow.redirects import HttpResponseSeeOther, safe_next
from idp.flow.revocation import revoke_everything
from idp.flow.services import client_ip
from idp.flow.session import login_url
from orgs.inheritance.branding import send_branded_mail
from orgs.inheritance.selectors import effective_section
from orgs.inheritance.texts import email_template, render_text
from orgs.tree.selectors import home_organization
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record
from tenants.lockout import rate_exceeded
from tenants.models import Tenant, User
from tenants.routing import tenant_of

SESSION_RECOVER = "canopy.recover"
SESSION_RECOVER_CODE = "canopy.recover.code"
MSG_CODE_WRONG = "That code is not right. Check the latest email we sent you and try again."
MSG_CODE_EXPIRED = "That code has expired or was already used. Ask for a new one below."
MSG_CODE_TOO_MANY = "Too many wrong codes. Ask for a new email below."
LINK_SALT = "canopy.flow.recover"
MSG_SENT = (
    "If an account matches what you entered and has an email address, we sent it a link to choose a new "
    "password. The link works once and expires soon. Check your inbox and spam folder."
)
MSG_BAD_LINK = "This link has expired or was already used. Ask for a new one below."
MSG_TOO_MANY = "Too many requests. Wait a few minutes and try again."
MSG_OFF_TITLE = "Password reset is not available"
MSG_OFF = (
    "You cannot reset your password yourself here. Ask your administrator to reset it for you, "
    "then sign in with the new password."
)
RATE_LIMIT_PER_IDENTIFIER = 3
RATE_LIMIT_PER_ADDRESS = 20
RATE_WINDOW_SECONDS = 15 * 60


class RecoveryTokens(PasswordResetTokenGenerator):
    key_salt = "canopy.flow.recovery.RecoveryTokens"
    algorithm = "sha256"


def lifetime_seconds() -> int:
    return int(getattr(settings, "CANOPY_RECOVERY_SECONDS", 1800))


tokens = RecoveryTokens()


class RequestForm(forms.Form):
    identifier = forms.CharField(
        max_length=254,
        strip=True,
        error_messages={"required": "Enter your username or email.", "max_length": "That is too long."},
    )


class ResetForm(forms.Form):
    password = forms.CharField(max_length=4096, strip=False, error_messages={"required": "Enter a new password."})
    confirm = forms.CharField(max_length=4096, strip=False, error_messages={"required": "Enter it again."})


def _signed_uid(tenant: Tenant, user: User) -> str:
    return signing.dumps({"t": tenant.pk, "u": user.pk}, salt=LINK_SALT, compress=True)


def recovery_link(tenant: Tenant, user: User) -> str:
    query = urlencode({"u": _signed_uid(tenant, user), "token": tokens.make_token(user)})
    return f"{settings.CANOPY_BASE_URL}{reverse('flow:recover_reset', kwargs={'tenant_slug': tenant.slug})}?{query}"


def _section(*, tenant: Tenant, organization: uuid.UUID | None, section: str) -> Any:
    try:
        return effective_section(tenant=tenant, organization=organization, section=section)
    except LookupError:  # not (or no longer) an organization of this tenant: the root's
        return effective_section(tenant=tenant, organization=None, section=section)


def recovery_flow(*, tenant: Tenant, organization: uuid.UUID | None) -> dict[str, Any]:
    """The effective ``flows.password_recovery`` of ``organization`` (None: the tenant root)."""
    return dict(_section(tenant=tenant, organization=organization, section="flows")["password_recovery"] or {})


def recovery_enabled(*, tenant: Tenant, organization: uuid.UUID | None) -> bool:
    return bool(recovery_flow(tenant=tenant, organization=organization).get("enabled"))


def recovery_by_code(tenant: Tenant, organization: uuid.UUID | None = None) -> bool:
    """The effective recovery flow is enabled and lists the emailed code (``email_otp``)."""
    flow = recovery_flow(tenant=tenant, organization=organization)
    return bool(flow.get("enabled")) and "email_otp" in (flow.get("steps") or [])


def _code_challenge(*, tenant: Tenant, user: User | None, organization: uuid.UUID | None) -> tuple[str, dict[str, Any]]:
    """A new code and its challenge; for no user, a challenge no code matches (the page looks the same)."""
    policy = otp.policy_for(tenant=tenant, organization=organization, factor=otp.EMAIL_OTP)
    code = "".join(secrets.choice("0123456789") for _ in range(policy.length))
    nonce = secrets.token_hex(16)
    return code, {
        "tenant_id": tenant.pk,
        "user_id": user.pk if user is not None else None,
        "nonce": nonce,
        "hash": otp.code_hash(nonce, code) if user is not None else "",
        "expires": int(time.time()) + policy.ttl_seconds,
        "attempts": 0,
        "org": organization.hex if organization else "",
    }


def _mail_organization(*, user: User, organization: uuid.UUID | None) -> uuid.UUID | None:
    """Whose recovery mail: the organization in context, else the account's home organization."""
    if organization is not None:
        return organization
    home = home_organization(user=user)
    return home.pk if home is not None else None


def recovery_request(
    *,
    tenant: Tenant,
    identifier: str,
    ip: str,
    challenge: dict[str, Any] | None = None,
    organization: uuid.UUID | None = None,
    languages: Sequence[str] = (),
) -> bool:
    """Send a link if ``identifier`` names an active account with an email. False only when rate-limited.

    ``organization`` is the one in context (None: the tenant root); the caller has checked that
    its recovery flow is on. The answer does not depend on whether the account exists. With
    recovery by code on and a ``challenge`` dict given, the email carries a code too and
    ``challenge`` receives its record (a record that never matches when there is no such account).
    With no organization in context, an account whose home organization turned recovery off gets
    no mail. The mail is that organization's template in the first of ``languages`` it has, with
    its branding.
    """
    limited = rate_exceeded(
        scope="recover",
        tenant=tenant,
        key=identifier,
        limit=RATE_LIMIT_PER_IDENTIFIER,
        window_seconds=RATE_WINDOW_SECONDS,
    )
    if ip:
        limited = (
            rate_exceeded(
                scope="recover-ip",
                tenant=None,
                key=ip,
                limit=RATE_LIMIT_PER_ADDRESS,
                window_seconds=RATE_WINDOW_SECONDS,
            )
            or limited
        )
    if limited:
        return False
    found = (
        User.objects.filter(tenant=tenant, is_active=True)
        .filter(Q(username__iexact=identifier) | Q(email__iexact=identifier))
        .exclude(email="")
        .first()
    )
    code = ""
    if challenge is not None and recovery_by_code(tenant, organization):
        code, record = _code_challenge(tenant=tenant, user=found, organization=organization)
        challenge.update(record)
    if found is None:
        return True
    mail_org = _mail_organization(user=found, organization=organization)
    if organization is None and not recovery_enabled(tenant=tenant, organization=mail_org):
        if challenge is not None:
            challenge.update(user_id=None, hash="")  # nothing was sent: no code can match
        return True
    subject, body = email_template(
        tenant=tenant,
        organization=mail_org,
        kind="password_recovery",
        default_subject="Reset your password",
        default_body="Follow {link} to choose a new password.",
        languages=languages,
    )
    has_code_field = "{code}" in body
    body = render_text(body, {"link": recovery_link(tenant, found), "tenant": tenant.display_name, "code": code})
    if code and not has_code_field:
        body += f"\n\nOr type this code on the page: {code}"
    send_branded_mail(
        tenant=tenant, organization=mail_org, to=found.email, subject=subject, body=body, languages=languages
    )
    audit_record(actor=SYSTEM, tenant=tenant, action=AuditAction.PASSWORD_RECOVERY_SENT, target=found)
    return True


def user_for_link(*, tenant: Tenant, uid: str, token: str) -> User | None:
    """The user a link is for, if it is signed for this tenant, unexpired and unused."""
    try:
        data = signing.loads(uid, salt=LINK_SALT, max_age=lifetime_seconds())
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != tenant.pk or not isinstance(data.get("u"), int):
        return None
    found = User.objects.filter(pk=int(data["u"]), tenant=tenant, is_active=True).first()
    if found is None or not tokens.check_token(found, token):
        return None
    return found


def password_reset(*, tenant: Tenant, user: User, password: str) -> int:
    """Set the new password, end every session and revoke every token. Returns how many tokens."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        revoked = revoke_everything(user)
        audit_record(
            actor=SYSTEM,
            tenant=tenant,
            action=AuditAction.PASSWORD_RESET,
            target=user,
            data={"credentials_revoked": revoked},
        )
    return revoked


def _page(request: HttpRequest, tenant: Tenant, template: str, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("branding", pages.branding(request, tenant))
    return render(request, f"flow/{template}", {"tenant": tenant, **context}, status=status)


def _carried(request: HttpRequest, tenant: Tenant) -> dict[str, str]:
    """What the recovery pages carry along, as the login pages do: ``next`` (safe) and ``org``."""
    source = request.POST if request.method == "POST" else request.GET
    carried = {
        "next": safe_next(tenant=tenant, candidate=source.get("next", "")) or "",
        "org": source.get("org", "")[:100],
    }
    return {k: v for k, v in carried.items() if v}


def _refused(request: HttpRequest, tenant: Tenant) -> HttpResponse:
    return _page(request, tenant, "error.html", status=403, title=MSG_OFF_TITLE, message=MSG_OFF)


@never_cache
@require_http_methods(["GET", "POST"])
def recover_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    here = reverse("flow:recover", kwargs={"tenant_slug": tenant.slug})
    organization = pages.page_organization(request, tenant)
    if not recovery_enabled(tenant=tenant, organization=organization):
        return _refused(request, tenant)  # before any lookup or mail, whoever asks
    carried = _carried(request, tenant)
    context: dict[str, Any] = {"login_url": login_url(tenant, carried.get("next", "")), "carried": carried}
    if request.method == "GET":
        notice = MSG_SENT if request.GET.get("sent") == "1" else ""
        error = MSG_BAD_LINK if request.GET.get("bad") == "1" else ""
        return _page(
            request,
            tenant,
            "recover.html",
            notice=notice,
            error=error,
            code_form=bool(notice) and _code_pending(request, tenant) is not None,
            **context,
        )
    form = RequestForm(request.POST)
    if not form.is_valid():
        return _page(request, tenant, "recover.html", status=400, error=form.errors["identifier"][0], **context)
    challenge: dict[str, Any] = {}
    if not recovery_request(
        tenant=tenant,
        identifier=form.cleaned_data["identifier"],
        ip=client_ip(request),
        challenge=challenge,
        organization=organization,
        languages=request_languages(request),
    ):
        return _page(request, tenant, "recover.html", status=429, error=MSG_TOO_MANY, **context)
    if challenge:
        request.session[SESSION_RECOVER_CODE] = challenge
    else:
        request.session.pop(SESSION_RECOVER_CODE, None)
    return HttpResponseSeeOther(f"{here}?{urlencode({'sent': '1', **carried})}")


def _code_pending(request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:
    found = request.session.get(SESSION_RECOVER_CODE)
    return found if isinstance(found, dict) and found.get("tenant_id") == tenant.pk else None


def _challenge_organization(challenge: dict[str, Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(hex=str(challenge["org"])) if challenge.get("org") else None
    except ValueError:
        return None


def recovery_code_check(*, tenant: Tenant, challenge: dict[str, Any], code: str) -> tuple[otp.Check, User | None]:
    """Check a typed recovery code: OK with the user (the challenge is then spent), or why not."""
    if int(challenge.get("expires", 0)) < int(time.time()):
        return otp.Check.EXPIRED, None
    expected = str(challenge.get("hash") or "")
    candidate = otp.code_hash(str(challenge.get("nonce", "")), "".join(code.split()))
    if expected and hmac.compare_digest(candidate, expected):
        user_id = challenge.get("user_id")
        found = User.objects.filter(pk=int(user_id), tenant=tenant, is_active=True).first() if user_id else None
        return (otp.Check.OK, found) if found is not None else (otp.Check.EXPIRED, None)
    challenge["attempts"] = int(challenge.get("attempts", 0)) + 1
    organization = _challenge_organization(challenge)
    max_attempts = int(_section(tenant=tenant, organization=organization, section="login")["lockout_max_attempts"])
    return (otp.Check.TOO_MANY if challenge["attempts"] >= max_attempts else otp.Check.WRONG), None


@never_cache
@require_http_methods(["POST"])
def code_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """The code from the recovery email, typed on the page: right → the reset form, as the link does."""
    tenant = tenant_of(request)
    carried = _carried(request, tenant)
    context = {"notice": MSG_SENT, "login_url": login_url(tenant, carried.get("next", "")), "carried": carried}
    challenge = _code_pending(request, tenant)
    if challenge is None:
        return _page(request, tenant, "recover.html", status=400, error=MSG_CODE_EXPIRED, **context)
    if not recovery_by_code(tenant, _challenge_organization(challenge)):
        request.session.pop(SESSION_RECOVER_CODE, None)
        return _refused(request, tenant)
    result, user = recovery_code_check(tenant=tenant, challenge=challenge, code=request.POST.get("code", "")[:20])
    if result is otp.Check.OK and user is not None:
        request.session.pop(SESSION_RECOVER_CODE, None)
        request.session[SESSION_RECOVER] = {
            "tenant_id": tenant.pk,
            "u": _signed_uid(tenant, user),
            "token": tokens.make_token(user),
        }
        audit_record(actor=SYSTEM, tenant=tenant, action=AuditAction.PASSWORD_RECOVERY_CODE_VERIFIED, target=user)
        return HttpResponseSeeOther(reverse("flow:recover_reset", kwargs={"tenant_slug": tenant.slug}))
    if result is otp.Check.WRONG:
        request.session[SESSION_RECOVER_CODE] = challenge
        return _page(request, tenant, "recover.html", status=400, code_error=MSG_CODE_WRONG, code_form=True, **context)
    request.session.pop(SESSION_RECOVER_CODE, None)
    message = MSG_CODE_TOO_MANY if result is otp.Check.TOO_MANY else MSG_CODE_EXPIRED
    return _page(
        request, tenant, "recover.html", status=429 if result is otp.Check.TOO_MANY else 400, error=message, **context
    )


@never_cache
@require_http_methods(["GET", "POST"])
def reset_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    here = reverse("flow:recover_reset", kwargs={"tenant_slug": tenant.slug})
    bad = reverse("flow:recover", kwargs={"tenant_slug": tenant.slug}) + "?bad=1"
    if request.method == "GET" and request.GET.get("done") == "1":
        return _page(request, tenant, "recover_done.html", login_url=login_url(tenant, ""))
    if request.method == "GET" and "token" in request.GET:
        # Keep the token out of the address bar, history and Referer: into the session, then redirect.
        request.session[SESSION_RECOVER] = {
            "tenant_id": tenant.pk,
            "u": request.GET.get("u", "")[:1000],
            "token": request.GET.get("token", "")[:200],
        }
        return HttpResponseRedirect(here)
    pending = request.session.get(SESSION_RECOVER)
    user = None
    if isinstance(pending, dict) and pending.get("tenant_id") == tenant.pk:
        user = user_for_link(tenant=tenant, uid=str(pending.get("u", "")), token=str(pending.get("token", "")))
    if user is None:
        request.session.pop(SESSION_RECOVER, None)
        return HttpResponseSeeOther(bad) if request.method == "POST" else HttpResponseRedirect(bad)
    if request.method == "GET":
        return _page(request, tenant, "recover_reset.html", username=user.get_username())
    form = ResetForm(request.POST)
    error = ""
    if not form.is_valid():
        error = str(next(iter(form.errors.values()))[0])
    elif form.cleaned_data["password"] != form.cleaned_data["confirm"]:
        error = "The two passwords are not the same. Type the new password twice."
    else:
        # The tenant root's password policy (recovery has no organization in context) and the validators.
        problems = password_problems(
            tenant=tenant, organization=None, password=form.cleaned_data["password"], user=user
        )
        error = " ".join(problems)
    if error:
        return _page(request, tenant, "recover_reset.html", status=400, username=user.get_username(), error=error)
    password_reset(tenant=tenant, user=user, password=form.cleaned_data["password"])
    # A fresh session for this browser: the reset ended the user's sessions (this one too, if it was theirs).
    request.session.flush()
    return HttpResponseSeeOther(f"{here}?done=1")
