"""Property-based run of the OpenAPI schema against the WSGI app: no 5xx, documented shapes.

Bounded examples per operation (``CANOPY_API_FUZZ_EXAMPLES``, default 15), as the tenant
administrator and as a delegated owner, inside one test transaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from idp.wsgi import application
from tests.support.api import api_token
from tests.support.lookups import user

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("CANOPY_API_FUZZ_EXAMPLES", "15"))


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """Like django.test.Client: the WSGI app must not close the test transaction's connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.parametrize("who", ["sam", "alma"])
def test_no_operation_answers_5xx(demo, keep_connection, who: str) -> None:
    token = api_token(tenant=demo, user=user(demo, who))
    schema = schemathesis.openapi.from_wsgi("/t/mightybank/api/schema/?format=json", application)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 12
    failures = []
    statuses: set[int] = set()
    for operation in operations:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            statuses.add(response.status_code)
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.body, response.status_code))
            if response.status_code >= 400:
                headers = {k.lower(): v for k, v in response.headers.items()}
                assert headers["content-type"][0].startswith("application/problem+json"), (
                    case.method,
                    case.formatted_path,
                    response.status_code,
                )

        run()
    assert not failures, failures
    assert 200 in statuses and 401 not in statuses, statuses  # the token was used and accepted
