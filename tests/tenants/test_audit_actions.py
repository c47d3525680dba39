"""The audit trail's actions are a closed set (``tenants.audit.AuditAction``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from orgs.tree.selectors import ELIGIBILITY_EVENTS
from tenants.actors import SYSTEM
from tenants.audit import AuditAction, audit_record
from tenants.models import AuditEvent, Tenant

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_an_action_outside_the_enumeration_is_refused_and_nothing_is_written(demo: Tenant) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError, match="is not a valid AuditAction"):
        audit_record(actor=SYSTEM, tenant=demo, action="organisation.create")  # type: ignore[arg-type]
    assert AuditEvent.objects.count() == before
    event = audit_record(actor=SYSTEM, tenant=demo, action=AuditAction.ORGANIZATION_CREATE)
    assert AuditEvent.objects.get(pk=event.pk).action == "organization.create"  # stored as its plain value


def test_product_code_names_actions_only_through_the_enumeration() -> None:
    """No ``audit_record(..., action="...")`` with a bare string is left anywhere in the product code."""
    bare = []
    for package in ("tenants", "orgs", "idp"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "audit_record":
                    for kw in node.keywords:
                        if kw.arg == "action" and isinstance(kw.value, ast.Constant):
                            bare.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert bare == []


def test_the_eligibility_cache_listens_to_organization_events_only() -> None:
    assert AuditAction.MEMBERSHIP_ADD in ELIGIBILITY_EVENTS and AuditAction.SHARING_SET in ELIGIBILITY_EVENTS
    assert AuditAction.INVITATION_CREATE not in ELIGIBILITY_EVENTS  # a pending invitation changes no one's rights
    assert AuditAction.PASSWORD_RESET not in ELIGIBILITY_EVENTS
