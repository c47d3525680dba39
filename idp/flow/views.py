"""The login journey's pages. Rules live in services/selection/steps; views wire them to HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from idp.flow import decision, firstfactor, journey, otp, pages, selection, stepup
from idp.flow.factors import get_factor, required_extra_factors
from idp.flow.forms import CodeForm, IdentifierForm, PasswordForm, PickForm
from idp.flow.logout import logout_chain_start, logout_prepare
from idp.flow.redirects import HttpResponseSeeOther, home_url
from idp.flow.services import Outcome, client_ip, password_attempt
from idp.flow.session import (
    AMR_PASSWORD,
    PROMPT_LOGIN,
    SESSION_LOGIN,
    current_auth,
    login_url,
    logout,
)
from idp.flow.steps import PASSWORD, choose_step
from orgs.inheritance.selectors import organization_in_context
from orgs.tree.selectors import organization_by_id
from tenants.models import Tenant, User
from tenants.routing import tenant_of

MSG_INVALID = "That username and password do not match. Check both and try again; passwords are case-sensitive."
MSG_LOCKED = (
    "Too many unsuccessful attempts to sign in. Try again later, or ask an administrator to unlock your account."
)
MSG_CODE_WRONG = "That code is not right. Check the latest email we sent you and try again."
MSG_CODE_EXPIRED = "That code has expired. Send a new code and try again."
MSG_CODE_TOO_MANY = "Too many wrong codes. Sign in again to get a new code."
MSG_CODE_GONE = "That code can no longer be used. Sign in again to get a new code."
MSG_CODE_NO_EMAIL = (
    "Your account has no email address to send a sign-in code to. Ask an administrator to add one, then sign in again."
)
MSG_CODE_NO_PHONE = (
    "Your account has no mobile number to send a sign-in code to. Ask an administrator to add one, then sign in again."
)
MSG_NO_PASSWORD = "This organization does not sign in with passwords. Start again and use the way it offers."  # noqa: S105
MSG_NO_FIRST_FACTOR = "This organization has no way of signing in set up for you here. Ask your administrator for help."
MSG_PICK_GONE = "This sign-in took too long or was already finished. Go back to the application and sign in again."


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:  # noqa: PLR0911 - one return per outcome
    """Identifier first (username or email, then the step the registry chooses), or, where the
    organization in context has ``login.identifier_first`` off and allows passwords, the identifier
    and the password on one page and one POST."""
    tenant = tenant_of(request)
    next_url = pages.next_of(request, tenant)
    prompt_login = pages.param(request, "prompt") == PROMPT_LOGIN
    organization = pages.page_organization(request, tenant)
    password_allowed = firstfactor.password_allowed(tenant=tenant, organization=organization)
    one_page = password_allowed and not pages.identifier_first(tenant=tenant, organization=organization)
    context: dict[str, Any] = {
        "next": next_url,
        "prompt_login": prompt_login,
        # ``org`` on the page names the organization in context: the form carries it on to its POST.
        "org": str(organization) if organization is not None and pages.param(request, "org") else "",
        "with_password": one_page,
        "login_options": pages.login_options(request, tenant, next_url),
    }

    def page(status: int = 200, **extra: Any) -> HttpResponse:
        return pages.page(request, "login.html", tenant, status=status, **context, **extra)

    auth = current_auth(request, tenant)
    if request.method == "GET":
        if auth is not None and not prompt_login:
            return HttpResponseRedirect(next_url or home_url(tenant))
        return page(identifier=auth.user.get_username() if auth is not None else "")
    form = IdentifierForm(request.POST)
    if not form.is_valid():
        return page(identifier=request.POST.get("identifier", "")[:254], error=form.errors["identifier"][0])
    identifier = form.cleaned_data["identifier"]
    step = choose_step(request=request, tenant=tenant, identifier=identifier)
    if step.name == PASSWORD and not password_allowed:
        return _passwordless_begin(
            request,
            tenant=tenant,
            identifier=identifier,
            organization=organization,
            next_url=next_url,
            prompt_login=prompt_login,
        )
    state: dict[str, Any] = {
        "tenant_id": tenant.pk,
        "identifier": identifier,
        "step": step.name,
        "prompt_login": prompt_login,
    }
    if step.name == PASSWORD and one_page:
        password = PasswordForm(request.POST)
        if not password.is_valid():
            return page(identifier=identifier, password_error=password.errors["password"][0])

        def again(status: int = 200, error: str = "", **extra: Any) -> HttpResponse:
            return page(status=status, identifier=identifier, password_error=error, **extra)

        return _password_submit(
            request,
            tenant=tenant,
            state=state,
            organization=organization,
            password=password.cleaned_data["password"],
            next_url=next_url,
            again=again,
        )
    request.session[SESSION_LOGIN] = state
    return HttpResponseSeeOther(step.url(request=request, tenant=tenant, next_url=next_url))


@never_cache
@require_http_methods(["GET", "POST"])
def password_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_of(request)
    next_url = pages.next_of(request, tenant)
    organization = pages.page_organization(request, tenant)
    if not firstfactor.password_allowed(tenant=tenant, organization=organization):
        # Refused before any password check, so a direct POST proves nothing and counts nothing.
        if request.method == "GET":
            return HttpResponseRedirect(login_url(tenant, next_url))
        request.session.pop(SESSION_LOGIN, None)
        return pages.page(request, "error.html", tenant, status=403, title="No passwords here", message=MSG_NO_PASSWORD)
    state = journey.login_state(request, tenant)
    if state is None or state.get("step") != PASSWORD:
        back = login_url(tenant, next_url)
        return HttpResponseSeeOther(back) if request.method == "POST" else HttpResponseRedirect(back)
    identifier = str(state["identifier"])
    context: dict[str, Any] = {
        "next": next_url,
        "identifier": identifier,
        "restart_url": login_url(tenant, next_url, prompt_login=bool(state.get("prompt_login"))),
    }
    if request.method == "GET":
        return pages.page(request, "password.html", tenant, **context)
    form = PasswordForm(request.POST)
    if not form.is_valid():
        return pages.page(request, "password.html", tenant, error=form.errors["password"][0], **context)

    def again(status: int = 200, error: str = "", **extra: Any) -> HttpResponse:
        return pages.page(request, "password.html", tenant, status=status, error=error, **context, **extra)

    return _password_submit(
        request,
        tenant=tenant,
        state=state,
        organization=organization,
        password=form.cleaned_data["password"],
        next_url=next_url,
        again=again,
    )


def _password_submit(
    request: HttpRequest,
    *,
    tenant: Tenant,
    state: dict[str, Any],
    organization: uuid.UUID | None,
    password: str,
    next_url: str,
    again: Callable[..., HttpResponse],
) -> HttpResponse:
    """Check the password of ``state``'s identifier: sign in, or start the second factors the
    organization requires (or the step-up the client asked for); ``again(status=, error=)``
    renders the page that asked (the password page, or the one-page sign-in)."""
    factors = [
        *otp.required_factors(tenant=tenant, organization=organization),
        *required_extra_factors(tenant=tenant, organization=organization),
    ]
    step_up = not factors and stepup.next_wants_mfa(next_url)  # the client asked for MFA (acr_values)
    attempt = password_attempt(
        request=request,
        tenant=tenant,
        identifier=str(state["identifier"]),
        password=password,
        second_factor=bool(factors) or step_up,
    )
    if attempt.outcome is Outcome.SECOND_FACTOR and attempt.user is not None:
        if step_up:
            factors = stepup.stepup_choices(tenant=tenant, organization=organization, user=attempt.user)[:1]
            if not factors:  # nothing to step up with: the protocol app refuses (idp.flow.stepup)
                stepup.sign_in_without_stepup(request, tenant=tenant, user=attempt.user)
                return HttpResponseSeeOther(next_url or home_url(tenant))
        return _second_factor_begin(
            request=request,
            tenant=tenant,
            state=state,
            user=attempt.user,
            organization=organization,
            factors=factors,
            next_url=next_url,
        )
    if attempt.outcome is Outcome.SIGNED_IN:
        return HttpResponseSeeOther(next_url or home_url(tenant))
    if attempt.outcome is Outcome.LOCKED:
        return again(status=429, error=MSG_LOCKED, locked=True)
    return again(error=MSG_INVALID)


def _passwordless_begin(
    request: HttpRequest,
    *,
    tenant: Tenant,
    identifier: str,
    organization: uuid.UUID | None,
    next_url: str,
    prompt_login: bool,
) -> HttpResponse:
    """No password allowed here (``idp.flow.firstfactor``): start with the organization's first factor."""
    factors = firstfactor.first_factors(tenant=tenant, organization=organization)
    if not factors:
        request.session.pop(SESSION_LOGIN, None)
        return pages.page(
            request, "error.html", tenant, status=403, title="No way to sign in", message=MSG_NO_FIRST_FACTOR
        )
    user = firstfactor.user_for_identifier(tenant=tenant, identifier=identifier)
    state: dict[str, Any] = {
        "tenant_id": tenant.pk,
        "identifier": identifier,
        "prompt_login": prompt_login,
        "factors": factors,
        "user_id": user.pk if user is not None else None,
        "backend": settings.AUTHENTICATION_BACKENDS[0],
        "organization": organization.hex if organization else "",
        "amr": [],
        "first": True,
    }
    return _first_factor_start(request, tenant=tenant, state=state, user=user, factor=factors[0], next_url=next_url)


