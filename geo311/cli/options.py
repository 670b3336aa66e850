"""The options every ``geo311`` command shares, defined once (core and plugin commands alike)."""

from __future__ import annotations

from typing import Annotated

import typer

from geo311.settings import Settings, get_settings

__all__ = ["DatabaseOption", "settings_with"]

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="SQLAlchemy URL (default: GEO311_DATABASE_URL, else geo311.db in the user data folder)",
    ),
]


def settings_with(database_url: str | None = None) -> Settings:
    """Return the settings, with the database URL overridden when given.

    Parameters
    ----------
    database_url
        A database URL from the command line.

    Returns
    -------
    Settings
        The settings to use.
    """
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings
