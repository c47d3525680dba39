"""Tenant-level public endpoints under ``/t/<slug>/``."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from tenants.selectors import tenant_get_by_slug, tenant_jwks


@require_GET
def jwks(request: HttpRequest, tenant_slug: str) -> JsonResponse:
    tenant = tenant_get_by_slug(tenant_slug)
    response = JsonResponse(tenant_jwks(tenant=tenant))
    response["Cache-Control"] = "public, max-age=300"
    return response
