"""Self-registration: ``/t/<slug>/register/`` and ``/t/<slug>/register/verify/``.

- Open only where the organization in context (``org`` on the page, else ``organization`` in
  the authorize ``next``, else the tenant root) has ``login.self_registration`` on **and** its
  ``flows.self_registration`` flow enabled. The login page then offers "Create an account".
- The form asks for what the flow's steps name: a username (unless ``login.username_rule`` is
  ``email``: the address is the username), the email, a password (the effective password
  policy, :mod:`idp.flow.passwords`) and, with the ``profile`` step, the profile attributes that
  live on the user record (given name, family name, mobile number).
- With the ``email_verification`` step nothing is created until the address is proved: the
  pending registration (the password only as its hash) waits in the server-side session and a
  code goes to the address, in the effective ``templates.email_verification`` message, with a
  link that carries the same code (for this browser). The code is stored as a keyed hash
  (:func:`idp.flow.otp.code_hash`), single-use, expires with ``connections.email_otp``'s lifetime,
  and five wrong codes end the attempt.
- Enumeration: an address that already has an account gets a different email ("you already
  have an account"), while the page says the same as for a new address. A taken *username*
  (free-text rule) is said on the page: a username is public and must be chosen anyway.
- Rate limits (``tenants.lockout.rate_exceeded``): per address 3 and per client IP 20 sign-up
  submissions per 15 minutes; resends after the OTP cool-down, at most five per attempt.
- With the ``profile`` step the tenant's custom attributes (``idp.flow.attributes``) are asked
  too, required or optional per definition; with the ``terms`` step a checkbox links to the
  organization's effective ``branding.terms_url`` and the form is refused without it (the
  acceptance is recorded on the user with its time).
- On success the user is created with a ``created-here`` membership in the organization (none
  at the tenant root), an audit event ``user.register`` is written, the browser is signed in
  (``pwd``) and continues to ``next`` (the OIDC authorization or SAML request).
"""

from __future__ import annotations

import datetime
import hmac
import secrets
import smtplib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from idp.flow import attributes, otp, pages
from idp.flow.branding import request_languages
from idp.flow.passwords import password_problems
from idp.flow.redirects import HttpResponseSeeOther, home_url
from idp.flow.services import client_ip
from idp.flow.session import ACR_PASSWORD, AMR_PASSWORD, login_url, sign_in
from orgs.inheritance.branding import send_branded_mail
from orgs.inheritance.selectors import effective_section
from orgs.inheritance.texts import email_template, render_text
from orgs.profiles.attributes import available_attributes
from orgs.tree.models import Membership
from orgs.tree.selectors import organization_by_id
from orgs.tree.services import membership_add
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record
from tenants.lockout import rate_exceeded
from tenants.models import Tenant, User, username_validator
from tenants.routing import tenant_of
from tenants.services import user_create

SESSION_REGISTER = "canopy.register"
RATE_PER_EMAIL = 3
RATE_PER_ADDRESS = 20
RATE_WINDOW_SECONDS = 15 * 60
MAX_WRONG_CODES = 5
BACKEND = "tenants.backends.TenantModelBackend"

MSG_CLOSED = (
    "You cannot create an account here. Ask the organization's administrator for an invitation, "
    "or sign in with an account you already have."
)
MSG_TOO_MANY = "Too many attempts to create an account. Wait a few minutes and try again."
MSG_GONE = "This sign-up took too long or was already finished. Start again."
MSG_WRONG = "That code is not right. Check the latest email we sent and try again."
MSG_EXPIRED = "That code has expired. Send a new code and try again."
MSG_SPENT = "Too many wrong codes. Start again to get a new code."
MSG_TAKEN = "An account with this email address or username already exists. Sign in instead."
MSG_NOT_SENT = "We could not send the email just now. Try again in a few minutes."

# Profile attributes of the ``user_attributes`` section that live on the user record.
PROFILE_FIELDS = (
    ("givenName", "first_name", "Given name", "given-name"),
    ("familyName", "last_name", "Family name", "family-name"),
    ("mobile", "phone_number", "Mobile number (optional)", "tel"),
)


# --- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """What the organization in context says about signing up."""

    open: bool
    email_as_username: bool
    verify_email: bool
    ask_profile: bool
    ask_terms: bool = False


