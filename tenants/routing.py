"""The tenant of a request, resolved once, before any view runs (django-tenants' subfolder shape).

Everything a tenant serves lives under ``/t/<slug>/`` (``idp/urls.py``). :class:`TenantPathMiddleware`
reads the slug in ``process_view`` — the URL resolver has already matched it as the
``tenant_slug`` keyword, so there is no second parser of the path to keep in step with the URL
conf — and sets ``request.tenant``: the active tenant, or None when there is no such (or no
active) tenant. Views take it with :func:`tenant_of`, which raises ``Http404`` for None, inside
the view: the API answers that with problem+json (its exception handler), the pages with the
plain 404 page, so each surface keeps its own error form while the lookup happens once.
Outside a request (jobs, commands) code names the tenant itself (``idp.oidc.context.tenant_scope``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse

from tenants.models import Tenant
from tenants.selectors import tenant_get_by_slug

ATTRIBUTE = "tenant"


class TenantPathMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        slug = kwargs.get("tenant_slug")
        if slug is None:
            return None  # not a tenant URL (health, admin)
        try:
            found: Tenant | None = tenant_get_by_slug(slug)
        except Http404:
            found = None
        setattr(request, ATTRIBUTE, found)
        return None


def tenant_of(request: Any) -> Tenant:
    """The tenant this request is for (resolved by :class:`TenantPathMiddleware`); 404 when there is none."""
    found = getattr(request, ATTRIBUTE, None)
    if not isinstance(found, Tenant):
        raise Http404("No such tenant.")
    return found
