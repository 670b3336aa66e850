"""Load CLI commands and demo steps that packages above geo311 contribute via entry points.

geo311 imports none of ``routing``, ``maps`` or ``api``; they register themselves in
``pyproject.toml`` under the ``geo311.commands`` and ``geo311.demo_steps`` groups.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any


def load_group(group: str) -> list[tuple[str, Callable[..., Any]]]:
    """Return ``(name, callable)`` of every entry point in ``group``, sorted by name."""
    found = sorted(entry_points(group=group), key=lambda ep: ep.name)
    return [(ep.name, ep.load()) for ep in found]
