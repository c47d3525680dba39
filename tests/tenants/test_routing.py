"""The tenant of a request is resolved once, by ``tenants.routing.TenantPathMiddleware``, for every
surface under ``/t/<slug>/``: the journey's pages, the OIDC and SAML endpoints, the account page
and the API. An unknown tenant is a 404 in the surface's own form (a page, problem+json)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orgs.inheritance.propagation import job_run
from orgs.inheritance.services import settings_override_set
from tenants.actors import SYSTEM
from tenants.models import Tenant
from tenants.selectors import tenant_cache_clear
from tests.support.api import ApiClient, assert_problem

pytestmark = pytest.mark.django_db

SURFACES = [
    "/t/{slug}/login/",
    "/t/{slug}/.well-known/openid-configuration",
    "/t/{slug}/jwks.json",
    "/t/{slug}/saml/metadata",
    "/t/{slug}/account/",
    "/t/{slug}/passkeys/sign-in/",
    "/t/{slug}/api/schema/",
]


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    cache.clear()
    tenant_cache_clear()
    yield
    tenant_cache_clear()


def _tenant_reads(queries: CaptureQueriesContext) -> int:
    return sum(1 for q in queries.captured_queries if 'FROM "tenants_tenant"' in q["sql"])


@pytest.mark.parametrize("path", SURFACES)
def test_an_unknown_or_inactive_tenant_is_not_found_on_every_surface(demo: Tenant, path: str) -> None:
    assert Client().get(path.format(slug="no-such-tenant")).status_code == 404
    Tenant.objects.filter(pk=demo.pk).update(is_active=False)
    tenant_cache_clear()
    assert Client().get(path.format(slug=demo.slug)).status_code == 404


def test_the_api_answers_an_unknown_tenant_with_problem_json(demo: Tenant) -> None:
    assert_problem(ApiClient("x", "no-such-tenant").get("organizations/"), 404)


@pytest.mark.parametrize("path", SURFACES)
def test_the_tenant_row_is_read_once_per_request(demo: Tenant, path: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(path.format(slug=demo.slug))
    assert response.status_code in (200, 302), (path, response.status_code)
    assert _tenant_reads(queries) == 1, [q["sql"] for q in queries.captured_queries]


def test_discovery_advertises_the_scopes_the_tenant_defined(demo: Tenant) -> None:
    job = settings_override_set(
        actor=SYSTEM,
        tenant=demo,
        section="oidc_scopes",
        values={"scopes": {"openid": ["sub"], "profile": ["name"], "employee": ["employee_no"]}},
    )
    job_run(job.pk)
    cache.clear()
    supported = Client().get("/t/mightybank/.well-known/openid-configuration").json()["scopes_supported"]
    assert "employee" in supported and "openid" in supported and "organization" in supported
