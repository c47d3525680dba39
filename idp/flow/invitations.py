"""The invitation step of the login journey: /t/<slug>/invitations/accept/?token=…

GET checks the signed link (bad, expired or used → an error page), sends a visitor who is
not signed in to this tenant through the login journey and back, then shows what accepting
means. POST (CSRF-protected, the token in the form) accepts with ``orgs.invitations``: the
signed-in user's email must be the invited one.

An address without an account in the tenant gets a sign-up form instead (the effective
``flows.invited_registration`` flow of the inviting organization): a password under the
effective policy, a username unless ``login.username_rule`` is ``email``, and with the
``profile`` step the names and the custom attributes (``idp.flow.attributes``), with the
``terms`` step the terms checkbox; then ``orgs.invitations.services.invitation_register`` creates the account
as a member of the organization and the browser is signed in.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from idp.flow import attributes, pages
from idp.flow.passwords import password_problems
from idp.flow.redirects import HttpResponseSeeOther
from idp.flow.session import ACR_PASSWORD, AMR_PASSWORD, current_auth, login_url, sign_in
from orgs.inheritance.selectors import effective_section
from orgs.invitations.models import Invitation
from orgs.invitations.services import (
    invitation_accept,
    invitation_from_token,
    invitation_needs_account,
    invitation_register,
)
from tenants.models import Tenant, User
from tenants.routing import tenant_of


@never_cache
@require_http_methods(["GET", "POST"])
def accept_invitation_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:  # noqa: PLR0911 - one return per outcome

    tenant = tenant_of(request)
    token = (request.POST.get("token") if request.method == "POST" else request.GET.get("token")) or ""
    try:
        invitation = invitation_from_token(tenant=tenant, token=token)
    except ValidationError:
        return pages.page(
            request,
            "error.html",
            tenant,
            status=400,
            title="Invitation not valid",
            message="This invitation link is invalid, has expired or was already used. Ask for a new one.",
        )
    if invitation_needs_account(invitation):
        return _register(request, tenant, invitation, token)
    auth = current_auth(request, tenant)
    if auth is None:
        return HttpResponseSeeOther(login_url(tenant, request.get_full_path()))
    org = invitation.organization
    if request.method == "GET":
        return pages.page(request, "invitation.html", tenant, invitation=invitation, organization=org, token=token)
    try:
        invitation_accept(actor=auth.user, invitation=invitation)
    except PermissionDenied:
        return pages.page(
            request,
            "error.html",
            tenant,
            status=403,
            title="Invitation for someone else",
            message="This invitation was sent to another email address. Sign in with that account.",
        )
    except ValidationError as exc:
        return pages.page(
            request, "error.html", tenant, status=400, title="Cannot accept", message=" ".join(exc.messages)
        )
    return pages.page(request, "invitation_done.html", tenant, organization=org, role=invitation.role)


def _register(request: HttpRequest, tenant: Tenant, invitation: Invitation, token: str) -> HttpResponse:
    """The sign-up form of an invitation to an address without an account (GET shows, POST creates)."""

    org = invitation.organization
    login = effective_section(tenant=tenant, organization=org.pk, section="login")
    flow = effective_section(tenant=tenant, organization=org.pk, section="flows")["invited_registration"] or {}
    if not flow.get("enabled", True):
        return pages.page(
            request,
            "error.html",
            tenant,
            status=403,
            title="Sign-up by invitation is closed",
            message=f"{org.display_name} does not create accounts from invitations. Ask the person who invited "
            "you to invite an address that already has an account.",
        )
    email_as_username = login["username_rule"] == "email"
    steps = flow.get("steps") or []
    custom = attributes.definitions(tenant) if "profile" in steps else []
    context = {
        "invitation": invitation,
        "organization": org,
        "token": token,
        "email_as_username": email_as_username,
        "ask_profile": "profile" in steps,
        "custom_fields": attributes.form_fields(custom),
        "terms_step": "terms" in steps,
        "terms_url": attributes.terms_url(tenant=tenant, organization=org.pk) if "terms" in steps else "",
    }
    if request.method == "GET":
        return pages.page(request, "invitation_register.html", tenant, errors={}, values={}, **context)
    values = {k: request.POST.get(k, "").strip()[:150] for k in ("username", "first_name", "last_name")}
    username = invitation.email if email_as_username else values["username"]
    password, confirm = request.POST.get("password", "")[:4096], request.POST.get("confirm", "")[:4096]
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Choose a username."
    if context["ask_profile"]:
        errors.update({f: f"Enter your {label}." for f, label in _NAMES if not values[f]})
    if not password:
        errors["password"] = "Choose a password."  # noqa: S105 - a message, not a password
    elif password != confirm:
        errors["confirm"] = "The two passwords are not the same. Type the password twice."
    else:
        probe = User(tenant=tenant, username=username, email=invitation.email)
        problems = password_problems(tenant=tenant, organization=org.pk, password=password, user=probe)
        if problems:
            errors["password"] = " ".join(problems)
    custom_values, custom_errors = attributes.values_from_form(custom, request.POST, enforce_required=True)
    errors.update(custom_errors)
    accepted = bool(request.POST.get(attributes.TERMS_FIELD))
    if context["terms_step"] and not accepted:
        errors[attributes.TERMS_FIELD] = attributes.MSG_TERMS
    context.update(
        custom_fields=attributes.form_fields(custom, data=request.POST, errors=errors),
        terms_error=errors.get(attributes.TERMS_FIELD, ""),
        terms_checked=accepted,
    )
    user = None
    if not errors:
        try:
            with transaction.atomic():  # the account, its attributes and the terms, or nothing
                user = invitation_register(
                    invitation=invitation,
                    username=username,
                    password=password,
                    first_name=values["first_name"],
                    last_name=values["last_name"],
                )
                _extras(tenant, user, custom_values, context)
        except ValidationError as exc:
            user, errors = None, {k: " ".join(v) for k, v in exc.message_dict.items()}
    if user is None:
        return pages.page(
            request, "invitation_register.html", tenant, status=400, errors=errors, values=values, **context
        )
    sign_in(request, user=user, tenant=tenant, amr=[AMR_PASSWORD], acr=ACR_PASSWORD, backend=_BACKEND)
    return pages.page(request, "invitation_done.html", tenant, organization=org, role=invitation.role)


def _extras(tenant: Tenant, user: User, custom_values: dict[str, object], context: dict[str, object]) -> None:
    """The new account's custom attributes and terms acceptance (inside the creating transaction)."""
    if custom_values:
        attributes.values_set(actor=user, tenant=tenant, user=user, values=custom_values)
    if context["terms_step"]:
        attributes.terms_record(user=user, url=str(context["terms_url"]))


_NAMES = (("first_name", "given name"), ("last_name", "family name"))
_BACKEND = "tenants.backends.TenantModelBackend"
