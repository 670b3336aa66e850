"""The ``geo311`` command line: one Typer app (:mod:`geo311.cli.app`), its demo and user commands."""

from __future__ import annotations


def main() -> None:
    """Run the ``geo311`` command line (:func:`geo311.cli.app.main`)."""
    from geo311.cli.app import main as run

    run()
