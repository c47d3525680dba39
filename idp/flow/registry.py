"""Classes registered under a unique name: the login steps and the logout participants.

Apps extend the journey by registering a class with a decorator; registering the same name
twice is a mistake unless it is the same class again (a module imported twice, a reload).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

C = TypeVar("C", bound=type[Any])


class NamedRegistry(Generic[C]):
    """Named classes, each given its ``name`` on registration; ``kind`` words the duplicate error."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, C] = {}

    def register(self, name: str) -> Callable[[C], C]:
        def decorator(cls: C) -> C:
            existing = self._classes.get(name)
            if existing is not None and existing.__qualname__ != cls.__qualname__:
                raise ValueError(f"A {self.kind} named '{name}' is already registered ({existing.__qualname__}).")
            cls.name = name
            self._classes[name] = cls
            return cls

        return decorator

    def unregister(self, name: str) -> None:
        self._classes.pop(name, None)

    def get(self, name: str) -> C | None:
        return self._classes.get(name)

    def __getitem__(self, name: str) -> C:
        return self._classes[name]

    def all(self) -> dict[str, C]:
        """A copy: callers may iterate while others register."""
        return dict(self._classes)

    def by_priority(self) -> list[C]:
        """Lowest ``priority`` first, ties by name: the order the journey consults them."""
        return sorted(self._classes.values(), key=lambda c: (c.priority, c.name))