def _first_factor_start(
    request: HttpRequest, *, tenant: Tenant, state: dict[str, Any], user: User | None, factor: str, next_url: str
) -> HttpResponse:
    """Start ``factor`` with no password before it; an unknown user (or one without an address) gets a decoy."""
    extra = get_factor(factor)
    if extra is not None:  # the factor's page handles a missing user (it shows "no passkey yet")
        state["step"] = factor
        request.session[SESSION_LOGIN] = state
        return HttpResponseSeeOther(extra.page_url(tenant=tenant, next_url=next_url))
    if user is None or not otp.destination(user, factor):
        state.update(step=factor, decoy=True, decoy_wrong=0)
        request.session[SESSION_LOGIN] = state
        return HttpResponseSeeOther(journey.otp_page_url(tenant, factor, next_url))
    return journey.factor_start(
        request=request, tenant=tenant, state=state, user=user, factor=factor, next_url=next_url
    )


@never_cache
@require_POST
def first_bootstrap_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """No passkey yet where passkeys replace the password: an emailed code first, then a new passkey."""
    tenant = tenant_of(request)
    next_url = pages.next_of(request, tenant)
    state = journey.login_state(request, tenant)
    if (
        state is None
        or not state.get("first")
        or state.get("amr")
        or str(state.get("step")) not in firstfactor.first_factor_names()
    ):
        return HttpResponseSeeOther(login_url(tenant, next_url))
    organization = journey.state_organization(state)
    code = firstfactor.bootstrap_factor(tenant=tenant, organization=organization)
    if not code:
        return pages.page(
            request, "error.html", tenant, status=403, title="No way to sign in", message=MSG_NO_FIRST_FACTOR
        )
    user_id = state.get("user_id")
    user = User.objects.filter(pk=user_id, tenant=tenant, is_active=True).first() if user_id else None
    state.update(factors=[code, str(state["step"])], bootstrap=True)
    return _first_factor_start(request, tenant=tenant, state=state, user=user, factor=code, next_url=next_url)


