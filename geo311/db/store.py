"""The store: the only module that talks SQL (SQLAlchemy 2 Core).

SQLite is the embedded default; PostgreSQL 15 (psycopg 3) is the production store, reached
through the same URL setting. The tables are defined in :mod:`geo311.db.schema`; the schema is
created and upgraded by the Alembic revisions in :mod:`geo311.db.migrations`, run on open.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# The staff application's and the notifications' tables live on the same metadata (so drop_all,
# ensure_indexes and the schema check see them); geo311.staff.store and geo311.notify query them.
from geo311.db import (
    notify_schema,  # noqa: E402, F401, I001
)
from geo311.db.schema import (
    REQUEST_COLUMNS,
    TIME_COLUMN_NAMES,
    UTCDateTime,
    import_rejects,
    import_runs,
    metadata,
    request_updates,
    requests,
    work_orders,
)
from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.model import ServiceRequest, WorkOrder

__all__ = [
    "REQUEST_COLUMNS",
    "Store",
    "UTCDateTime",
    "make_engine",
    "metadata",
    "request_to_row",
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
# Statements of the grouping path built once (each POST runs them; building costs more CPU
# than running them).
_WO = work_orders.c
_INSERT_WORK_ORDERS = work_orders.insert().returning(
    _WO.work_order_id, sort_by_parameter_order=True
)
_LINK_REQUESTS = (
    requests.update()
    .where(requests.c.service_request_id == sa.bindparam("_id"))
    .values(work_order_id=sa.bindparam("_wo"))
)
_ANCHORS_NEAR = (
    sa.select(
        _WO.work_order_id,
        _WO.anchor_lat,
        _WO.anchor_lon,
        _WO.closed_datetime,
        _WO.opened,
        _WO.failed_repair_of,
        _WO.status,
    )
    .where(_WO.service_group == sa.bindparam("group"))
    .where(
        _WO.anchor_lat.between(sa.bindparam("min_lat"), sa.bindparam("max_lat")),
        _WO.anchor_lon.between(sa.bindparam("min_lon"), sa.bindparam("max_lon")),
    )
    .where(_WO.opened <= sa.bindparam("opened_until"))
    .where(
        sa.or_(_WO.closed_datetime.is_(None), _WO.closed_datetime >= sa.bindparam("closed_since"))
    )
    .order_by(_WO.work_order_id)
)
_MEMBERS = (
    sa.select(requests)
    .where(requests.c.work_order_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(requests.c.requested_datetime, requests.c.service_request_id)
)
# The transaction each store has open in this thread or task (Store.begin joins it).
_OPEN: ContextVar[Mapping[int, Connection]] = ContextVar(
    "geo311_open_transactions", default=MappingProxyType({})
)


@lru_cache(maxsize=32)
def _update_work_orders(cols: tuple[str, ...]) -> sa.Update:
    # UPDATE work_orders SET <cols> WHERE work_order_id = :_id, built once per column set.
    return (
        work_orders.update()
        .where(_WO.work_order_id == sa.bindparam("_id"))
        .values({c: sa.bindparam(c) for c in cols})
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


def _row_to_request(row: sa.Row[Any]) -> ServiceRequest:
    m = row._mapping
    return ServiceRequest(
        service_request_id=m["service_request_id"],
        service_code=m["service_code"],
        status=m["status"],
        requested_datetime=m["requested_datetime"],
        source=m["source"],
        source_id=m["source_id"],
        service_name=m["service_name"],
        status_notes=m["status_notes"],
        description=m["description"],
        updated_datetime=m["updated_datetime"],
        expected_datetime=m["expected_datetime"],
        sla_target_datetime=m["sla_target_datetime"],
        closed_datetime=m["closed_datetime"],
        address=m["address"],
        zipcode=m["zipcode"],
        lat=m["lat"],
        long=m["lon"],
        media_url=m["media_url"],
        channel=m["channel"],
        neighborhood=m["neighborhood"],
        closure_category=m["closure_category"],
        source_type=m["source_type"],
        needs_geocoding=bool(m["needs_geocoding"]),
        geocode_match_type=m["geocode_match_type"],
        geocode_score=m["geocode_score"],
        work_order_id=m["work_order_id"],
    )


def request_to_row(req: ServiceRequest, *, row_hash: str = "") -> dict[str, Any]:
    """Return the table row (a dict of column values) for a service request.

    Parameters
    ----------
    req
        The request.
    row_hash
        Hash of the source record, used to tell changed re-imports from unchanged ones.

    Returns
    -------
    dict
        Column name to value.
    """
    return {
        "service_request_id": req.service_request_id,
        "source": req.source,
        "source_id": req.source_id,
        "service_code": req.service_code,
        "service_name": req.service_name,
        "source_type": req.source_type,
        "status": req.status,
        "status_notes": req.status_notes,
        "description": req.description,
        "requested_datetime": req.requested_datetime,
        "updated_datetime": req.updated_datetime,
        "expected_datetime": req.expected_datetime,
        "sla_target_datetime": req.sla_target_datetime,
        "closed_datetime": req.closed_datetime,
        "address": req.address,
        "zipcode": req.zipcode,
        "lat": req.lat,
        "lon": req.long,
        "media_url": req.media_url,
        "channel": req.channel,
        "neighborhood": req.neighborhood,
        "closure_category": req.closure_category,
        "needs_geocoding": req.needs_geocoding,
        "geocode_match_type": req.geocode_match_type,
        "geocode_score": req.geocode_score,
        "work_order_id": req.work_order_id,
        "row_hash": row_hash,
    }


def _row_to_work_order(row: sa.Row[Any], member_ids: Sequence[str] = ()) -> WorkOrder:
    m = row._mapping
    return WorkOrder(
        work_order_id=m["work_order_id"],
        service_group=m["service_group"],
        service_code=m["service_code"],
        lat=m["lat"],
        lon=m["lon"],
        opened=m["opened"],
        sla_due=m["sla_due"],
        report_count=m["report_count"],
        status=m["status"],
        member_ids=tuple(member_ids),
        address=m["address"],
        closed_datetime=m["closed_datetime"],
        closure_category=m["closure_category"],
        status_notes=m["status_notes"],
        failed_repair_of=m["failed_repair_of"],
    )


def _select_requests(
    stmt: sa.Select[Any],
    *,
    ids: Sequence[str] | None = None,
    service_codes: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    needs_geocoding: bool | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    work_order_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
) -> sa.Select[Any]:
    if ids is not None:
        stmt = stmt.where(requests.c.service_request_id.in_(list(ids)))
    if service_codes is not None:
        stmt = stmt.where(requests.c.service_code.in_(list(service_codes)))
    if statuses is not None:
        stmt = stmt.where(requests.c.status.in_(list(statuses)))
    if start is not None:
        stmt = stmt.where(requests.c.requested_datetime >= start)
    if end is not None:
        stmt = stmt.where(requests.c.requested_datetime < end)
    if needs_geocoding is not None:
        stmt = stmt.where(requests.c.needs_geocoding == needs_geocoding)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        stmt = stmt.where(
            requests.c.lat.between(min_lat, max_lat), requests.c.lon.between(min_lon, max_lon)
        )
    if work_order_id is not None:
        stmt = stmt.where(requests.c.work_order_id == work_order_id)
    order = requests.c.requested_datetime
    stmt = stmt.order_by(order.desc() if newest_first else order, requests.c.service_request_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return stmt


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

    # -- service requests --------------------------------------------------------------
    def existing_hashes(
        self, conn: Connection, source: str, source_ids: Sequence[str]
    ) -> dict[str, tuple[str, str]]:
        """Return ``source_id -> (service_request_id, row_hash)`` for ids already stored.

        Parameters
        ----------
        conn
            Open connection (inside the import's transaction).
        source
            Source system.
        source_ids
            Ids to look up.

        Returns
        -------
        dict
            The ids found.
        """
        found: dict[str, tuple[str, str]] = {}
        mark = "?" if self.dialect == "sqlite" else "%s"
        for start in range(0, len(source_ids), 5000):
            chunk = list(source_ids[start : start + 5000])
            sql = (
                "SELECT source_id, service_request_id, row_hash FROM service_requests "
                f"WHERE source = {mark} AND source_id IN ({', '.join([mark] * len(chunk))})"
            )
            for sid, rid, h in conn.exec_driver_sql(sql, (source, *chunk)):
                found[sid] = (rid, h)
        return found

    def insert_request_frame(self, conn: Connection, frame: pd.DataFrame) -> None:
        """Insert new requests from a frame of :data:`REQUEST_COLUMNS` in one executemany.

        The fast path of the import: values go to the driver as tuples, with the time
        columns (tz-aware UTC) converted once per column for the dialect.

        Parameters
        ----------
        conn
            Open connection inside the batch's transaction.
        frame
            One row per new request.
        """
        if frame.empty:
            return
        columns: list[list[Any]] = []
        for name in REQUEST_COLUMNS:
            col = frame[name]
            if name in TIME_COLUMN_NAMES:
                utc = pd.to_datetime(col, utc=True)
                if self.dialect == "sqlite":
                    # SQLAlchemy's SQLite DATETIME text, "YYYY-MM-DD HH:MM:SS.ffffff", so the
                    # stored text compares and reads back like rows written through the ORM.
                    naive = utc.dt.tz_localize(None).to_numpy().astype("datetime64[us]")
                    iso = pa.array(np.datetime_as_string(naive, unit="us"), type=pa.string())
                    text = pc.replace_substring(
                        iso, pattern="T", replacement=" ", max_replacements=1
                    )
                    missing = utc.isna().to_numpy()
                    columns.append(
                        [None if m else t for t, m in zip(text.to_pylist(), missing, strict=True)]
                    )
                else:
                    values = utc.astype(object).where(utc.notna(), None).tolist()
                    columns.append([v.to_pydatetime() if v is not None else None for v in values])
            elif name == "needs_geocoding":
                columns.append([bool(v) for v in col.tolist()])
            else:
                columns.append(col.astype(object).where(col.notna(), None).tolist())
        marks = ", ".join(["?" if self.dialect == "sqlite" else "%s"] * len(REQUEST_COLUMNS))
        sql = f"INSERT INTO service_requests ({', '.join(REQUEST_COLUMNS)}) VALUES ({marks})"
        conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))

    def insert_request_rows(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert new request rows (dicts from :func:`request_to_row`) in one statement."""
        if rows:
            conn.execute(requests.insert(), list(rows))

    def update_request_rows(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Update stored requests from re-imported source rows, keyed by ``service_request_id``.

        Fields geo311 owns (work order link) are kept, and so is the expected time of a
        request a published plan gave an ETA (the City's due time lands in its SLA target).
        """
        if not rows:
            return
        cols = [c for c in REQUEST_COLUMNS if c not in ("service_request_id", "work_order_id")]
        values: dict[str, Any] = {c: sa.bindparam(c) for c in cols}
        values["expected_datetime"] = sa.case(
            (
                requests.c.expected_plan_id.is_(None),
                sa.bindparam("expected_datetime", type_=requests.c.expected_datetime.type),
            ),
            else_=requests.c.expected_datetime,
        )
        stmt = (
            requests.update()
            .where(requests.c.service_request_id == sa.bindparam("_id"))
            .values(values)
        )
        conn.execute(
            stmt, [{"_id": r["service_request_id"], **{c: r[c] for c in cols}} for r in rows]
        )

    def add_request(
        self, req: ServiceRequest, *, also: Callable[[Connection], object] | None = None
    ) -> ServiceRequest:
        """Store one new request (e.g. from an Open311 POST) and return it.

        ``also(conn)`` runs in the same transaction (e.g. the reporter's contact and the
        acknowledgement in the notification outbox: stored together or not at all).

        Raises
        ------
        ConflictError
            If a request with the same id, or the same source and source id, is stored already
            (the database's integrity error is its ``__cause__``).
        """
        try:
            with self.begin() as conn:
                conn.execute(requests.insert(), [request_to_row(req)])
                if also is not None:
                    also(conn)
        except sa.exc.IntegrityError as exc:
            raise ConflictError(
                f"service_request_id {req.service_request_id!r} (source {req.source!r}, "
                f"source_id {req.source_id!r}) is stored already; send a new id or update "
                "the stored request"
            ) from exc
        return req

    def get_request(self, service_request_id: str) -> ServiceRequest:
        """Return one request by its Open311 id.

        Raises
        ------
        NotFoundError
            If no request has this id.
        """
        with self.read() as conn:
            row = conn.execute(
                sa.select(requests).where(requests.c.service_request_id == service_request_id)
            ).first()
        if row is None:
            raise NotFoundError(f"service_request_id {service_request_id!r} does not exist")
        return _row_to_request(row)

    def query_requests(
        self,
        *,
        ids: Sequence[str] | None = None,
        service_codes: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        needs_geocoding: bool | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        work_order_id: int | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[ServiceRequest]:
        """Return requests matching every given filter.

        Parameters
        ----------
        ids, service_codes, statuses
            Keep only these request ids, services or state codes.
        start, end
            Keep requests with ``start <= requested_datetime < end``.
        needs_geocoding
            Keep only rows still (or no longer) needing geocoding.
        bbox
            Keep only requests inside this box.
        work_order_id
            Keep only members of this work order.
        limit, offset
            Paging.
        newest_first
            Order by requested time descending instead of ascending.

        Returns
        -------
        list of ServiceRequest
            The requests, ordered by requested time (then id).
        """
        stmt = _select_requests(
            sa.select(requests),
            ids=ids,
            service_codes=service_codes,
            statuses=statuses,
            start=start,
            end=end,
            needs_geocoding=needs_geocoding,
            bbox=bbox,
            work_order_id=work_order_id,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
        with self.read() as conn:
            return [_row_to_request(r) for r in conn.execute(stmt).all()]

    def query_request_rows(
        self,
        columns: Sequence[str],
        *,
        ids: Sequence[str] | None = None,
        service_codes: Sequence[str] | None = None,
        statuses: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[tuple[Any, ...]]:
        """Return only some columns of the requests :meth:`query_requests` would return.

        The fast path for read-heavy callers (the Open311 ``GET requests``): no
        :class:`ServiceRequest` is built; times are aware UTC datetimes as everywhere.

        Parameters
        ----------
        columns
            Column names of ``service_requests`` (``lon`` for the longitude), in output order.
        ids, service_codes, statuses, start, end, limit, offset, newest_first
            As in :meth:`query_requests`.

        Returns
        -------
        list of tuple
            One tuple per request, values in the order of ``columns``.

        Raises
        ------
        InputError
            If a column name is not a column of ``service_requests``.
        """
        unknown = [c for c in columns if c not in requests.c]
        if unknown:
            raise InputError(
                f"columns: {unknown} are not columns of service_requests; use names from "
                "geo311.db.store.REQUEST_COLUMNS"
            )
        stmt = _select_requests(
            sa.select(*(requests.c[c] for c in columns)),
            ids=ids,
            service_codes=service_codes,
            statuses=statuses,
            start=start,
            end=end,
            limit=limit,
            offset=offset,
            newest_first=newest_first,
        )
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(stmt).all()]

    def count_requests(self, *, source: str | None = None) -> int:
        """Return how many requests are stored (optionally from one source)."""
        stmt = sa.select(sa.func.count()).select_from(requests)
        if source is not None:
            stmt = stmt.where(requests.c.source == source)
        with self.read() as conn:
            return int(conn.execute(stmt).scalar_one())

    def update_request_fields(self, service_request_id: str, **values: Any) -> None:
        """Change some columns of one stored request.

        Raises
        ------
        NotFoundError
            If no request has this id.
        """
        if "long" in values:
            values["lon"] = values.pop("long")
        with self.begin() as conn:
            if self.update_requests_in(conn, [service_request_id], **values) == 0:
                raise NotFoundError(f"service_request_id {service_request_id!r} does not exist")

    def set_geocodes(self, results: Iterable[dict[str, Any]]) -> int:
        """Write geocoding results to the stored requests.

        Parameters
        ----------
        results
            Dicts with ``service_request_id``, ``lat``, ``lon``, ``geocode_match_type``,
            ``geocode_score`` and ``needs_geocoding``.

        Returns
        -------
        int
            Number of rows written.
        """
        rows = [dict(r, _id=r["service_request_id"]) for r in results]
        if not rows:
            return 0
        stmt = (
            requests.update()
            .where(requests.c.service_request_id == sa.bindparam("_id"))
            .values(
                lat=sa.bindparam("lat"),
                lon=sa.bindparam("lon"),
                geocode_match_type=sa.bindparam("geocode_match_type"),
                geocode_score=sa.bindparam("geocode_score"),
                needs_geocoding=sa.bindparam("needs_geocoding"),
            )
        )
        with self.begin() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def requests_frame_rows(self, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """Return the given columns of every stored request as tuples (for metrics and maps)."""
        cols = [requests.c[c] for c in columns]
        with self.read() as conn:
            return [tuple(r) for r in conn.execute(sa.select(*cols))]

    # -- import bookkeeping ------------------------------------------------------------
    def start_import_run(self, conn: Connection, path: str) -> int:
        """Record the start of an import and return its id."""
        res = conn.execute(
            import_runs.insert().values(path=path, started_at=datetime.now(UTC), summary="{}")
        )
        return int(res.inserted_primary_key[0])  # type: ignore[index]

    def finish_import_run(self, import_run_id: int, summary: dict[str, Any]) -> None:
        """Store an import's summary."""
        with self.begin() as conn:
            conn.execute(
                import_runs.update()
                .where(import_runs.c.import_run_id == import_run_id)
                .values(finished_at=datetime.now(UTC), summary=json.dumps(summary, default=str))
            )

    def add_rejects(
        self, conn: Connection, import_run_id: int, rejects: Sequence[dict[str, Any]]
    ) -> None:
        """Keep rejected rows with their reason (dicts: row_number, field, reason, raw)."""
        if rejects:
            conn.execute(
                import_rejects.insert(), [dict(r, import_run_id=import_run_id) for r in rejects]
            )

    def rejects_of(self, import_run_id: int) -> list[dict[str, Any]]:
        """Return the rejected rows of one import run."""
        with self.read() as conn:
            rows = conn.execute(
                sa.select(import_rejects)
                .where(import_rejects.c.import_run_id == import_run_id)
                .order_by(import_rejects.c.row_number)
            )
            return [dict(r._mapping) for r in rows]

    # -- plans (JSON documents produced by routing; geo311 only keeps them) -------------
    # -- work orders (rows; the rules live in geo311.workorders.grouping) -------------------------
    def get_work_order(self, work_order_id: int) -> WorkOrder:
        """Return one work order with its member ids.

        Raises
        ------
        NotFoundError
            If no work order has this id.
        """
        with self.read() as conn:
            row = conn.execute(
                sa.select(work_orders).where(work_orders.c.work_order_id == work_order_id)
            ).first()
            if row is None:
                raise NotFoundError(f"work order {work_order_id} does not exist")
            members = conn.execute(
                sa.select(requests.c.service_request_id)
                .where(requests.c.work_order_id == work_order_id)
                .order_by(requests.c.requested_datetime)
            ).scalars()
            return _row_to_work_order(row, list(members))

    def query_work_orders(
        self,
        *,
        statuses: Sequence[str] | None = None,
        groups: Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
        limit: int | None = None,
    ) -> list[WorkOrder]:
        """Return work orders (with member ids) matching every given filter, oldest first."""
        stmt = sa.select(work_orders)
        if statuses is not None:
            stmt = stmt.where(work_orders.c.status.in_(list(statuses)))
        if groups is not None:
            stmt = stmt.where(work_orders.c.service_group.in_(list(groups)))
        if ids is not None:
            stmt = stmt.where(work_orders.c.work_order_id.in_(list(ids)))
        stmt = stmt.order_by(work_orders.c.opened, work_orders.c.work_order_id)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.read() as conn:
            rows = list(conn.execute(stmt))
            wo_ids = [r._mapping["work_order_id"] for r in rows]
            members: dict[int, list[str]] = {i: [] for i in wo_ids}
            for start in range(0, len(wo_ids), 5000):
                chunk = wo_ids[start : start + 5000]
                for wid, rid in conn.execute(
                    sa.select(requests.c.work_order_id, requests.c.service_request_id)
                    .where(requests.c.work_order_id.in_(chunk))
                    .order_by(requests.c.requested_datetime)
                ):
                    members[wid].append(rid)
        return [_row_to_work_order(r, members[r._mapping["work_order_id"]]) for r in rows]

    def lock_work_orders(self, conn: Connection) -> None:
        """Exclude every other work-order grouping until this transaction ends (a rebuild).

        PostgreSQL: the global grouping lock, exclusive (reports take it shared, see
        :mod:`geo311.workorders.locks`). SQLite serialises writers itself; a no-op there.
        """
        if self.dialect == "postgresql":
            conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({WORK_ORDERS_LOCK_SQL})"))

    def clear_work_orders(self, conn: Connection) -> None:
        """Delete every work order and unlink every request (before a full rebuild)."""
        conn.execute(
            requests.update()
            .where(requests.c.work_order_id.is_not(None))
            .values(work_order_id=None)
        )
        conn.execute(work_orders.delete())

    def insert_work_orders(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert work-order rows (dicts of ``work_orders`` columns) and return their new ids.

        Ids come back in the order of ``rows``.
        """
        if not rows:
            return []
        return [int(i) for i in conn.execute(_INSERT_WORK_ORDERS, list(rows)).scalars()]

    def update_work_orders(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Update work orders from dicts holding ``work_order_id`` and the columns to change.

        Every dict must name the same columns.
        """
        if not rows:
            return
        cols = tuple(c for c in rows[0] if c != "work_order_id")
        conn.execute(
            _update_work_orders(cols),
            [{"_id": r["work_order_id"], **{c: r[c] for c in cols}} for r in rows],
        )

    def link_requests(self, conn: Connection, links: Sequence[tuple[str, int | None]]) -> None:
        """Set ``work_order_id`` of requests from ``(service_request_id, work_order_id)`` pairs."""
        if not links:
            return
        conn.execute(_LINK_REQUESTS, [{"_id": rid, "_wo": wo} for rid, wo in links])

    def work_order_anchors_near(
        self,
        conn: Connection,
        *,
        group: str,
        bbox: tuple[float, float, float, float],
        opened_until: datetime,
        closed_since: datetime,
    ) -> list[dict[str, Any]]:
        """Return work orders of a group that may take or flag a new report.

        Parameters
        ----------
        conn
            Open connection (inside the grouping transaction).
        group
            Service group.
        bbox
            Box the anchor must lie in.
        opened_until
            Keep work orders opened at or before this time.
        closed_since
            Keep work orders still open or closed at or after this time.

        Returns
        -------
        list of dict
            ``work_order_id``, ``anchor_lat``, ``anchor_lon``, ``closed_datetime``, ``opened``,
            ``failed_repair_of``, ``status``; by id.
        """
        min_lon, min_lat, max_lon, max_lat = bbox
        params = {
            "group": group,
            "min_lat": min_lat,
            "max_lat": max_lat,
            "min_lon": min_lon,
            "max_lon": max_lon,
            "opened_until": opened_until,
            "closed_since": closed_since,
        }
        return [dict(r._mapping) for r in conn.execute(_ANCHORS_NEAR, params)]

    def work_order_members(
        self, conn: Connection, work_order_ids: Sequence[int]
    ) -> dict[int, list[ServiceRequest]]:
        """Return the member requests of work orders, each list ordered by time then id."""
        out: dict[int, list[ServiceRequest]] = {int(i): [] for i in work_order_ids}
        ids = list(out)
        for start in range(0, len(ids), 5000):
            rows = conn.execute(_MEMBERS, {"ids": ids[start : start + 5000]})
            for r in rows:
                out[int(r._mapping["work_order_id"])].append(_row_to_request(r))
        return out

    def update_requests_in(
        self,
        conn: Connection,
        service_request_ids: Sequence[str],
        *,
        update_media_url: str = "",
        **values: Any,
    ) -> int:
        """Set the same column values on several requests; return how many rows changed.

        A new ``status`` or ``status_notes`` is a change the citizen sees: it is recorded in
        ``request_updates`` in the same transaction (see :meth:`request_updates_between`),
        with ``update_media_url`` as the update's photo, and ``updated_datetime`` moves to now
        unless ``values`` sets it.
        """
        if not service_request_ids:
            return 0
        ids = list(service_request_ids)
        noted = "status" in values or "status_notes" in values
        if noted:
            values.setdefault("updated_datetime", datetime.now(UTC))
        res = conn.execute(
            requests.update().where(requests.c.service_request_id.in_(ids)).values(**values)
        )
        if noted:
            self.record_updates(
                conn,
                ids,
                kind="status" if "status" in values else "note",
                at=values["updated_datetime"],
                descriptions={} if "status_notes" not in values else None,
                media_url=update_media_url,
            )
        return int(res.rowcount)

    def record_updates(
        self,
        conn: Connection,
        ids: Sequence[str],
        *,
        kind: str,
        at: datetime,
        descriptions: dict[str, str] | None = None,
        media_url: str = "",
        external_id: str | None = None,
    ) -> list[int]:
        """Append one update per request with its current status (and notes, by default)."""
        c = requests.c
        rows = []
        for start in range(0, len(ids), 5000):
            chunk = list(ids[start : start + 5000])
            for rid, status, notes in conn.execute(
                sa.select(c.service_request_id, c.status, c.status_notes)
                .where(c.service_request_id.in_(chunk))
                .order_by(c.service_request_id)
            ):
                text = notes if descriptions is None else descriptions.get(rid, "")
                rows.append(
                    {
                        "service_request_id": rid,
                        "kind": kind,
                        "status": status,
                        "description": text or "",
                        "media_url": media_url,
                        "updated_datetime": at,
                        "external_id": external_id,
                    }
                )
        if not rows:
            return []
        stmt = request_updates.insert().returning(
            request_updates.c.update_id, sort_by_parameter_order=True
        )
        return [int(i) for i in conn.execute(stmt, rows).scalars()]

    # -- request updates (timeline, mySociety's servicerequestupdates) -------------------
    def add_request_update(
        self,
        service_request_id: str,
        *,
        description: str,
        media_url: str = "",
        kind: str = "comment",
        at: datetime | None = None,
        external_id: str | None = None,
    ) -> tuple[int, bool]:
        """Record an update of one request (e.g. a citizen's comment).

        The request keeps its status and notes; its ``updated_datetime`` moves to ``at``. An
        update posted again with the same ``external_id`` is not recorded twice.

        Parameters
        ----------
        service_request_id
            The request.
        description
            The update's public text.
        media_url
            A photo of the update.
        kind
            ``comment`` (a citizen's), ``status``, ``note``, ``scheduled``, ``unscheduled``.
        at
            When (default: now).
        external_id
            The client's own id of the update.

        Returns
        -------
        tuple
            ``(update_id, created)``; ``created`` is False for a repeated ``external_id``.

        Raises
        ------
        NotFoundError
            If no request has this id.
        """
        at = at or datetime.now(UTC)
        u = request_updates.c
        with self.begin() as conn:
            if external_id is not None:
                if self.dialect == "postgresql":
                    key = f"{service_request_id}\x1f{external_id}"
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
                known = conn.execute(
                    sa.select(u.update_id).where(
                        u.service_request_id == service_request_id, u.external_id == external_id
                    )
                ).scalar()
                if known is not None:
                    return int(known), False
            res = conn.execute(
                requests.update()
                .where(requests.c.service_request_id == service_request_id)
                .values(updated_datetime=at)
            )
            if res.rowcount == 0:
                raise NotFoundError(
                    f"service_request_id {service_request_id!r} does not exist; "
                    "check the id returned by POST requests"
                )
            ids = self.record_updates(
                conn,
                [service_request_id],
                kind=kind,
                at=at,
                descriptions={service_request_id: description},
                media_url=media_url,
                external_id=external_id,
            )
        return ids[0], True

    def request_updates_between(
        self, start: datetime, end: datetime, *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Return the updates with ``start <= updated_datetime <= end``, oldest first.

        Returns
        -------
        list of dict
            ``update_id``, ``service_request_id``, ``kind``, ``status``, ``description``,
            ``media_url``, ``updated_datetime``.
        """
        u = request_updates.c
        stmt = (
            sa.select(request_updates)
            .where(u.updated_datetime >= start, u.updated_datetime <= end)
            .order_by(u.updated_datetime, u.update_id)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def request_updates_of(self, service_request_id: str) -> list[dict[str, Any]]:
        """Return every update of one request, oldest first (as :meth:`request_updates_between`)."""
        u = request_updates.c
        stmt = (
            sa.select(request_updates)
            .where(u.service_request_id == service_request_id)
            .order_by(u.updated_datetime, u.update_id)
        )
        with self.read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def update_requests_in_open(
        self, conn: Connection, service_request_ids: Sequence[str], **values: Any
    ) -> int:
        """Set column values on those of the requests still open (no ``closed_datetime``)."""
        if not service_request_ids:
            return 0
        res = conn.execute(
            requests.update()
            .where(
                requests.c.service_request_id.in_(list(service_request_ids)),
                requests.c.closed_datetime.is_(None),
            )
            .values(**values)
        )
        return int(res.rowcount)

    def work_orders_open_at(
        self, at: datetime, *, groups: Sequence[str] | None = None
    ) -> list[tuple[WorkOrder, list[MemberTimes]]]:
        """Return the work orders open at ``at`` with their members' times, in two queries.

        The lean read behind :func:`geo311.workorders.grouping.open_work_orders_at` (the dispatcher's
        console): work-order rows oldest first, each with its members' id, reported time,
        SLA target and service code, ordered by time then id.
        """
        c, r = work_orders.c, requests.c
        cond = sa.and_(c.opened <= at, sa.or_(c.closed_datetime.is_(None), c.closed_datetime > at))
        if groups is not None:
            cond = sa.and_(cond, c.service_group.in_(list(groups)))
        members = (
            sa.select(
                r.work_order_id,
                r.service_request_id,
                r.requested_datetime,
                r.sla_target_datetime,
                r.service_code,
            )
            .join(work_orders, c.work_order_id == r.work_order_id)
            .where(cond)
            .order_by(r.requested_datetime, r.service_request_id)
        )
        with self.read() as conn:
            rows = list(
                conn.execute(sa.select(work_orders).where(cond).order_by(c.opened, c.work_order_id))
            )
            by_order: dict[int, list[MemberTimes]] = {}
            for wid, rid, reported, target, code in conn.execute(members):
                by_order.setdefault(int(wid), []).append(MemberTimes(rid, reported, target, code))
        return [
            (_row_to_work_order(row), by_order.get(int(row._mapping["work_order_id"]), []))
            for row in rows
        ]


class MemberTimes(NamedTuple):
    """A member request's times, as the open-work view needs them (never a plan's ETA)."""

    service_request_id: str
    requested_datetime: datetime
    sla_target_datetime: datetime | None
    service_code: str
