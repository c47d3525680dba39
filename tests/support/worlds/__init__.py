"""The isolation worlds: each module here adds its app's tenant-owned rows to a world.

The admin isolation matrix fails for any tenant-owned model without rows, so an app that adds such a
model adds a module here with ``extend_world(*, tenant, member, organization)``; they run in name order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path


def world_extensions() -> list[Callable[..., None]]:
    """The ``extend_world`` of every module of this package, in name order."""
    modules = sorted(p.stem for p in Path(__file__).parent.glob("*.py") if p.stem != "__init__")
    return [importlib.import_module(f"{__name__}.{name}").extend_world for name in modules]