def _second_factor_begin(
    *,
    request: HttpRequest,
    tenant: Tenant,
    state: dict[str, Any],
    user: User,
    organization: uuid.UUID | None,
    factors: list[str],
    next_url: str,
) -> HttpResponse:
    """The password was right and the organization requires codes: send the first, go to its page."""
    unreachable = _unreachable(request, tenant, user, factors)
    if unreachable is not None:
        return unreachable
    state.update(
        factors=list(factors),
        user_id=user.pk,
        backend=getattr(user, "backend", ""),
        organization=organization.hex if organization else "",
        amr=[AMR_PASSWORD],
    )
    return journey.factor_start(
        request=request, tenant=tenant, state=state, user=user, factor=factors[0], next_url=next_url
    )


def _unreachable(request: HttpRequest, tenant: Tenant, user: User, factors: list[str]) -> HttpResponse | None:
    """The error page when a code factor has nowhere to go for ``user`` (no email, no phone), else None."""
    missing = [f for f in factors if f in otp.FACTORS and not otp.destination(user, f)]
    if not missing:
        return None
    request.session.pop(SESSION_LOGIN, None)
    message = MSG_CODE_NO_EMAIL if missing[0] == otp.EMAIL_OTP else MSG_CODE_NO_PHONE
    title = "No email address" if missing[0] == otp.EMAIL_OTP else "No mobile number"
    return pages.page(request, "error.html", tenant, status=403, title=title, message=message)


