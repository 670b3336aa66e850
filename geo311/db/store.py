"""The store: the only module that talks SQL (SQLAlchemy 2 Core).

SQLite is the embedded default; PostgreSQL 15 (psycopg 3) is the production store, reached
through the same URL setting. The tables are defined in :mod:`geo311.db.schema`; the schema is
created and upgraded by the Alembic revisions in :mod:`geo311.db.migrations`, run on open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# The staff application's and the notifications' tables live on the same metadata (so drop_all,
# ensure_indexes and the schema check see them); geo311.staff.store and geo311.notify query them.
from geo311.db import (
    notify_schema,  # noqa: E402, F401, I001
)
from geo311.db.schema import (
    REQUEST_COLUMNS,
    UTCDateTime,
    metadata,
    requests,
)

__all__ = [
    "REQUEST_COLUMNS",
    "Store",
    "UTCDateTime",
    "make_engine",
    "metadata",
]

# The version table of the pre-Alembic runner; adopted (and dropped) by Store.migrate.
LEGACY_VERSION_TABLE = "schema_version"
_ALEMBIC_RUN = threading.Lock()
# The global work-order grouping lock (PostgreSQL advisory key): a full rebuild takes it
# exclusive, every report's grouping shared (geo311.workorders.locks adds per-cell locks).
WORK_ORDERS_LOCK = 311003
# Grouping locks are scoped to the schema (two stores in one database never wait for each
# other): the first key of the two-key locks, and the high half of the global lock's key.
LOCK_SCOPE_SQL = "hashtext(current_schema())"
WORK_ORDERS_LOCK_SQL = f"(({LOCK_SCOPE_SQL})::bigint << 32) | {WORK_ORDERS_LOCK}"
# The transaction each store has open in this thread or task (Store.begin joins it).
_OPEN: ContextVar[Mapping[int, Connection]] = ContextVar(
    "geo311_open_transactions", default=MappingProxyType({})
)


def _normalise_url(url: str) -> str:
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _make_parent(url: str) -> None:
    """Create the folder of a SQLite database file (e.g. the user data folder) if missing."""
    database = sa.engine.make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def make_engine(url: str) -> Engine:
    """Create an engine for a database URL (SQLite file or PostgreSQL via psycopg 3).

    Parameters
    ----------
    url
        SQLAlchemy URL; ``postgresql://`` is read as ``postgresql+psycopg://``.

    Returns
    -------
    Engine
        The engine; SQLite gets WAL mode and foreign keys on.
    """
    url = _normalise_url(url)
    if url.startswith("sqlite"):
        _make_parent(url)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-131072")  # 128 MiB page cache: bulk imports
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

        return engine
    # No pre-ping: it costs a round trip on every checkout (every API request). A connection
    # the server dropped fails its statement once; SQLAlchemy then invalidates the pool, and
    # connections are renewed every half hour anyway.
    return sa.create_engine(url, pool_size=10, max_overflow=20, pool_recycle=1800)


class Store:
    """Access to the geo311 database.

    Parameters
    ----------
    url
        SQLAlchemy database URL.
    create
        Create or upgrade the schema on open (default True).
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self.url = _normalise_url(url)
        self.engine = make_engine(self.url)
        if create:
            self.migrate()

    @property
    def dialect(self) -> str:
        """Name of the SQL dialect (``sqlite`` or ``postgresql``)."""
        return self.engine.dialect.name

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------
    def migrate(self, *, attempts: int = 5) -> int:
        """Create or upgrade the schema to the newest Alembic revision.

        PostgreSQL serialises concurrent first starts with an advisory lock taken before
        anything is created. SQLite has no such lock for DDL: a process that loses the race
        finds the tables made by the winner and retries (up to ``attempts`` times). A store made
        by the pre-Alembic runner (a ``schema_version`` table) is stamped with the revision of
        its last step and upgraded from there. Indexes missing after an interrupted bulk load
        are recreated.

        Parameters
        ----------
        attempts
            How often SQLite retries a lost first-start race.

        Returns
        -------
        int
            The schema version after upgrading (the number of the head revision).
        """
        for attempt in range(attempts):
            try:
                self._upgrade()
                break
            except (sa.exc.OperationalError, sa.exc.IntegrityError):
                if self.dialect != "sqlite" or attempt == attempts - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))
        self.ensure_indexes()
        return self.schema_version()

    def _upgrade(self) -> None:
        # Alembic is imported when a store opens, not with geo311 (CLI and workers start faster).
        from alembic import command

        from geo311.db import migrations

        # Alembic's ``op`` and ``context`` are module-level proxies: one migration run per process
        # at a time (other processes are kept apart by the database, see migrate).
        with _ALEMBIC_RUN, self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(311311)"))
            config = migrations.alembic_config(conn)
            inspector = sa.inspect(conn)
            if not inspector.has_table("alembic_version") and inspector.has_table(
                LEGACY_VERSION_TABLE
            ):
                legacy = conn.execute(sa.text(f"SELECT max(version) FROM {LEGACY_VERSION_TABLE}"))
                version = legacy.scalar()
                if version:
                    command.stamp(config, migrations.revision_id(int(version)))
                conn.execute(sa.text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))
            command.upgrade(config, "head")

    def ensure_indexes(self) -> None:
        """Create any index of the schema that is missing (e.g. after an interrupted bulk load)."""
        with self.begin() as conn:
            for table in metadata.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Load many requests fast, rebuilding the request table's indexes afterwards.

        On SQLite the secondary indexes are dropped for the duration and rebuilt after
        (a sorted build beats per-row updates); other dialects load as usual.

        Primary and unique keys stay, so upserts and duplicate checks still hold. If the
        process dies inside, the next :meth:`migrate` recreates the missing indexes.
        """
        if self.dialect != "sqlite":
            yield
            return
        with self.begin() as conn:
            for index in requests.indexes:
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {index.name}")
        try:
            yield
        finally:
            self.ensure_indexes()

    def schema_version(self) -> int:
        """Return the applied schema version (0 for an empty database).

        The number of the store's Alembic revision, or for a store the pre-Alembic runner made
        and nothing has upgraded yet, the last step in its ``schema_version`` table.
        """
        from geo311.db import migrations

        return migrations.revision_number(self.schema_revision())

    def schema_revision(self) -> str | None:
        """Return the store's Alembic revision id (``None`` for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        from geo311.db import migrations

        with self.read() as conn:
            inspector = sa.inspect(conn)
            if inspector.has_table("alembic_version"):
                return MigrationContext.configure(conn).get_current_revision()
            if inspector.has_table(LEGACY_VERSION_TABLE):
                sql = f"SELECT max(version) FROM {LEGACY_VERSION_TABLE}"
                version = conn.execute(sa.text(sql)).scalar()
                return None if version is None else migrations.revision_id(int(version))
            return None

    def drop_all(self) -> None:
        """Drop every geo311 table and the revision stamp (tests and ``geo311 demo --fresh``)."""
        metadata.drop_all(self.engine)
        with self.begin() as conn:
            for name in ("alembic_version", LEGACY_VERSION_TABLE):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """Open a transaction; commits on success, rolls back on error.

        A unit of work: inside another ``begin()`` of this store in the same thread or task,
        the call joins that transaction (no savepoint) and so does every read of the store
        (:meth:`read`), so that a change and its audit row commit or roll back together, and
        reads inside see the change. An error inside rolls back the whole outer transaction.
        """
        joined = _OPEN.get().get(id(self))
        if joined is not None:
            yield joined
            return
        with self.engine.begin() as conn:
            token = _OPEN.set({**_OPEN.get(), id(self): conn})
            try:
                yield conn
            finally:
                _OPEN.reset(token)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Return a connection to read with: the open transaction's (:meth:`begin`), or a new one."""
        joined = _OPEN.get().get(id(self))
        if joined is not None:
            yield joined
            return
        with self.engine.connect() as conn:
            yield conn