def policy_for(*, tenant: Tenant, organization: uuid.UUID | None) -> Policy:
    login = effective_section(tenant=tenant, organization=organization, section="login")
    flow = effective_section(tenant=tenant, organization=organization, section="flows")["self_registration"] or {}
    steps = set(flow.get("steps") or [])
    return Policy(
        open=bool(login["self_registration"]) and bool(flow.get("enabled")),
        email_as_username=login["username_rule"] == "email",
        verify_email="email_verification" in steps,
        ask_profile="profile" in steps,
        ask_terms="terms" in steps,
    )


def profile_fields(*, tenant: Tenant, organization: uuid.UUID | None) -> list[dict[str, str]]:
    """The form's profile fields: the single-valued system attributes stored on the user record.

    Read from the effective attribute definitions, so a tenant whose schema drops one stops
    asking for it. Custom attributes are asked beside them (``idp.flow.attributes``).
    """

    known = available_attributes(tenant=tenant, organization=None)
    return [
        {"attribute": a, "name": column, "label": label, "autocomplete": auto}
        for a, column, label, auto in PROFILE_FIELDS
        if a in known and not known[a]["multi"]
    ]


class RegistrationForm(forms.Form):
    username = forms.CharField(max_length=150, required=False, strip=True)
    email = forms.EmailField(
        max_length=254, error_messages={"required": "Enter your email address.", "invalid": "Enter a valid email."}
    )
    password = forms.CharField(max_length=4096, strip=False, error_messages={"required": "Choose a password."})
    confirm = forms.CharField(max_length=4096, strip=False, error_messages={"required": "Type the password again."})
    first_name = forms.CharField(max_length=150, required=False, strip=True)
    last_name = forms.CharField(max_length=150, required=False, strip=True)
    phone_number = forms.RegexField(
        regex=r"^\+[0-9]{6,20}$",
        required=False,
        error_messages={"invalid": "Use the international format: + then digits, for example +15551234567."},
    )


def registration_errors(
    *, tenant: Tenant, organization: uuid.UUID | None, policy: Policy, form: RegistrationForm
) -> dict[str, str]:
    """Field → message for everything wrong in the form (nothing is written)."""
    errors = {name: str(msgs[0]) for name, msgs in form.errors.items()}
    data = form.cleaned_data
    if policy.ask_profile:
        for field, label in (("first_name", "given name"), ("last_name", "family name")):
            if not data.get(field) and field not in errors:
                errors[field] = f"Enter your {label}."
    if not policy.email_as_username and not data.get("username") and "username" not in errors:
        errors["username"] = "Choose a username."
    username = str(data.get("email") if policy.email_as_username else data.get("username") or "")
    if username and "username" not in errors and not policy.email_as_username:
        try:
            username_validator(username)
        except ValidationError as exc:
            errors["username"] = " ".join(exc.messages)
        else:
            if User.objects.filter(tenant=tenant, username__iexact=username).exists():
                errors["username"] = "That username is taken. Choose another one."
    if "password" not in errors and "confirm" not in errors:
        if data["password"] != data["confirm"]:
            errors["confirm"] = "The two passwords are not the same. Type the password twice."
        else:
            probe = User(tenant=tenant, username=username, email=str(data.get("email") or ""))
            problems = password_problems(
                tenant=tenant, organization=organization, password=data["password"], user=probe
            )
            if problems:
                errors["password"] = " ".join(problems)
    return errors


def rate_limited(*, tenant: Tenant, email: str, ip: str) -> bool:
    limited = rate_exceeded(
        scope="register", tenant=tenant, key=email, limit=RATE_PER_EMAIL, window_seconds=RATE_WINDOW_SECONDS
    )
    if ip:
        limited = (
            rate_exceeded(
                scope="register-ip", tenant=None, key=ip, limit=RATE_PER_ADDRESS, window_seconds=RATE_WINDOW_SECONDS
            )
            or limited
        )
    return limited