def _otp_view(request: HttpRequest, tenant_slug: str, factor: str) -> HttpResponse:  # noqa: PLR0911 - one return per outcome
    """The code sent after the password; ``action=resend`` sends a new one after a cool-down."""
    tenant = tenant_of(request)
    next_url = pages.next_of(request, tenant)
    state = journey.login_state(request, tenant)
    if state is not None and state.get("decoy") and state.get("step") == factor:
        return _decoy_otp(request, tenant=tenant, state=state, factor=factor, next_url=next_url)
    user = None
    if state is not None and state.get("step") == factor and state.get("user_id"):
        user = User.objects.filter(pk=state["user_id"], tenant=tenant, is_active=True).first()
    if state is None or user is None:
        back = login_url(tenant, next_url)
        return HttpResponseSeeOther(back) if request.method == "POST" else HttpResponseRedirect(back)
    organization = journey.state_organization(state)
    context = _otp_context(
        tenant,
        state,
        factor,
        next_url,
        organization=organization,
        destination_hint=_mask(otp.destination(user, factor), factor),
    )
    if request.method == "GET":
        notice = "We sent a new code." if request.GET.get("sent") == "1" else ""
        return pages.page(request, "otp.html", tenant, notice=notice, **context)
    if request.POST.get("action") == "resend":
        return _otp_resend(request, tenant=tenant, state=state, user=user, factor=factor, context=context)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return pages.page(request, "otp.html", tenant, error=form.errors["code"][0], **context)
    result = otp.challenge_check(
        state=state,
        tenant=tenant,
        organization=organization,
        user=user,
        code=form.cleaned_data["code"],
        ip=client_ip(request),
    )
    if result is otp.Check.OK:
        return journey.factor_done(request, tenant=tenant, state=state, user=user, factor=factor, next_url=next_url)
    if result in (otp.Check.LOCKED, otp.Check.TOO_MANY):
        request.session.pop(SESSION_LOGIN, None)
        message = MSG_LOCKED if result is otp.Check.LOCKED else MSG_CODE_TOO_MANY
        return pages.page(request, "otp.html", tenant, status=429, error=message, spent=True, **context)
    request.session[SESSION_LOGIN] = state
    message = {otp.Check.WRONG: MSG_CODE_WRONG, otp.Check.EXPIRED: MSG_CODE_EXPIRED}.get(result, MSG_CODE_GONE)
    return pages.page(request, "otp.html", tenant, status=400, error=message, **context)


def _otp_context(
    tenant: Tenant,
    state: dict[str, Any],
    factor: str,
    next_url: str,
    *,
    organization: uuid.UUID | None,
    destination_hint: str,
) -> dict[str, Any]:
    """The code page's context, one source for the real page and the decoy so they cannot drift apart
    (an identifier with no account must get the same page)."""
    return {
        "next": next_url,
        "identifier": str(state["identifier"]),
        "by_sms": factor == otp.SMS_OTP,
        "destination_hint": destination_hint,
        "action_url": reverse(journey.OTP_PAGES[factor], kwargs={"tenant_slug": tenant.slug}),
        "restart_url": login_url(tenant, next_url, prompt_login=bool(state.get("prompt_login"))),
        "length": otp.policy_for(tenant=tenant, organization=organization, factor=factor).length,
    }


