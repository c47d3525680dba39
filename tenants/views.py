"""Tenant-level public endpoints under ``/t/<slug>/``."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from tenants.routing import tenant_of
from tenants.selectors import tenant_jwks


@require_GET
def jwks(request: HttpRequest, tenant_slug: str) -> JsonResponse:
    tenant = tenant_of(request)
    response = JsonResponse(tenant_jwks(tenant=tenant))
    response["Cache-Control"] = "public, max-age=300"
    return response
