"""A Celery round trip through the real Redis broker and a worker subprocess (fixtures in conftest.py)."""

from __future__ import annotations

import pytest

from tenants.actors import SYSTEM
from tenants.models import SigningKey
from tenants.services import tenant_create
from tenants.tasks import rotate_tenant_keys

pytestmark = pytest.mark.celery_worker


@pytest.mark.django_db(transaction=True)
def test_key_rotation_round_trips_through_redis_and_a_worker_process(real_broker: str) -> None:
    tenant = tenant_create(actor=SYSTEM, slug="celery-rt")
    old = set(SigningKey.objects.filter(tenant=tenant).values_list("kid", flat=True))

    result = rotate_tenant_keys.apply_async(args=(tenant.pk,), queue=real_broker)
    new_kids = result.get(timeout=60)

    # The worker, another process, wrote to the same database.
    assert len(new_kids) == 2 and not set(new_kids) & old
    assert set(SigningKey.objects.filter(tenant=tenant, status="active").values_list("kid", flat=True)) == set(new_kids)
    assert set(SigningKey.objects.filter(tenant=tenant, status="retired").values_list("kid", flat=True)) == old
    assert result.successful()


@pytest.mark.django_db(transaction=True)
def test_a_job_for_a_vanished_tenant_is_a_harmless_no_op(real_broker: str) -> None:
    result = rotate_tenant_keys.apply_async(args=(987654321,), queue=real_broker)
    assert result.get(timeout=60) == []
