"""Tenant scoping in exactly one place.

A *tenant-owned* model is one with a ``tenant`` foreign key. Every queryset a
tenant administrator reaches through the admin (lists, search, change views,
autocomplete, foreign-key choices) goes through ``scope_queryset``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models import QuerySet

from tenants.models import Tenant

M = TypeVar("M", bound=models.Model)


def is_tenant_owned(model: type[models.Model]) -> bool:
    try:
        field = model._meta.get_field("tenant")
    except Exception:  # noqa: BLE001 - FieldDoesNotExist
        return False
    return bool(field.is_relation and field.related_model is Tenant)


def is_platform_user(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_superuser and user.tenant_id is None)


def scope_queryset(qs: QuerySet[M], user: Any) -> QuerySet[M]:
    """Rows of ``user``'s tenant only; everything for platform staff; nothing otherwise."""
    if is_platform_user(user):
        return qs
    tenant_id = getattr(user, "tenant_id", None) if user.is_authenticated else None
    if tenant_id is None:
        return qs.none()
    if qs.model is Tenant:
        return qs.filter(pk=tenant_id)
    if is_tenant_owned(qs.model):
        return qs.filter(tenant_id=tenant_id)
    return qs


def object_in_scope(obj: models.Model, user: Any) -> bool:
    if is_platform_user(user):
        return True
    tenant_id = getattr(user, "tenant_id", None)
    if tenant_id is None:
        return False
    if isinstance(obj, Tenant):
        return obj.pk == tenant_id
    if is_tenant_owned(type(obj)):
        return getattr(obj, "tenant_id", None) == tenant_id
    return True
