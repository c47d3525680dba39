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
from rest_framework.serializers import Serializer

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


# --- how each kind of operation is documented -------------------------------------------------
# Decorators for handlers: the operation id, the shapes, and the problems it can answer.


def doc_list(operation_id: str, serializer: type[Serializer], *parameters: OpenApiParameter, **more: Any) -> Any:
    """A paginated list of ``serializer`` (``parameters``: its filters)."""
    responses = {200: serializer(many=True), **PROBLEMS}
    return extend_schema(operation_id=operation_id, parameters=list(parameters) or None, responses=responses, **more)


def doc_read(operation_id: str, serializer: type[Serializer] | Serializer, **more: Any) -> Any:
    """One object, with its ETag."""
    return extend_schema(operation_id=operation_id, responses={200: serializer, **PROBLEMS}, **more)


def doc_create(operation_id: str, request: type[Serializer], serializer: type[Serializer], **more: Any) -> Any:
    """A body of ``request`` creates what ``serializer`` shows (201)."""
    return extend_schema(operation_id=operation_id, request=request, responses={201: serializer, **PROBLEMS}, **more)


def doc_update(operation_id: str, request: type[Serializer], serializer: type[Serializer], **more: Any) -> Any:
    """A change under ``If-Match`` (412 when it does not match)."""
    responses = {200: serializer, **ETAG_PROBLEMS}
    return extend_schema(operation_id=operation_id, parameters=[IF_MATCH], request=request, responses=responses, **more)


def doc_delete(operation_id: str, *parameters: OpenApiParameter, **more: Any) -> Any:
    """A removal under ``If-Match`` (204; 412 when it does not match)."""
    responses = {204: None, **ETAG_PROBLEMS}
    return extend_schema(operation_id=operation_id, parameters=[IF_MATCH, *parameters], responses=responses, **more)


def doc_action(operation_id: str, serializer: type[Serializer], status: int = 200, **more: Any) -> Any:
    """A POST without a body that answers with ``serializer``."""
    return extend_schema(operation_id=operation_id, request=None, responses={status: serializer, **PROBLEMS}, **more)
