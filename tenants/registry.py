"""The one registry style of Canopy: a part offers an extension point, other parts fill it from
their ``AppConfig.ready()``, and the part reads it without importing them.

Every extension point — login steps, factors, login options, logout participants, revokers,
session-ended listeners, upstream-session stores, issuer resolvers, organization hooks, job kinds,
organization admin pages, delegated admin scopes and checks, lockout policy resolvers — is a
:class:`Registry`. An entry has a name: the one given, else its ``name`` attribute, else its
dotted module path. Entries are read in registration order (or by ``priority``). Registering a
name again with the same object (or the same class or function, reloaded) replaces it quietly,
so ``ready()`` may run twice; another object under a taken name is a mistake and raises, unless
``replace=True`` says a deployment means to swap it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
E = TypeVar("E")


def _default_name(entry: Any) -> str:
    name = getattr(entry, "name", None)
    if isinstance(name, str) and name:
        return name
    qualname = getattr(entry, "__qualname__", None) or type(entry).__qualname__
    return f"{getattr(entry, '__module__', type(entry).__module__)}.{qualname}"


def _same(a: Any, b: Any) -> bool:
    if a is b or a == b:
        return True
    # The same class or function defined again (a module imported twice, a test reload).
    return getattr(a, "__module__", None) == getattr(b, "__module__", 0) and getattr(
        a, "__qualname__", None
    ) == getattr(b, "__qualname__", 0)


class Registry(Generic[T]):
    """Named entries of one kind; ``kind`` words the errors ("login step", "job kind", …)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, entry: E, *, name: str | None = None, replace: bool = False) -> E:
        """Add ``entry`` (returned, so this works as a decorator) under ``name``."""
        key = name or _default_name(entry)
        existing = self._entries.get(key)
        if existing is not None and not replace and not _same(existing, entry):
            raise ValueError(f"A {self.kind} named '{key}' is already registered ({_default_name(existing)}).")
        self._entries[key] = entry  # type: ignore[assignment]
        return entry

    def named(self, name: str) -> Callable[[E], E]:
        """Decorator registering under ``name`` and setting the entry's ``name`` attribute (classes)."""

        def decorator(entry: E) -> E:
            self.register(entry, name=name)
            entry.name = name  # type: ignore[attr-defined]
            return entry

        return decorator

    def unregister(self, name: str) -> None:
        """For tests and apps that replace an entry."""
        self._entries.pop(name, None)

    def get(self, name: str) -> T | None:
        return self._entries.get(name)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise LookupError(
                f"No {self.kind} named '{name}' is registered (see the AppConfig.ready() methods)."
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        """The entries in registration order (a copy: callers may iterate while others register)."""
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def all(self) -> dict[str, T]:
        """Name → entry, a copy."""
        return dict(self._entries)

    def by_priority(self) -> list[T]:
        """Lowest ``priority`` first, ties by name: for entries that declare one."""
        return sorted(self._entries.values(), key=lambda e: (getattr(e, "priority", 100), _default_name(e)))