def verification_send(*, pending: dict[str, Any], tenant: Tenant, languages: Sequence[str] = ()) -> tuple[bool, int]:
    """Mail a new code (and a link with it) to the pending address; replaces the previous code.

    The mail is the organization's ``email_verification`` template in the first of ``languages``
    it has, with the organization's branding.

    An address that already has an account gets a notice instead of a code, so the page can
    answer the same for both. Returns (sent, seconds to wait), like :func:`otp.challenge_send`.
    """
    now = int(time.time())
    previous = pending.get("challenge") or {}
    wait = int(previous.get("sent_at", 0)) + otp.RESEND_COOLDOWN_SECONDS - now
    if previous and wait > 0:
        return False, wait
    if int(pending.get("sends", 0)) >= otp.MAX_SENDS:
        return False, 0
    organization = uuid.UUID(pending["organization"]) if pending.get("organization") else None
    policy = otp.policy_for(tenant=tenant, organization=organization, factor=otp.EMAIL_OTP)
    code = "".join(secrets.choice("0123456789") for _ in range(policy.length))
    nonce = secrets.token_hex(16)
    email = str(pending["email"])
    exists = User.objects.filter(tenant=tenant, email__iexact=email).exists()
    if exists:
        subject = f"You already have an account at {tenant.display_name}"
        body = (
            f"Someone (maybe you) tried to create an account at {tenant.display_name} with {email}. "
            "You already have one: sign in, or use 'Forgot your password?' on the sign-in page. "
            "If it was not you, you can ignore this message."
        )
    else:
        subject, body = email_template(
            tenant=tenant,
            organization=organization,
            kind="verification",
            default_subject="Confirm your email address",
            default_body="Follow {link} to confirm {email}.",
            languages=languages,
        )
        link = verification_link(tenant, code)
        values = {"code": code, "link": link, "email": email, "tenant": tenant.display_name}
        subject, body = render_text(subject, values), render_text(body, values)
        if code not in body:
            body += f"\n\nOr type this code on the page: {code}"
    try:
        send_branded_mail(
            tenant=tenant, organization=organization, to=email, subject=subject, body=body, languages=languages
        )
    except (OSError, smtplib.SMTPException) as exc:
        raise otp.DeliveryError(otp.EMAIL_OTP) from exc
    pending["challenge"] = {
        "nonce": nonce,
        "hash": "" if exists else otp.code_hash(nonce, code),
        "expires": now + policy.ttl_seconds,
        "attempts": 0,
        "sent_at": now,
    }
    pending["sends"] = int(pending.get("sends", 0)) + 1
    return True, 0


def verification_link(tenant: Tenant, code: str) -> str:
    path = reverse("flow:register_verify", kwargs={"tenant_slug": tenant.slug})
    return f"{settings.CANOPY_BASE_URL}{path}?{urlencode({'code': code})}"


def verification_check(*, pending: dict[str, Any], code: str) -> otp.Check:
    """Check a typed (or linked) code; success removes the challenge (single use)."""
    challenge = pending.get("challenge")
    if not isinstance(challenge, dict):
        return otp.Check.MISSING
    if int(challenge["expires"]) < int(time.time()):
        pending.pop("challenge", None)
        return otp.Check.EXPIRED
    candidate = "".join(code.split())
    expected = str(challenge["hash"])
    if expected and hmac.compare_digest(otp.code_hash(str(challenge["nonce"]), candidate), expected):
        pending.pop("challenge", None)
        return otp.Check.OK
    challenge["attempts"] = int(challenge["attempts"]) + 1
    if challenge["attempts"] >= MAX_WRONG_CODES:
        pending.pop("challenge", None)
        return otp.Check.TOO_MANY
    return otp.Check.WRONG


