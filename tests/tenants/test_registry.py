"""The one registry style (tenants.registry.Registry) that every extension point uses."""

from __future__ import annotations

import pytest

from idp.flow.factors import FACTORS
from idp.flow.logout import LOGOUT_PARTICIPANTS
from idp.flow.revocation import REVOKERS, SESSION_ENDED
from idp.flow.steps import STEPS
from orgs.jobs.leases import JOB_KINDS
from orgs.tree.hooks import CREATED, MOVED
from tenants.registry import Registry


def first() -> str:
    return "first"


def second() -> str:
    return "second"


def test_entries_keep_registration_order_and_are_named_by_their_path() -> None:
    reg: Registry[object] = Registry("test hook")
    reg.register(second)
    reg.register(first)
    assert list(reg) == [second, first]
    assert reg.get(f"{__name__}.first") is first
    assert f"{__name__}.second" in reg
    assert len(reg) == 2


def test_registering_the_same_entry_again_is_quiet_and_another_under_its_name_refuses() -> None:
    reg: Registry[object] = Registry("test hook")
    reg.register(first, name="x")
    reg.register(first, name="x")  # ready() run twice
    assert list(reg) == [first]
    with pytest.raises(ValueError, match="A test hook named 'x' is already registered"):
        reg.register(second, name="x")
    reg.register(second, name="x", replace=True)
    assert reg["x"] is second


def test_named_classes_get_their_name_and_come_by_priority() -> None:
    reg: Registry[type] = Registry("test step")

    @reg.named("late")
    class Late:
        priority = 50

    @reg.named("early")
    class Early:
        priority = 10

    assert Late.name == "late"  # type: ignore[attr-defined]
    assert reg.by_priority() == [Early, Late]
    reg.unregister("late")
    assert reg.get("late") is None
    with pytest.raises(LookupError, match="No test step named 'late'"):
        reg["late"]


def test_the_extension_points_are_registries_filled_at_start_up() -> None:
    """Every extension point is a Registry, and the apps' ready() filled the ones Canopy uses."""
    for registry in (FACTORS, LOGOUT_PARTICIPANTS, REVOKERS, SESSION_ENDED, STEPS, JOB_KINDS, CREATED, MOVED):
        assert isinstance(registry, Registry)
        assert len(registry) > 0, registry.kind
    assert {"orgs.PropagationJob", "orgs.SharingJob"} <= set(JOB_KINDS.all())
    assert "password" in STEPS.all()
