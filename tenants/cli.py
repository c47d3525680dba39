"""Helpers for management commands: clear errors and a non-zero exit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError

from tenants.models import Tenant

T = TypeVar("T")


def format_validation_error(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" if field != "__all__" else " ".join(messages)
            for field, messages in exc.message_dict.items()
        )
    return " ".join(exc.messages)


@contextmanager
def command_errors() -> Iterator[None]:
    """Turn service errors into ``CommandError`` (message on stderr, exit status 1)."""
    try:
        yield
    except ValidationError as exc:
        raise CommandError(format_validation_error(exc)) from exc
    except PermissionDenied as exc:
        raise CommandError(f"not allowed: {exc}") from exc


def tenant_or_error(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=(slug or "").strip().lower()).first()
    if tenant is None:
        raise CommandError(f"tenant: no tenant with slug '{slug}'. Create it with 'manage.py create_tenant {slug}'.")
    return tenant


def lookup_or_error(finder: Callable[[], T | None], message: str) -> T:
    found = finder()
    if found is None:
        raise CommandError(message)
    return found
