"""The account page ``/t/<slug>/account/`` and its forms. Signed-in users of this tenant only.

Anyone else is sent to sign in and back. Every row named in a URL is looked up by (tenant,
user, id): another user's or tenant's is 404. Writes are POST with CSRF and answer 303.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from idp.account import services
from idp.account.models import SessionRecord
from idp.federation.models import UpstreamIdentity
from idp.flow import attributes
from idp.flow.branding import page_branding
from idp.flow.redirects import HttpResponseSeeOther
from idp.flow.session import AuthState, current_auth, login_url
from idp.passkeys import services as passkey_services
from idp.passkeys.models import PasskeyCredential
from idp.passkeys.selectors import passkey_of, passkeys_of
from orgs.profiles.services import FROM_ORIGIN, origin_profile, resolved_profile, source_modes
from orgs.tree.selectors import home_organization_id, memberships_of
from tenants.models import Tenant
from tenants.routing import tenant_of

AccountView = Callable[..., HttpResponse]


def _home(tenant: Tenant) -> str:
    return reverse("account:home", kwargs={"tenant_slug": tenant.slug})


def signed_in(view: AccountView) -> Callable[..., HttpResponse]:
    """Resolve the tenant and the signed-in user of it; otherwise to the login page and back here."""

    @wraps(view)
    def wrapper(request: HttpRequest, tenant_slug: str, **kwargs: Any) -> HttpResponse:
        tenant = tenant_of(request)
        auth = current_auth(request, tenant)
        if auth is None:
            back = login_url(tenant, _home(tenant))
            return HttpResponseSeeOther(back) if request.method == "POST" else HttpResponseRedirect(back)
        return view(request, tenant, auth, **kwargs)

    return wrapper


def _errors(exc: ValidationError) -> list[str]:
    return [m for msgs in exc.message_dict.values() for m in msgs] if hasattr(exc, "error_dict") else exc.messages


def _back_with_errors(request: HttpRequest, tenant: Tenant, errors: Iterable[str]) -> HttpResponse:
    """Every refused change ends the same way: its messages on the account page, nothing saved."""
    for message in errors:
        messages.error(request, message)
    return HttpResponseSeeOther(_home(tenant))


def _own_passkey(tenant: Tenant, auth: AuthState, pk: int) -> PasskeyCredential:
    """The signed-in user's passkey ``pk``; anyone else's (or none) is a 404, as if it did not exist."""
    credential = passkey_of(tenant=tenant, user=auth.user, pk=pk)
    if credential is None:
        raise Http404("No such passkey.")
    return credential


def _organization_values(tenant: Tenant, auth: AuthState) -> list[dict[str, Any]]:
    """Values organizations show instead of the user's own, where the tenant's source modes let them.

    Read-only here: they belong to the organizations (``orgs.profiles``); the form edits the
    user's own (origin) values only.
    """
    modes = source_modes(tenant_id=tenant.pk)
    managed = [attr for attr, mode in modes.items() if mode != FROM_ORIGIN]
    if not managed:
        return []
    origin = origin_profile(user=auth.user)
    out = []
    for membership in memberships_of(user=auth.user, tenant=tenant)[:50]:
        values = resolved_profile(user=auth.user, organization=membership.organization)
        differ = [(attr, values[attr]) for attr in managed if values.get(attr, "") != origin.get(attr, "")]
        if differ:
            out.append({"organization": membership.organization, "values": differ})
    return out


@never_cache
@require_GET
@signed_in
def account_view(request: HttpRequest, tenant: Tenant, auth: AuthState) -> HttpResponse:
    user = auth.user
    pending = services.pending_change(session=request.session, tenant=tenant, user=user)
    context = {
        "tenant": tenant,
        # The account belongs to its home organization: its branding (the tenant root's for others).
        "branding": page_branding(request, tenant=tenant, organization=home_organization_id(user=user)),
        "user": user,
        "pending": pending,
        "policy": services.verification_policy(tenant=tenant, user=user),
        "organization_values": _organization_values(tenant, auth),
        "passkeys": list(passkeys_of(tenant=tenant, user=user)),
        "sessions": services.sessions_of(tenant=tenant, user=user, current_key=request.session.session_key),
        "identities": list(
            UpstreamIdentity.objects.filter(tenant=tenant, user=user).select_related("idp").order_by("pk")
        ),
        "auth_method": auth.amr,
        "custom_fields": attributes.form_fields(attributes.definitions(tenant), user=user),
        "register_options_url": reverse("passkeys:register_options", kwargs={"tenant_slug": tenant.slug}),
        "register_url": reverse("passkeys:register", kwargs={"tenant_slug": tenant.slug}),
    }
    return render(request, "account/account.html", context)


@never_cache
@require_POST
@signed_in
def profile_view(request: HttpRequest, tenant: Tenant, auth: AuthState) -> HttpResponse:
    try:
        services.profile_update(
            tenant=tenant,
            user=auth.user,
            given_name=request.POST.get("given_name", "")[:500],
            family_name=request.POST.get("family_name", "")[:500],
        )
    except ValidationError as exc:
        return _back_with_errors(request, tenant, _errors(exc))
    messages.success(request, "Your name was saved.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def attributes_view(request: HttpRequest, tenant: Tenant, auth: AuthState) -> HttpResponse:
    """The user's values of the tenant's custom attributes; all or nothing (a bad value changes none)."""
    fields = attributes.definitions(tenant)
    values, errors = attributes.values_from_form(fields, request.POST, enforce_required=True)
    if errors:
        return _back_with_errors(request, tenant, errors.values())
    attributes.values_set(actor=auth.user, tenant=tenant, user=auth.user, values=values)
    messages.success(request, "Your details were saved.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def contact_view(request: HttpRequest, tenant: Tenant, auth: AuthState) -> HttpResponse:
    """Change the email address or mobile number (``attribute``): verified first when the settings say so."""
    attribute = request.POST.get("attribute", "")
    if attribute not in (services.EMAIL, services.MOBILE):
        return _back_with_errors(request, tenant, ["Choose what to change: your email address or your mobile number."])
    try:
        pending = services.change_start(
            session=request.session,
            tenant=tenant,
            user=auth.user,
            attribute=attribute,
            value=request.POST.get("value", "")[:254],
        )
    except ValidationError as exc:
        return _back_with_errors(request, tenant, _errors(exc))
    except services.DeliveryError:
        return _back_with_errors(
            request, tenant, ["We could not send a code just now. Nothing was changed; try again in a few minutes."]
        )
    label = services.LABELS[attribute]
    if pending:
        messages.success(request, f"We sent a code to your new {label}. Type it below to finish the change.")
    else:
        messages.success(request, f"Your {label} was changed.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def confirm_view(request: HttpRequest, tenant: Tenant, auth: AuthState) -> HttpResponse:
    try:
        attribute = services.change_confirm(
            session=request.session, tenant=tenant, user=auth.user, code=request.POST.get("code", "")[:20]
        )
    except ValidationError as exc:
        return _back_with_errors(request, tenant, _errors(exc))
    messages.success(request, f"Your {services.LABELS[attribute]} was changed.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def passkey_revoke_view(request: HttpRequest, tenant: Tenant, auth: AuthState, pk: int) -> HttpResponse:
    credential = _own_passkey(tenant, auth, pk)
    passkey_services.passkey_revoke(actor=auth.user, credential=credential)
    messages.success(request, f"The passkey “{credential.name}” was removed. It can no longer sign you in.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def passkey_rename_view(request: HttpRequest, tenant: Tenant, auth: AuthState, pk: int) -> HttpResponse:
    credential = _own_passkey(tenant, auth, pk)
    try:
        passkey_services.passkey_rename(actor=auth.user, credential=credential, name=request.POST.get("name", "")[:500])
    except ValidationError as exc:
        return _back_with_errors(request, tenant, _errors(exc))
    messages.success(request, "The passkey was renamed.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def session_end_view(request: HttpRequest, tenant: Tenant, auth: AuthState, pk: int) -> HttpResponse:
    record = SessionRecord.objects.filter(tenant=tenant, user=auth.user, pk=pk).first()
    if record is None or record.session_key == request.session.session_key:
        raise Http404("No such session.")  # this browser signs out with the sign-out button
    services.session_sign_out(tenant=tenant, user=auth.user, record=record)
    messages.success(request, "That session was signed out.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def sessions_end_others_view(request: HttpRequest, tenant: Tenant, auth: AuthState) -> HttpResponse:
    count = services.sessions_sign_out_others(tenant=tenant, user=auth.user, current_key=request.session.session_key)
    messages.success(request, f"Signed out of {count} other session{'s' if count != 1 else ''}.")
    return HttpResponseSeeOther(_home(tenant))


@never_cache
@require_POST
@signed_in
def unlink_view(request: HttpRequest, tenant: Tenant, auth: AuthState, pk: int) -> HttpResponse:
    identity = UpstreamIdentity.objects.filter(tenant=tenant, user=auth.user, pk=pk).select_related("idp").first()
    if identity is None:
        raise Http404("No such linked account.")
    services.upstream_unlink(tenant=tenant, user=auth.user, identity=identity)
    messages.success(request, f"Your {identity.idp.name} account is no longer linked.")
    return HttpResponseSeeOther(_home(tenant))
