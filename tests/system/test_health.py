"""Liveness and readiness, against the real database and Redis."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client, override_settings


def test_healthz_answers_without_touching_anything(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and json.loads(response.content) == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_the_database_and_redis(client: Client) -> None:
    assert settings.REDIS_URL, "make test runs the suite with REDIS_URL set"
    response = client.get("/readyz")
    body = json.loads(response.content)
    assert response.status_code == 200, body
    assert body["checks"] == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_readyz_fails_when_redis_is_unreachable(client: Client) -> None:
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/readyz")
    body = json.loads(response.content)
    assert response.status_code == 503
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("error")
