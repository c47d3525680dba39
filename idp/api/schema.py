"""The OpenAPI document of one tenant's API (paths relative to its ``servers`` entry).

Also what every operation documents the same way: the problem answers and ``If-Match``.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from idp.api.problems import PROBLEM_CONTENT_TYPE
from idp.api.serializers.common import ProblemSerializer
from tenants.routing import tenant_of

PROBLEMS: dict[Any, OpenApiResponse] = {
    (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description=desc)
    for code, desc in {
        400: "Invalid input (problem+json with `errors` per field)",
        401: "Missing or invalid bearer token",
        403: "Your role does not allow this",
        404: "Not found, or outside your reach",
    }.items()
}
ETAG_PROBLEMS = {
    **PROBLEMS,
    (412, PROBLEM_CONTENT_TYPE): OpenApiResponse(ProblemSerializer, description="If-Match does not match the ETag"),
}
IF_MATCH = OpenApiParameter("If-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False)


class TenantSchemaView(SpectacularAPIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        slug = tenant_of(request).slug  # 404 when the URL names no active tenant
        response = super().get(request)
        schema = dict(response.data)
        schema["servers"] = [{"url": f"/t/{slug}/api/v1", "description": f"Tenant {slug}"}]
        response.data = schema
        return response


def drop_tenant_parameter(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the tenant is part of the server URL, not a parameter of each path."""
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [p for p in operation["parameters"] if p.get("name") != "tenant_slug"]
    return result


def add_rate_limit_response(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: every operation may answer 429 (the limits live in ``TenantAPIView``, not per view)."""
    too_many = {
        "description": "Too many requests: wait the number of seconds in `Retry-After` (problem+json)",
        "headers": {
            "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before trying again"}
        },
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for item in result.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("429", too_many)
    return result
