"""Errors as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions
from rest_framework.response import Response

from tenants.preconditions import PreconditionFailed

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://canopy.dev/problems/"


PRECONDITION_FAILED = "The resource changed since you read it (If-Match does not match its ETag)."


def _django_errors(exc: DjangoValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    return {"non_field_errors": [str(m) for m in exc.messages]}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {k: _flatten(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return [_flatten(v) for v in detail]
    return str(detail)


TITLES = {
    400: ("validation-error", "Your request is not valid."),
    401: ("not-authenticated", "Authentication required."),
    403: ("permission-denied", "You may not do this."),
    404: ("not-found", "Not found."),
    405: ("method-not-allowed", "Method not allowed."),
    406: ("not-acceptable", "Not acceptable."),
    412: ("precondition-failed", "Precondition failed."),
    415: ("unsupported-media-type", "Unsupported media type."),
    429: ("throttled", "Too many requests."),
}


def problem(
    status_code: int, detail: str, errors: dict[str, Any] | None = None, *, headers: dict[str, str] | None = None
) -> Response:
    slug, title = TITLES.get(status_code, ("error", "Error"))
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status_code, "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _outside_drf(exc: Exception) -> Response | None:
    """The problem of an exception Django or a service raised (not DRF), if it has one."""
    if isinstance(exc, DjangoValidationError):
        errors = _django_errors(exc)
        first = next(iter(errors.values()), ["Invalid input."])
        return problem(400, first[0] if first else "Invalid input.", errors)
    if isinstance(exc, Http404):
        return problem(404, "Not found.")
    if isinstance(exc, PreconditionFailed):  # a service's conditional write found the row changed
        return problem(412, PRECONDITION_FAILED)
    if isinstance(exc, DjangoPermissionDenied):
        return problem(403, str(exc) or "You may not do this.")
    return None


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    answer = _outside_drf(exc)
    if answer is not None:
        return answer
    if not isinstance(exc, exceptions.APIException):
        return None  # a real bug: let Django answer 500
    headers: dict[str, str] = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(int(exc.wait))
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        errors = _flatten(detail) if isinstance(detail, dict) else {"non_field_errors": _flatten(detail)}
        return problem(400, "Some fields are not valid.", errors, headers=headers)
    response = problem(exc.status_code, str(_flatten(exc.detail)), headers=headers)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        view = context.get("view")
        if view is not None and hasattr(view, "get_authenticate_header"):
            auth_header = view.get_authenticate_header(context["request"])
            if auth_header:
                response["WWW-Authenticate"] = auth_header
            else:
                response.status_code = 403
    return response


@csrf_exempt  # nothing to protect: bearer-token API, and this only ever answers 404
def not_found(request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
    """Anything else under the API: a problem+json 404, not the site's HTML page."""
    body = {"type": PROBLEM_BASE + "not-found", "title": "Not found.", "status": 404, "detail": "Not found."}
    return HttpResponse(json.dumps(body), status=404, content_type=PROBLEM_CONTENT_TYPE)
