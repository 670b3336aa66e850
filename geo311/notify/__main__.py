"""``python -m geo311.notify run|dead|retry|...``: the notify commands without the entry point."""

from __future__ import annotations

import typer

from geo311.errors import Geo311Error
from geo311.notify.cli import notify_app


def main() -> None:
    """Run the ``geo311 notify`` commands."""
    try:
        notify_app()(prog_name="geo311 notify")
    except Geo311Error as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
