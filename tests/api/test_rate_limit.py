"""Rate limits of the management API (``TenantAPIView.check_throttles`` / ``check_address_rate``).

Real Redis cache, real views: each test sets tiny limits with the ``settings`` fixture.
"""

from __future__ import annotations

import time

import pytest

from tests.support.api import ApiClient, api_token, assert_problem

pytestmark = pytest.mark.django_db


def _exhaust(client: ApiClient, path: str, count: int) -> None:
    for _ in range(count):
        assert client.get(path).status_code == 200


def _assert_throttled(response) -> dict:
    body = assert_problem(response, 429)
    assert body["type"].endswith("/throttled")
    assert body["title"] == "Too many requests."
    assert "Try again in" in body["detail"]
    assert int(response["Retry-After"]) > 0
    return body


def test_a_principal_over_its_limit_gets_429_with_retry_after_and_others_are_unaffected(
    settings, world_a, world_b
) -> None:
    settings.CANOPY_API_RATE_LIMIT = "3/60"
    admin = ApiClient(api_token(tenant=world_a.tenant, user=world_a.admin), world_a.tenant.slug)
    _exhaust(admin, "organizations/", 3)
    response = admin.get("organizations/")
    body = _assert_throttled(response)
    assert response["Retry-After"] == "60"
    assert body["detail"] == "You sent too many requests. Try again in 60 seconds."
    # A second token of the same user is the same principal: still refused.
    again = ApiClient(api_token(tenant=world_a.tenant, user=world_a.admin), world_a.tenant.slug)
    _assert_throttled(again.get("organizations/"))
    # Another principal of the same tenant (the machine client) is unaffected.
    machine = ApiClient(api_token(tenant=world_a.tenant, user=None), world_a.tenant.slug)
    assert machine.get("organizations/").status_code == 200
    # The same username in another tenant is another principal there.
    other = ApiClient(api_token(tenant=world_b.tenant, user=world_b.admin), world_b.tenant.slug)
    _exhaust(other, "organizations/", 3)


def test_writes_have_their_own_lower_limit(settings, world_a) -> None:
    settings.CANOPY_API_RATE_LIMIT = "50/60"
    settings.CANOPY_API_WRITE_RATE_LIMIT = "2/60"
    admin = ApiClient(api_token(tenant=world_a.tenant, user=world_a.admin), world_a.tenant.slug)
    for n in range(2):
        response = admin.post("organizations/", {"identifier": f"new-{n}", "display_name": f"New {n}"})
        assert response.status_code == 201, response.content
    response = admin.post("organizations/", {"identifier": "new-2", "display_name": "New 2"})
    body = _assert_throttled(response)
    assert body["detail"].startswith("You sent too many changes.")
    assert not world_a.tenant.organizations.filter(identifier="new-2").exists()
    assert admin.get("organizations/").status_code == 200  # reads are still within their limit


def test_the_tenant_limit_covers_all_its_callers_and_no_other_tenant(settings, world_a, world_b) -> None:
    settings.CANOPY_API_TENANT_RATE_LIMIT = "4/60"
    admin = ApiClient(api_token(tenant=world_a.tenant, user=world_a.admin), world_a.tenant.slug)
    machine = ApiClient(api_token(tenant=world_a.tenant, user=None), world_a.tenant.slug)
    _exhaust(admin, "organizations/", 2)
    _exhaust(machine, "organizations/", 2)
    body = _assert_throttled(admin.get("organizations/"))
    assert body["detail"].startswith("This tenant's API received too many requests.")
    _assert_throttled(machine.get("organizations/"))
    other = ApiClient(api_token(tenant=world_b.tenant, user=world_b.admin), world_b.tenant.slug)
    _exhaust(other, "organizations/", 4)


def test_requests_without_valid_credentials_are_limited_per_address(settings, world_a, world_b) -> None:
    settings.CANOPY_API_ANON_RATE_LIMIT = "3/60"
    nobody = ApiClient(None, world_a.tenant.slug)
    guesser = ApiClient("not-a-token", world_a.tenant.slug)
    assert nobody.get("organizations/").status_code == 401
    assert nobody.get("organizations/").status_code == 401
    assert guesser.get("organizations/").status_code == 401  # wrong tokens count too
    body = _assert_throttled(nobody.get("organizations/"))
    assert "without valid credentials" in body["detail"]
    _assert_throttled(guesser.get("organizations/"))
    # Valid tokens are limited per principal, not by the address's failures; another tenant is apart.
    admin = ApiClient(api_token(tenant=world_a.tenant, user=world_a.admin), world_a.tenant.slug)
    assert admin.get("organizations/").status_code == 200
    assert ApiClient(None, world_b.tenant.slug).get("organizations/").status_code == 401


def test_the_window_resets(settings, world_a) -> None:
    settings.CANOPY_API_RATE_LIMIT = "2/1"
    admin = ApiClient(api_token(tenant=world_a.tenant, user=world_a.admin), world_a.tenant.slug)
    _exhaust(admin, "organizations/", 2)
    response = admin.get("organizations/")
    _assert_throttled(response)
    assert response["Retry-After"] == "1"
    time.sleep(1.2)
    _exhaust(admin, "organizations/", 2)
    _assert_throttled(admin.get("organizations/"))


def test_the_openapi_document_lists_429_on_every_operation(world_a) -> None:
    from django.test import Client

    schema = Client().get(f"/t/{world_a.tenant.slug}/api/schema/?format=json").json()
    operations = [op for item in schema["paths"].values() for op in item.values() if isinstance(op, dict)]
    assert operations
    for operation in operations:
        too_many = operation["responses"]["429"]
        assert "Retry-After" in too_many["headers"]
        assert "application/problem+json" in too_many["content"]
    assert "Problem" in schema["components"]["schemas"]
