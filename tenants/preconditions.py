"""Conditional writes: a change applies only if the row is still as the caller last saw it.

A caller (the management API's ``If-Match``) says which entity tags it accepts and how to compute
the tag of the current state (``ExpectedETag``). The service locks the row, compares, and raises
``PreconditionFailed`` before writing anything when the row changed meanwhile; the API answers
412 for it (``idp.api.problems``). Locks are taken here, inside the writer's transaction, never in
a view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import models, transaction

M = TypeVar("M", bound=models.Model)
R = TypeVar("R")


class PreconditionFailed(Exception):
    """The state changed since the caller read it: nothing was written."""


@dataclass(frozen=True)
class ExpectedETag:
    """The entity tags a caller accepts (``"*"``: any) and how the current state's tag is computed."""

    accepted: frozenset[str]
    etag_of: Callable[[Any], str]

    @classmethod
    def from_header(cls, header: str, etag_of: Callable[[Any], str]) -> ExpectedETag:
        """An ``If-Match`` header (RFC 9110 §13.1.1); weak tags compare by their opaque part."""
        return cls(frozenset(tag.strip().removeprefix("W/") for tag in header.split(",")), etag_of)

    def check(self, current: Any) -> None:
        if "*" not in self.accepted and self.etag_of(current) not in self.accepted:
            raise PreconditionFailed


def lock_unchanged(row: M, *, expected_etag: ExpectedETag | None, related: Sequence[str] = ()) -> M:
    """``row`` again, locked (``FOR UPDATE`` of its own table), once it meets the expectation.

    Call it inside the writer's transaction; without an expectation it only locks.
    """
    manager = type(row)._default_manager
    locked = manager.select_for_update(of=("self",)).select_related(*related).get(pk=row.pk)
    if expected_etag is not None:
        expected_etag.check(locked)
    return locked


def write_if_unchanged(
    row: M, write: Callable[[M], R], *, expected_etag: ExpectedETag | None, related: Sequence[str] = ()
) -> R:
    """Lock ``row``, check the expectation, then ``write(locked_row)``, all in one transaction."""
    with transaction.atomic():
        return write(lock_unchanged(row, expected_etag=expected_etag, related=related))