def _decoy_otp(
    request: HttpRequest, *, tenant: Tenant, state: dict[str, Any], factor: str, next_url: str
) -> HttpResponse:
    """The code page for an identifier with no account (or no address): it looks the same, no code fits."""
    organization = journey.state_organization(state)
    context = _otp_context(
        tenant, state, factor, next_url, organization=organization, destination_hint=_mask("", factor)
    )
    if request.method == "GET":
        notice = "We sent a new code." if request.GET.get("sent") == "1" else ""
        return pages.page(request, "otp.html", tenant, notice=notice, **context)
    if request.POST.get("action") == "resend":
        here = journey.otp_page_url(tenant, factor, next_url)
        return HttpResponseSeeOther(here + ("&" if "?" in here else "?") + "sent=1")
    form = CodeForm(request.POST)
    if not form.is_valid():
        return pages.page(request, "otp.html", tenant, error=form.errors["code"][0], **context)
    state["decoy_wrong"] = int(state.get("decoy_wrong") or 0) + 1
    if state["decoy_wrong"] >= otp.policy_for(tenant=tenant, organization=organization, factor=factor).max_attempts:
        request.session.pop(SESSION_LOGIN, None)
        return pages.page(request, "otp.html", tenant, status=429, error=MSG_CODE_TOO_MANY, spent=True, **context)
    request.session[SESSION_LOGIN] = state
    return pages.page(request, "otp.html", tenant, status=400, error=MSG_CODE_WRONG, **context)


def _otp_resend(
    request: HttpRequest, *, tenant: Tenant, state: dict[str, Any], user: User, factor: str, context: dict[str, Any]
) -> HttpResponse:
    try:
        sent, wait = journey.send_code(request, tenant=tenant, state=state, user=user, factor=factor)
    except otp.DeliveryError:
        return pages.page(request, "otp.html", tenant, status=503, error=journey.MSG_NOT_SENT, **context)
    request.session[SESSION_LOGIN] = state
    if not sent:
        message = (
            f"Wait {wait} seconds before asking for another code."
            if wait
            else "No more codes can be sent for this sign-in. Sign in again."
        )
        return pages.page(request, "otp.html", tenant, status=429, error=message, **context)
    here = journey.otp_page_url(tenant, factor, context["next"])
    return HttpResponseSeeOther(here + ("&" if "?" in here else "?") + "sent=1")


@never_cache
@require_http_methods(["GET", "POST"])
def email_otp_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    return _otp_view(request, tenant_slug, otp.EMAIL_OTP)


@never_cache
@require_http_methods(["GET", "POST"])
def sms_otp_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    return _otp_view(request, tenant_slug, otp.SMS_OTP)


def _mask(value: str, factor: str) -> str:
    if factor == otp.SMS_OTP:
        return f"the number ending in {value[-2:]}" if len(value) >= 4 else "your mobile number"
    local, _, domain = value.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "your email address"


@never_cache
@require_GET
def home_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """The tenant's landing page: who is signed in, and a way out."""
    tenant = tenant_of(request)
    auth = current_auth(request, tenant)
    if auth is None:
        return HttpResponseRedirect(login_url(tenant, ""))
    return pages.page(request, "home.html", tenant, user=auth.user, user_name=auth.user.get_full_name())


@never_cache
@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """GET asks to confirm; POST signs out of this browser and goes to ``next`` or says it is done."""
    tenant = tenant_of(request)
    explicit_next = pages.next_of(request, tenant)
    if request.method == "POST":
        pending = logout_prepare(request, tenant=tenant)  # upstream IdPs, SAML SPs: read before the flush
        logout(request)
        done = reverse("flow:logout", kwargs={"tenant_slug": tenant.slug}) + "?done=1"
        return HttpResponseSeeOther(
            logout_chain_start(request, tenant=tenant, pending=pending, final_url=explicit_next or done)
        )
    signed_in = bool(request.user.is_authenticated)
    return pages.page(
        request,
        "logout.html",
        tenant,
        signed_in=signed_in,
        auth=current_auth(request, tenant),
        next=explicit_next,
        login_url=login_url(tenant, explicit_next),
    )


