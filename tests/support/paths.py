"""Paths of the checkout the tests use."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"  # logs, screenshots and traces a run leaves for a look afterwards
