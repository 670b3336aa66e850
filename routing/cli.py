"""Commands and demo steps that the routing package adds to the geo311 CLI."""

from __future__ import annotations

from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the geo311 CLI."""


def demo_step(ctx: Any) -> None:
    """Run this package's part of ``geo311 demo``."""
