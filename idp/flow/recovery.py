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
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from idp.flow.redirects import HttpResponseSeeOther
from idp.flow.revocation import revoke_everything
from idp.flow.services import client_ip
from idp.flow.session import login_url
from idp.flow.views import _branding
from orgs.settings_selectors import effective_section
from tenants.actors import SYSTEM
from tenants.audit import audit_record
from tenants.lockout import rate_exceeded
from tenants.models import Tenant, User
from tenants.selectors import tenant_get_by_slug

SESSION_RECOVER = "canopy.recover"
LINK_SALT = "canopy.flow.recover"
MSG_SENT = (
    "If an account matches what you entered and has an email address, we sent it a link to choose a new "
    "password. The link works once and expires soon. Check your inbox and spam folder."
)
MSG_BAD_LINK = "This link has expired or was already used. Ask for a new one below."
MSG_TOO_MANY = "Too many requests. Wait a few minutes and try again."
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


def recovery_link(tenant: Tenant, user: User) -> str:
    uid = signing.dumps({"t": tenant.pk, "u": user.pk}, salt=LINK_SALT, compress=True)
    query = urlencode({"u": uid, "token": tokens.make_token(user)})
    return f"{settings.CANOPY_BASE_URL}{reverse('flow:recover_reset', kwargs={'tenant_slug': tenant.slug})}?{query}"


def recovery_request(*, tenant: Tenant, identifier: str, ip: str) -> bool:
    """Send a link if ``identifier`` names an active account with an email. False only when rate-limited.

    The answer does not depend on whether the account exists.
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
    if found is None:
        return True
    templates = effective_section(tenant=tenant, organization=None, section="templates")["email_password_recovery"]
    chosen = (templates or {}).get("en") or next(iter((templates or {}).values()), None) or {}
    link = recovery_link(tenant, found)
    subject = str(chosen.get("subject") or "Reset your password")
    body = str(chosen.get("body") or "Follow {link} to choose a new password.").replace("{link}", link)
    body = body.replace("{tenant}", tenant.display_name)
    send_mail(subject, body, None, [found.email])
    audit_record(actor=SYSTEM, tenant=tenant, action="password.recovery.sent", target=found)
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
            actor=SYSTEM, tenant=tenant, action="password.reset", target=user, data={"credentials_revoked": revoked}
        )
    return revoked


def _page(request: HttpRequest, tenant: Tenant, template: str, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("branding", _branding(request, tenant))
    return render(request, f"flow/{template}", {"tenant": tenant, **context}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def recover_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_get_by_slug(tenant_slug)
    here = reverse("flow:recover", kwargs={"tenant_slug": tenant.slug})
    if request.method == "GET":
        notice = MSG_SENT if request.GET.get("sent") == "1" else ""
        error = MSG_BAD_LINK if request.GET.get("bad") == "1" else ""
        return _page(request, tenant, "recover.html", notice=notice, error=error, login_url=login_url(tenant, ""))
    form = RequestForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            tenant,
            "recover.html",
            status=400,
            error=form.errors["identifier"][0],
            login_url=login_url(tenant, ""),
        )
    if not recovery_request(tenant=tenant, identifier=form.cleaned_data["identifier"], ip=client_ip(request)):
        return _page(request, tenant, "recover.html", status=429, error=MSG_TOO_MANY, login_url=login_url(tenant, ""))
    return HttpResponseSeeOther(f"{here}?sent=1")


@never_cache
@require_http_methods(["GET", "POST"])
def reset_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_get_by_slug(tenant_slug)
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
        try:
            password_validation.validate_password(form.cleaned_data["password"], user=user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
    if error:
        return _page(request, tenant, "recover_reset.html", status=400, username=user.get_username(), error=error)
    password_reset(tenant=tenant, user=user, password=form.cleaned_data["password"])
    request.session.pop(SESSION_RECOVER, None)
    return HttpResponseSeeOther(f"{here}?done=1")
