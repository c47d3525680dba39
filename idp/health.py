"""Liveness and readiness probes."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: database check failed: %s", type(exc).__name__)
        return f"{type(exc).__name__}"
    return None


def _check_redis() -> str | None:

    try:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        logger.warning("readiness: redis check failed: %s", type(exc).__name__)
        return f"{type(exc).__name__}"
    return None


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve: the database answers, and Redis too when one is configured."""
    checks: dict[str, str] = {}
    failed = False
    db_error = _check_database()
    checks["database"] = "ok" if db_error is None else f"error: {db_error}"
    failed |= db_error is not None
    if settings.REDIS_URL:
        redis_error = _check_redis()
        checks["redis"] = "ok" if redis_error is None else f"error: {redis_error}"
        failed |= redis_error is not None
    return JsonResponse({"status": "fail" if failed else "ok", "checks": checks}, status=503 if failed else 200)