def registration_complete(*, tenant: Tenant, pending: dict[str, Any]) -> User:
    """Create the user (and its home membership) from a verified pending registration.

    One transaction: a clash found now (someone took the address or username meanwhile)
    raises ValidationError and writes nothing.
    """
    organization = None
    if pending.get("organization"):
        organization = organization_by_id(tenant=tenant, pk=uuid.UUID(pending["organization"]))
    try:
        with transaction.atomic():
            user = user_create(
                actor=SYSTEM,
                tenant=tenant,
                username=str(pending["username"]),
                email=str(pending["email"]),
                password=None,
                first_name=str(pending.get("first_name", "")),
                last_name=str(pending.get("last_name", "")),
            )
            user.password = str(pending["password_hash"])
            user.phone_number = str(pending.get("phone_number", ""))
            user.custom_attributes = dict(pending.get("custom") or {})  # checked when the form was posted
            if pending.get("terms_at"):
                user.terms_accepted_at = datetime.datetime.fromisoformat(str(pending["terms_at"]))
                user.terms_url_accepted = str(pending.get("terms_url") or "")[:500]
            user.save(
                update_fields=[
                    "password",
                    "phone_number",
                    "custom_attributes",
                    "terms_accepted_at",
                    "terms_url_accepted",
                ]
            )
            if organization is not None:
                membership_add(
                    actor=SYSTEM,
                    organization=organization,
                    user=user,
                    role=Membership.Role.MEMBER,
                    origin=Membership.Origin.CREATED_HERE,
                )
            audit_record(
                actor=user,
                tenant=tenant,
                action=AuditAction.USER_REGISTER,
                target=user,
                data={
                    "organization": str(organization.pk) if organization else "",
                    "email_verified": True,
                    "terms_accepted": bool(pending.get("terms_at")),
                },
            )
    except IntegrityError as exc:
        raise ValidationError({"email": [MSG_TAKEN]}) from exc
    return user


# --- pages ------------------------------------------------------------------------------------


def registration_url(tenant: Tenant, next_url: str, org: str = "") -> str:
    params = {k: v for k, v in (("next", next_url), ("org", org)) if v}
    url = reverse("flow:register", kwargs={"tenant_slug": tenant.slug})
    return f"{url}?{urlencode(params)}" if params else url


def login_options(*, request: HttpRequest, tenant: Tenant, next_url: str) -> list[tuple[str, str]]:
    """The login page's "Create an account" link, where signing up is open."""

    organization = pages.page_organization(request, tenant)
    if not policy_for(tenant=tenant, organization=organization).open:
        return []
    org = request.GET.get("org", "") if request.method == "GET" else request.POST.get("org", "")
    return [("Create an account", registration_url(tenant, next_url, org[:100]))]


