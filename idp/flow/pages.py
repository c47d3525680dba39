"""What every page of the login journey shares: its parameters (``next``, ``org``), the organization
whose branding it shows, the branding, the rendering, and the login options other apps add
(``register_login_options``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from idp.flow.branding import Branding, page_branding
from idp.flow.redirects import safe_next
from orgs.inheritance.selectors import effective_section, organization_in_context
from tenants.models import Tenant
from tenants.registry import Registry

# Other apps (federation) add "Sign in with …" links to the login page without this app
# importing them: each provider returns (label, url) pairs for the page's ``next``.
LoginOptions = Callable[..., list[tuple[str, str]]]


LOGIN_OPTIONS: Registry[LoginOptions] = Registry("login options provider")


def register_login_options(provider: LoginOptions) -> LoginOptions:
    """``provider(*, request, tenant, next_url)`` → ``[(label, url), …]``."""
    return LOGIN_OPTIONS.register(provider)


def login_options(request: HttpRequest, tenant: Tenant, next_url: str) -> list[tuple[str, str]]:
    return [opt for p in LOGIN_OPTIONS for opt in p(request=request, tenant=tenant, next_url=next_url)]


def param(request: HttpRequest, name: str) -> str:
    value = request.POST.get(name) if request.method == "POST" else None
    return value if value is not None else request.GET.get(name, "")


def next_of(request: HttpRequest, tenant: Tenant) -> str:
    """The ``next`` this page carries on: a safe one, or "" (meaning the tenant's home page)."""
    return safe_next(tenant=tenant, candidate=param(request, "next")) or ""


def page_organization(request: HttpRequest, tenant: Tenant) -> uuid.UUID | None:
    """The organization whose branding the page shows: ``org`` on the page, or ``organization`` in ``next``.

    The second is how a client pre-selects an organization on its authorization request; the
    login pages carry ``next`` along, so every step of the journey shows the same branding.
    """
    key = param(request, "org")
    if not key:
        query = parse_qs(urlsplit(next_of(request, tenant)).query)
        key = (query.get("organization") or [""])[0]
    return organization_in_context(tenant=tenant, key=key)


def branding(request: HttpRequest, tenant: Tenant) -> Branding | None:
    return page_branding(request, tenant=tenant, organization=page_organization(request, tenant))


def identifier_first(*, tenant: Tenant, organization: uuid.UUID | None) -> bool:
    """The effective ``login.identifier_first``: False puts the identifier and the password on one page."""
    return bool(effective_section(tenant=tenant, organization=organization, section="login")["identifier_first"])


def page(request: HttpRequest, template: str, tenant: Tenant, status: int = 200, **context: Any) -> HttpResponse:
    context.setdefault("branding", branding(request, tenant))
    return render(request, f"flow/{template}", {"tenant": tenant, **context}, status=status)
