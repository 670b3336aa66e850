"""Commands and demo steps that the api package adds to the geo311 CLI."""

from __future__ import annotations

from typing import Any

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the geo311 CLI."""