def _context(request: HttpRequest, tenant: Tenant, organization: uuid.UUID | None, policy: Policy) -> dict[str, Any]:

    next_url = pages.next_of(request, tenant)
    custom = attributes.definitions(tenant) if policy.ask_profile else []
    return {
        "next": next_url,
        "org": pages.param(request, "org")[:100],
        "policy": policy,
        "profile_fields": profile_fields(tenant=tenant, organization=organization) if policy.ask_profile else [],
        "custom": custom,
        "custom_fields": attributes.form_fields(custom),
        "terms_step": policy.ask_terms,
        "terms_url": attributes.terms_url(tenant=tenant, organization=organization) if policy.ask_terms else "",
        "login_url": login_url(tenant, next_url),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def register_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:  # noqa: PLR0911 - one return per outcome

    tenant = tenant_of(request)
    organization = pages.page_organization(request, tenant)
    policy = policy_for(tenant=tenant, organization=organization)
    context = _context(request, tenant, organization, policy)
    if not policy.open:
        return pages.page(request, "error.html", tenant, status=403, title="Sign-up is not open", message=MSG_CLOSED)
    if request.method == "GET":
        return pages.page(request, "register.html", tenant, errors={}, values={}, **context)
    form = RegistrationForm(request.POST)
    form.is_valid()
    errors = registration_errors(tenant=tenant, organization=organization, policy=policy, form=form)
    custom_values, custom_errors = attributes.values_from_form(context["custom"], request.POST, enforce_required=True)
    errors.update(custom_errors)
    if policy.ask_terms and not request.POST.get(attributes.TERMS_FIELD):
        errors[attributes.TERMS_FIELD] = attributes.MSG_TERMS
    values = {k: v for k, v in request.POST.items() if k not in {"password", "confirm", "csrfmiddlewaretoken"}}
    context.update(
        custom_fields=attributes.form_fields(context["custom"], data=request.POST, errors=errors),
        terms_error=errors.get(attributes.TERMS_FIELD, ""),
        terms_checked=bool(request.POST.get(attributes.TERMS_FIELD)),
    )
    if errors:
        return pages.page(request, "register.html", tenant, status=400, errors=errors, values=values, **context)
    data = form.cleaned_data
    email = str(data["email"]).strip().lower()
    if rate_limited(tenant=tenant, email=email, ip=client_ip(request)):
        return pages.page(
            request, "register.html", tenant, status=429, errors={"form": MSG_TOO_MANY}, values=values, **context
        )
    pending: dict[str, Any] = {
        "tenant_id": tenant.pk,
        "organization": organization.hex if organization else "",
        "next": context["next"],
        "username": email if policy.email_as_username else str(data["username"]),
        "email": email,
        "password_hash": make_password(data["password"]),
        "first_name": str(data.get("first_name") or ""),
        "last_name": str(data.get("last_name") or ""),
        "phone_number": str(data.get("phone_number") or ""),
        "custom": custom_values,
        "terms_at": timezone.now().isoformat() if policy.ask_terms else "",
        "terms_url": context["terms_url"],
    }
    if not policy.verify_email:
        return _finish(request, tenant, pending)
    try:
        verification_send(pending=pending, tenant=tenant, languages=request_languages(request))
    except otp.DeliveryError:
        return pages.page(request, "error.html", tenant, status=503, title="Email not sent", message=MSG_NOT_SENT)
    request.session[SESSION_REGISTER] = pending
    return HttpResponseSeeOther(reverse("flow:register_verify", kwargs={"tenant_slug": tenant.slug}))


def _finish(request: HttpRequest, tenant: Tenant, pending: dict[str, Any]) -> HttpResponse:

    request.session.pop(SESSION_REGISTER, None)
    try:
        user = registration_complete(tenant=tenant, pending=pending)
    except ValidationError:
        return pages.page(request, "error.html", tenant, status=409, title="Account already exists", message=MSG_TAKEN)
    sign_in(request, user=user, tenant=tenant, amr=[AMR_PASSWORD], acr=ACR_PASSWORD, backend=BACKEND)
    return HttpResponseSeeOther(str(pending.get("next") or "") or home_url(tenant))


@never_cache
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:  # noqa: PLR0911 - one return per outcome
    """The code from the email, typed here or carried by the link (``?code=``, same browser only)."""

    tenant = tenant_of(request)
    here = reverse("flow:register_verify", kwargs={"tenant_slug": tenant.slug})
    pending = request.session.get(SESSION_REGISTER)
    if not isinstance(pending, dict) or pending.get("tenant_id") != tenant.pk:
        return pages.page(request, "error.html", tenant, status=400, title="Start again", message=MSG_GONE)
    email = str(pending["email"])
    hint = f"{email[:1]}…@{email.partition('@')[2]}"
    context: dict[str, Any] = {
        "destination_hint": hint,
        "action_url": here,
        "restart_url": registration_url(tenant, pending["next"]),
    }
    code = request.POST.get("code") if request.method == "POST" else request.GET.get("code")
    if request.method == "POST" and request.POST.get("action") == "resend":
        try:
            sent, wait = verification_send(pending=pending, tenant=tenant, languages=request_languages(request))
        except otp.DeliveryError:
            return pages.page(request, "register_verify.html", tenant, status=503, error=MSG_NOT_SENT, **context)
        request.session[SESSION_REGISTER] = pending
        if not sent:
            message = f"Wait {wait} seconds before asking for another code." if wait else MSG_SPENT
            return pages.page(request, "register_verify.html", tenant, status=429, error=message, **context)
        return pages.page(request, "register_verify.html", tenant, notice="We sent a new code.", **context)
    if code is None:
        return pages.page(request, "register_verify.html", tenant, **context)
    result = verification_check(pending=pending, code=str(code)[:20])
    if result is otp.Check.OK:
        return _finish(request, tenant, pending)
    if result in (otp.Check.TOO_MANY, otp.Check.MISSING):
        request.session.pop(SESSION_REGISTER, None)
        return pages.page(request, "register_verify.html", tenant, status=429, error=MSG_SPENT, spent=True, **context)
    request.session[SESSION_REGISTER] = pending
    message = MSG_EXPIRED if result is otp.Check.EXPIRED else MSG_WRONG
    return pages.page(request, "register_verify.html", tenant, status=400, error=message, **context)