@never_cache
@require_http_methods(["GET", "POST"])
def select_org_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """The organization picker for a pick made by ``selection.begin``."""
    tenant = tenant_of(request)
    pick_id = pages.param(request, "pick")[:64]
    pick = selection.pick_get(request, tenant=tenant, pick_id=pick_id)
    auth = current_auth(request, tenant)
    if pick is None or auth is None:
        return selection.error_page(request, tenant=tenant, title="Sign in again", message=MSG_PICK_GONE)
    choices = selection.pick_choices(tenant=tenant, pick=pick)
    logout_url = reverse("flow:logout", kwargs={"tenant_slug": tenant.slug})
    context: dict[str, Any] = {
        "pick_id": pick_id,
        "client_name": pick.get("client_name") or "",
        "choices": choices,
        "searchable": len(choices) > selection.SEARCH_THRESHOLD,
        "user": auth.user,
        "switch_url": f"{logout_url}?{urlencode({'next': pick['next']})}",
    }
    if not choices:
        return selection.error_page(
            request,
            tenant=tenant,
            title="No organization to choose",
            message="You are not a member of any organization this application accepts. "
            "Ask your administrator for access.",
            status=403,
        )
    if request.method == "GET":
        return pages.page(request, "select_org.html", tenant, **context)
    form = PickForm(request.POST)
    target = None
    if form.is_valid():
        target = selection.pick_choose(
            request, tenant=tenant, pick_id=pick_id, organization_id=form.cleaned_data["organization"]
        )
    if target is None:
        return pages.page(
            request,
            "select_org.html",
            tenant,
            status=400,
            error="Choose one of the organizations listed here.",
            **context,
        )
    return HttpResponseSeeOther(target)


# --- step-up to an organization's policy (idp.flow.decision) ----------------------------------
STEPUP_WORDS = {
    otp.EMAIL_OTP: "We will send a code to your email address.",
    otp.SMS_OTP: "We will send a code to your mobile number.",
    "passkey": "Use your passkey.",
    "push": "Approve the request on your phone.",
}


@never_cache
@require_http_methods(["GET", "POST"])
def stepup_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:  # noqa: PLR0911 - one return per outcome
    """Run the factors the organization's policy still needs for this session, then go on to ``next``.

    A protocol app sends the browser here when what the session proved falls short of the chosen
    organization's policy; it checks again when the browser comes back, so nothing here decides.
    GET explains; POST starts the first missing factor (so a prefetch sends no code).
    """

    tenant = tenant_of(request)
    next_url = pages.next_of(request, tenant)
    auth = current_auth(request, tenant)
    if auth is None:
        return HttpResponseRedirect(login_url(tenant, next_url))
    organization = organization_in_context(tenant=tenant, key=pages.param(request, "org"))
    policy = decision.policy_for(tenant=tenant, organization=organization)
    missing = decision.unmet(policy, decision.Proven.of(auth))
    if not missing:
        return HttpResponseSeeOther(next_url or home_url(tenant))
    if decision.UNAVAILABLE in missing:
        return pages.page(
            request, "error.html", tenant, status=403, title="No way to sign in", message=MSG_NO_FIRST_FACTOR
        )
    if request.method == "GET":
        logout_url = reverse("flow:logout", kwargs={"tenant_slug": tenant.slug})
        found = organization_by_id(tenant=tenant, pk=organization) if organization else None
        name = found.display_name if found is not None else None
        return pages.page(
            request,
            "stepup.html",
            tenant,
            next=next_url,
            org=str(organization or ""),
            organization_name=name or "",
            explanation=" ".join(STEPUP_WORDS.get(f, "") for f in missing).strip(),
            user=auth.user,
            switch_url=f"{logout_url}?{urlencode({'next': next_url})}",
        )
    user = auth.user
    state: dict[str, Any] = {
        "tenant_id": tenant.pk,
        "identifier": user.get_username(),
        "prompt_login": False,
        "user_id": user.pk,
        "backend": settings.AUTHENTICATION_BACKENDS[0],
        "organization": organization.hex if organization else "",
        "stepup": True,
    }
    if not policy.password_allowed and missing[0] in policy.first_factors:
        # No password here: start over with the organization's first factor, as its own journey would.
        state.update(factors=missing[:1], amr=[], first=True)
        return _first_factor_start(request, tenant=tenant, state=state, user=user, factor=missing[0], next_url=next_url)
    unreachable = _unreachable(request, tenant, user, missing)
    if unreachable is not None:
        return unreachable
    state.update(factors=list(missing), amr=list(auth.amr))
    return journey.factor_start(
        request=request, tenant=tenant, state=state, user=user, factor=missing[0], next_url=next_url
    )
