"""Schema migrations of the geo311 store, as Alembic revisions shipped inside the package.

:meth:`geo311.db.store.Store.migrate` runs them on open, on the store's own connection (so the
PostgreSQL advisory lock it holds covers them). Revision ids are zero-padded step numbers
(``0001``, ``0002``, ...): the number is the schema version a store reports, and it continues
the numbering of the version table (``schema_version``) that stores made before Alembic keep.

A schema change is a new file under ``versions/`` (``alembic revision`` with
``script_location`` pointing here, or by hand) plus the matching change in
:mod:`geo311.db.schema`; an applied revision is never edited.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from geo311.errors import Geo311Error

SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """Return the Alembic configuration of geo311's migrations.

    Parameters
    ----------
    connection
        Open connection the migrations run on (``env.py`` refuses to run without one).

    Returns
    -------
    Config
        A configuration with no ``.ini`` file, pointing at this package's scripts.
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """Return the newest revision id (the one a fully upgraded store is stamped with)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships its revisions
        raise Geo311Error(f"no Alembic revisions under {SCRIPT_LOCATION / 'versions'}")
    return head


def revision_number(revision: str | None) -> int:
    """Return the schema version a revision id stands for (0 for none).

    Parameters
    ----------
    revision
        An id such as ``"0003"``, or ``None`` for a store with no revision applied.
    """
    return 0 if revision is None else int(revision)


def revision_id(version: int) -> str:
    """Return the revision id of a schema version (the inverse of :func:`revision_number`)."""
    return f"{version:04d}"
