"""The login journey's pages. Rules live in services/selection/steps; views wire them to HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from idp.flow import selection
from idp.flow.forms import IdentifierForm, PasswordForm, PickForm
from idp.flow.redirects import HttpResponseSeeOther, home_url, safe_next
from idp.flow.services import Outcome, password_attempt
from idp.flow.session import PROMPT_LOGIN, SESSION_LOGIN, current_auth, login_url, logout
from idp.flow.steps import PASSWORD, choose_step
from orgs.settings_selectors import EffectiveSection, effective_section, organization_in_context
from tenants.models import Tenant
from tenants.selectors import tenant_get_by_slug

MSG_INVALID = "That username and password do not match. Check both and try again; passwords are case-sensitive."
MSG_LOCKED = (
    "Too many unsuccessful attempts to sign in. Try again later, or ask an administrator to unlock your account."
)
MSG_PICK_GONE = "This sign-in took too long or was already finished. Go back to the application and sign in again."


# Other apps (federation) add "Sign in with …" links to the login page without this app
# importing them: each provider returns (label, url) pairs for the page's ``next``.
LoginOptions = Callable[..., list[tuple[str, str]]]
_login_option_providers: list[LoginOptions] = []


def register_login_options(provider: LoginOptions) -> LoginOptions:
    """``provider(*, request, tenant, next_url)`` → ``[(label, url), …]``; registered once."""
    if provider not in _login_option_providers:
        _login_option_providers.append(provider)
    return provider


def _login_options(request: HttpRequest, tenant: Tenant, next_url: str) -> list[tuple[str, str]]:
    return [opt for p in _login_option_providers for opt in p(request=request, tenant=tenant, next_url=next_url)]


def _param(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name) if request.method == "POST" else None
    return value if value is not None else request.GET.get(name, "")


def _next(request: HttpRequest, tenant: Tenant) -> str:
    """The ``next`` this page carries on: a safe one, or "" (meaning the tenant's home page)."""
    return safe_next(tenant=tenant, candidate=_param(request, "next")) or ""


def _organization_in_context(request: HttpRequest, tenant: Tenant) -> uuid.UUID | None:
    """The organization whose branding the page shows: ``org`` on the page, or ``organization`` in ``next``.

    The second is how a client pre-selects an organization on its authorization request; the
    login pages carry ``next`` along, so every step of the journey shows the same branding.
    """
    key = _param(request, "org")
    if not key:
        query = parse_qs(urlsplit(_next(request, tenant)).query)
        key = (query.get("organization") or [""])[0]
    return organization_in_context(tenant=tenant, key=key)


def _branding(request: HttpRequest, tenant: Tenant) -> EffectiveSection | None:
    try:
        return effective_section(
            tenant=tenant, organization=_organization_in_context(request, tenant), section="branding"
        )
    except LookupError:
        return None


def _page(request: HttpRequest, template: str, tenant: Tenant, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("branding", _branding(request, tenant))
    return render(request, f"flow/{template}", {"tenant": tenant, **context}, status=status)


def _login_state(request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:
    state = request.session.get(SESSION_LOGIN)
    if isinstance(state, dict) and state.get("tenant_id") == tenant.pk and state.get("identifier"):
        return state
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """Identifier first: username or email, then the step the registry chooses."""
    tenant = tenant_get_by_slug(tenant_slug)
    next_url = _next(request, tenant)
    prompt_login = _param(request, "prompt") == PROMPT_LOGIN
    auth = current_auth(request, tenant)
    if request.method == "GET":
        if auth is not None and not prompt_login:
            return HttpResponseRedirect(next_url or home_url(tenant))
        initial = auth.user.get_username() if auth is not None else ""
        return _page(
            request,
            "login.html",
            tenant,
            next=next_url,
            prompt_login=prompt_login,
            identifier=initial,
            login_options=_login_options(request, tenant, next_url),
        )
    form = IdentifierForm(request.POST)
    if not form.is_valid():
        return _page(
            request,
            "login.html",
            tenant,
            next=next_url,
            prompt_login=prompt_login,
            identifier=request.POST.get("identifier", "")[:254],
            error=form.errors["identifier"][0],
            login_options=_login_options(request, tenant, next_url),
        )
    identifier = form.cleaned_data["identifier"]
    step = choose_step(request=request, tenant=tenant, identifier=identifier)
    request.session[SESSION_LOGIN] = {
        "tenant_id": tenant.pk,
        "identifier": identifier,
        "step": step.name,
        "prompt_login": prompt_login,
    }
    return HttpResponseSeeOther(step.url(request=request, tenant=tenant, next_url=next_url))


@never_cache
@require_http_methods(["GET", "POST"])
def password_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    tenant = tenant_get_by_slug(tenant_slug)
    next_url = _next(request, tenant)
    state = _login_state(request, tenant)
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
        return _page(request, "password.html", tenant, **context)
    form = PasswordForm(request.POST)
    if not form.is_valid():
        return _page(request, "password.html", tenant, error=form.errors["password"][0], **context)
    attempt = password_attempt(
        request=request, tenant=tenant, identifier=identifier, password=form.cleaned_data["password"]
    )
    if attempt.outcome is Outcome.SIGNED_IN:
        return HttpResponseSeeOther(next_url or home_url(tenant))
    if attempt.outcome is Outcome.LOCKED:
        return _page(request, "password.html", tenant, status=429, error=MSG_LOCKED, locked=True, **context)
    return _page(request, "password.html", tenant, error=MSG_INVALID, **context)


@never_cache
@require_GET
def home_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """The tenant's landing page: who is signed in, and a way out."""
    tenant = tenant_get_by_slug(tenant_slug)
    auth = current_auth(request, tenant)
    if auth is None:
        return HttpResponseRedirect(login_url(tenant, ""))
    return _page(request, "home.html", tenant, user=auth.user, user_name=auth.user.get_full_name())


@never_cache
@require_http_methods(["GET", "POST"])
def logout_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """GET asks to confirm; POST signs out of this browser and goes to ``next`` or says it is done."""
    tenant = tenant_get_by_slug(tenant_slug)
    explicit_next = _next(request, tenant)
    if request.method == "POST":
        logout(request)
        done = reverse("flow:logout", kwargs={"tenant_slug": tenant.slug}) + "?done=1"
        return HttpResponseSeeOther(explicit_next or done)
    signed_in = bool(request.user.is_authenticated)
    return _page(
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
    tenant = tenant_get_by_slug(tenant_slug)
    pick_id = _param(request, "pick")[:64]
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
        return _page(request, "select_org.html", tenant, **context)
    form = PickForm(request.POST)
    target = None
    if form.is_valid():
        target = selection.pick_choose(
            request, tenant=tenant, pick_id=pick_id, organization_id=form.cleaned_data["organization"]
        )
    if target is None:
        return _page(
            request,
            "select_org.html",
            tenant,
            status=400,
            error="Choose one of the organizations listed here.",
            **context,
        )
    return HttpResponseSeeOther(target)
