"""Passkey pages and their JSON endpoints. Rules live in services; these wire them to HTTP.

Pages: the username-less sign-in page (linked from the identifier page) and the second-factor
step. JSON endpoints (POST, CSRF token in ``X-CSRFToken``): options for a ceremony, then the
authenticator's answer. Errors answer 400 with ``{"error": "<plain words>"}`` and sign no one in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from idp.flow import firstfactor, journey
from idp.flow.branding import Branding, page_branding
from idp.flow.redirects import home_url, safe_next
from idp.flow.services import client_ip
from idp.flow.session import SESSION_LOGIN, acr_for, current_auth, login_url, sign_in
from idp.flow.steps import step_url
from idp.passkeys import services
from idp.passkeys.selectors import passkeys_of
from orgs.inheritance.selectors import organization_in_context
from tenants.lockout import failure_record, failures_reset, identifier_locked, ip_locked, rate_exceeded
from tenants.models import Tenant, User
from tenants.routing import tenant_of

MAX_BODY = 64 * 1024
MSG_BAD_REQUEST = "Something went wrong with this request. Reload the page and try again."
MSG_SIGN_IN_AGAIN = "This sign-in took too long or was already finished. Sign in again."
MSG_NOT_SIGNED_IN = "Sign in first, then add a passkey."
MSG_ALREADY_HAS = "Use one of your passkeys to continue."
MSG_TOO_MANY = "Too many passkey attempts from your network. Wait a few minutes, then try again."
MSG_LOCKED = (
    "Too many unsuccessful attempts to sign in. Try again later, or ask an administrator to unlock your account."
)
MSG_PROVE_FIRST = "A new passkey can only be added once you have proved who you are. Sign in again."

ACCOUNT = "account"  # registration from the account page
FLOW = "flow"  # registration or second factor during the login journey


# Per client address and tenant, in a fixed window (``tenants.lockout.rate_exceeded``, as sign-up and
# recovery): options are cheap to ask for but each one stores a challenge in the session; answers
# cost a signature check. An address locked for failed passwords is refused here too.
RATE_WINDOW_SECONDS = 5 * 60
RATE_LIMITS = {"options": 30, "answer": 20}


def _error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _throttled(request: HttpRequest, tenant: Tenant, kind: str) -> JsonResponse | None:
    """429 when this address asked too often (or is locked out); else None."""
    ip = client_ip(request)
    limited = ip_locked(ip=ip) or rate_exceeded(
        scope=f"passkey-{kind}",
        tenant=tenant,
        key=ip or "-",
        limit=RATE_LIMITS[kind],
        window_seconds=RATE_WINDOW_SECONDS,
    )
    return _error(MSG_TOO_MANY, status=429) if limited else None


def _body(request: HttpRequest) -> dict[str, Any] | None:
    if len(request.body) > MAX_BODY:
        return None
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


JsonView = Callable[[HttpRequest, Tenant, dict[str, Any]], JsonResponse]


def _json_endpoint(kind: str) -> Callable[[JsonView], Callable[..., JsonResponse]]:
    """What every JSON endpoint checks first, in this order: the rate limit of ``kind``, then a
    JSON object body (an authenticator's answer must carry a ``credential`` object); then the view
    gets the tenant and the body."""

    def decorate(view: JsonView) -> Callable[..., JsonResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, tenant_slug: str) -> JsonResponse:
            tenant = tenant_of(request)
            if (refused := _throttled(request, tenant, kind)) is not None:
                return refused
            data = _body(request)
            if data is None or (kind == "answer" and not isinstance(data.get("credential"), dict)):
                return _error(MSG_BAD_REQUEST)
            return view(request, tenant, data)

        return wrapper

    return decorate


def _next(tenant: Tenant, candidate: Any) -> str:
    return safe_next(tenant=tenant, candidate=candidate if isinstance(candidate, str) else "") or ""


def _passkey_state(request: HttpRequest, tenant: Tenant) -> dict[str, Any] | None:
    state = request.session.get(SESSION_LOGIN)
    if not isinstance(state, dict) or state.get("tenant_id") != tenant.pk or state.get("step") != services.PASSKEY:
        return None
    return state


def _first(state: dict[str, Any]) -> bool:
    """The passkey is the first factor: nothing proved yet (no password where the organization allows none)."""
    return bool(state.get("first")) and not state.get("amr")


def _login_user(request: HttpRequest, tenant: Tenant) -> tuple[dict[str, Any], User] | None:
    """The journey's state and user when it is at the passkey step (after the password, or first)."""
    state = _passkey_state(request, tenant)
    if state is None:
        return None
    user_id = state.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = User.objects.filter(pk=user_id, tenant=tenant, is_active=True).first()
    return (state, user) if user is not None else None


def _branding(request: HttpRequest, tenant: Tenant, next_url: str, organization: str = "") -> Branding | None:
    """The branding of the organization in context: the one the journey carries, else ``next``'s."""
    key = organization or (parse_qs(urlsplit(next_url).query).get("organization") or [""])[0]
    org_id: uuid.UUID | None = organization_in_context(tenant=tenant, key=key) if key else None
    return page_branding(request, tenant=tenant, organization=org_id)


def _urls(tenant: Tenant) -> dict[str, str]:
    def url(name: str) -> str:
        return reverse(f"passkeys:{name}", kwargs={"tenant_slug": tenant.slug})

    return {
        "auth_options_url": url("authenticate_options"),
        "auth_url": url("authenticate"),
        "register_options_url": url("register_options"),
        "register_url": url("register"),
    }


@never_cache
@require_GET
def sign_in_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """Username-less sign-in: the browser offers this site's passkeys; the chosen one names the user."""
    tenant = tenant_of(request)
    next_url = _next(tenant, request.GET.get("next"))
    context = {
        "tenant": tenant,
        "branding": _branding(request, tenant, next_url),
        "next": next_url,
        "restart_url": login_url(tenant, next_url),
        **_urls(tenant),
    }
    return render(request, "passkeys/sign_in.html", context)


@never_cache
@require_GET
def factor_view(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """The passkey step after the password: use a passkey, or create the first one."""
    tenant = tenant_of(request)
    next_url = _next(tenant, request.GET.get("next"))
    state = _passkey_state(request, tenant)
    found = _login_user(request, tenant)
    if state is None or (found is None and not _first(state)):
        return HttpResponseRedirect(login_url(tenant, next_url))
    # First factor for an identifier with no account: the page of an account with no passkey.
    user = found[1] if found else None
    organization = organization_in_context(tenant=tenant, key=str(state.get("organization") or ""))
    bootstrap = _first(state) and firstfactor.bootstrap_factor(tenant=tenant, organization=organization)
    context = {
        "tenant": tenant,
        "branding": _branding(request, tenant, next_url, str(state.get("organization") or "")),
        "next": next_url,
        "identifier": str(state.get("identifier") or ""),
        "has_passkeys": user is not None and passkeys_of(tenant=tenant, user=user).exists(),
        "first": _first(state),
        "bootstrap_url": reverse("flow:first_bootstrap", kwargs={"tenant_slug": tenant.slug}) if bootstrap else "",
        "restart_url": login_url(tenant, next_url, prompt_login=bool(state.get("prompt_login"))),
        **_urls(tenant),
    }
    return render(request, "passkeys/factor.html", context)


def factor_page_url(*, tenant: Tenant, next_url: str) -> str:
    return step_url("passkeys:factor", tenant=tenant, next_url=next_url)


@never_cache
@require_POST
@_json_endpoint("options")
def authenticate_options_view(request: HttpRequest, tenant: Tenant, data: dict[str, Any]) -> JsonResponse:
    """``{"mode": "flow"}`` for the second factor, anything else for username-less sign-in."""
    user, first = None, False
    if data.get("mode") == FLOW:
        found = _login_user(request, tenant)
        if found is None:
            return _error(MSG_SIGN_IN_AGAIN)
        user, first = found[1], _first(found[0])
    return JsonResponse(
        services.authentication_options(session=request.session, tenant=tenant, user=user, verify_user=first)
    )


@never_cache
@require_POST
@_json_endpoint("answer")
def authenticate_view(request: HttpRequest, tenant: Tenant, data: dict[str, Any]) -> JsonResponse:
    """The authenticator's answer: sign in (username-less) or pass the factor; ``{"redirect": url}``."""
    next_url = _next(tenant, data.get("next"))
    found = _login_user(request, tenant) if data.get("mode") == FLOW else None
    if data.get("mode") == FLOW and found is None:
        return _error(MSG_SIGN_IN_AGAIN)
    # The account lockout (``tenants.lockout``) covers passkeys too: a locked account is refused,
    # and at the journey's step (the account known) a wrong answer counts as a failed sign-in.
    identifier = str(found[0].get("identifier", "")) if found else ""
    if found is not None and identifier_locked(tenant=tenant, identifier=identifier, user=found[1]):
        return _error(MSG_LOCKED, status=429)
    try:
        assertion = services.authenticate(
            session=request.session,
            tenant=tenant,
            credential=data["credential"],
            user=found[1] if found else None,
        )
    except services.PasskeyError as exc:
        locked = (
            found is not None
            and exc.message != services.MSG_CHALLENGE  # a stale challenge is no guess
            and failure_record(tenant=tenant, identifier=identifier, ip=client_ip(request), user=found[1])
        )
        return _error(MSG_LOCKED, status=429) if locked else _error(exc.message)
    if found is None and identifier_locked(tenant=tenant, identifier="", user=assertion.user):
        return _error(MSG_LOCKED, status=429)
    failures_reset(tenant=tenant, identifier=identifier, user=assertion.user)
    if found is not None:
        return _factor_passed(
            request, tenant=tenant, state=found[0], user=found[1], amr=assertion.amr, next_url=next_url
        )
    request.session.pop(SESSION_LOGIN, None)
    sign_in(
        request,
        user=assertion.user,
        tenant=tenant,
        amr=assertion.amr,
        acr=acr_for(assertion.amr),
        backend=settings.AUTHENTICATION_BACKENDS[0],
    )
    return JsonResponse({"redirect": next_url or home_url(tenant)})


def _factor_passed(
    request: HttpRequest, *, tenant: Tenant, state: dict[str, Any], user: User, amr: list[str], next_url: str
) -> JsonResponse:
    response = journey.factor_passed(
        request, tenant=tenant, state=state, user=user, factor=services.PASSKEY, amr=amr, next_url=next_url
    )
    location = response.get("Location")
    if not location:  # a later factor could not start (its page explains); start again
        request.session.pop(SESSION_LOGIN, None)
        return _error(MSG_SIGN_IN_AGAIN)
    return JsonResponse({"redirect": location})


@never_cache
@require_POST
@_json_endpoint("options")
def register_options_view(request: HttpRequest, tenant: Tenant, data: dict[str, Any]) -> JsonResponse:
    """``{"mode": "account"}`` for a signed-in user; ``{"mode": "flow"}`` for a first passkey at the step."""
    found = _registering_user(request, tenant, data)
    if isinstance(found, JsonResponse):
        return found
    return JsonResponse(services.registration_options(session=request.session, tenant=tenant, user=found[0]))


def _registering_user(
    request: HttpRequest, tenant: Tenant, data: dict[str, Any]
) -> tuple[User, dict[str, Any] | None] | JsonResponse:
    """Who registers: the user at the passkey step (with the journey's state), or the signed-in user."""
    if data.get("mode") == FLOW:
        found = _login_user(request, tenant)
        if found is None:
            return _error(MSG_SIGN_IN_AGAIN)
        if _first(found[0]):
            return _error(MSG_PROVE_FIRST, status=403)  # nothing proved yet: no enrolment on a bare identifier
        if passkeys_of(tenant=tenant, user=found[1]).exists():
            return _error(MSG_ALREADY_HAS, status=403)  # the step asks for an existing passkey then
        return found[1], found[0]
    auth = current_auth(request, tenant)
    if auth is None:
        return _error(MSG_NOT_SIGNED_IN, status=403)
    return auth.user, None


@never_cache
@require_POST
@_json_endpoint("answer")
def register_view(request: HttpRequest, tenant: Tenant, data: dict[str, Any]) -> JsonResponse:
    """Store the new passkey. During the journey it also passes the passkey step."""
    found = _registering_user(request, tenant, data)
    if isinstance(found, JsonResponse):
        return found
    user, state = found
    try:
        name = services.clean_name(data.get("name"), default="")
        registration = services.register(
            session=request.session, tenant=tenant, user=user, credential=data["credential"], name=name
        )
    except services.PasskeyError as exc:
        return _error(exc.message)
    except ValidationError as exc:
        return _error(" ".join(m for msgs in exc.message_dict.values() for m in msgs))
    next_url = _next(tenant, data.get("next"))
    if state is not None:
        return _factor_passed(request, tenant=tenant, state=state, user=user, amr=registration.amr, next_url=next_url)
    return JsonResponse({"redirect": next_url or reverse("account:home", kwargs={"tenant_slug": tenant.slug})})
