"""The store schema and migration runner of the last release before Alembic (frozen copy).

Verbatim from ``geo311/db/store.py`` (tables) and ``geo311/_migrations.py`` (runner) at commit
1bb009a, so that tests can make a store exactly as that release did and check that today's
:class:`geo311.db.store.Store` upgrades it in place. Never edit: it is history.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC (naive UTC in SQLite, timestamptz in PostgreSQL)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Convert an aware datetime to UTC; refuse a naive one."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: geo311 stores timezone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

requests = sa.Table(
    "service_requests",
    metadata,
    sa.Column("service_request_id", sa.String(64), primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("source_id", sa.String(64), nullable=False),
    sa.Column("service_code", sa.String(64), nullable=False),
    sa.Column("service_name", sa.String(200), nullable=False, default=""),
    sa.Column("source_type", sa.String(200), nullable=False, default=""),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("status_notes", sa.Text, nullable=False, default=""),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("requested_datetime", UTCDateTime, nullable=False),
    sa.Column("updated_datetime", UTCDateTime),
    sa.Column("expected_datetime", UTCDateTime),
    sa.Column("closed_datetime", UTCDateTime),
    sa.Column("address", sa.String(300), nullable=False, default=""),
    sa.Column("zipcode", sa.String(10), nullable=False, default=""),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("media_url", sa.String(500), nullable=False, default=""),
    sa.Column("channel", sa.String(64), nullable=False, default=""),
    sa.Column("neighborhood", sa.String(100), nullable=False, default=""),
    sa.Column("closure_category", sa.String(100), nullable=False, default=""),
    sa.Column("needs_geocoding", sa.Boolean, nullable=False, default=False),
    sa.Column("geocode_match_type", sa.String(32), nullable=False, default=""),
    sa.Column("geocode_score", sa.Float),
    sa.Column("work_order_id", sa.Integer, index=True),
    sa.Column("row_hash", sa.String(32), nullable=False, default=""),
    sa.UniqueConstraint("source", "source_id", name="uq_service_requests_source"),
    # Queries on requests: a time window (Open311 GET, metrics), a service within a time
    # window, members of a work order, rows to geocode. Spatial look-ups run on work-order
    # anchors, and status filters always come with a time window: no index of their own.
    sa.Index("ix_service_requests_service_requested", "service_code", "requested_datetime"),
    sa.Index("ix_service_requests_requested", "requested_datetime"),
    sa.Index(
        "ix_service_requests_needs_geocoding",
        "needs_geocoding",
        sqlite_where=sa.text("needs_geocoding"),
        postgresql_where=sa.text("needs_geocoding"),
    ),
)

import_runs = sa.Table(
    "import_runs",
    metadata,
    sa.Column("import_run_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("path", sa.String(500), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("summary", sa.Text, nullable=False, default="{}"),
)

import_rejects = sa.Table(
    "import_rejects",
    metadata,
    sa.Column("reject_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("import_run_id", sa.Integer, nullable=False, index=True),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text, nullable=False, default=""),
)

work_orders = sa.Table(
    "work_orders",
    metadata,
    sa.Column("work_order_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_group", sa.String(32), nullable=False),
    sa.Column("service_code", sa.String(64), nullable=False),
    sa.Column("lat", sa.Float, nullable=False),
    sa.Column("lon", sa.Float, nullable=False),
    sa.Column("opened", UTCDateTime, nullable=False),
    sa.Column("sla_due", UTCDateTime, nullable=False),
    sa.Column("report_count", sa.Integer, nullable=False, default=1),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("address", sa.String(300), nullable=False, default=""),
    sa.Column("closed_datetime", UTCDateTime),
    sa.Column("closure_category", sa.String(100), nullable=False, default=""),
    sa.Column("status_notes", sa.Text, nullable=False, default=""),
    sa.Column("failed_repair_of", sa.Integer),
    # The first report's point: the work order's fixed centre for duplicate matching
    # (added by schema step 2).
    sa.Column("anchor_lat", sa.Float),
    sa.Column("anchor_lon", sa.Float),
    sa.Index("ix_work_orders_status_group", "status", "service_group"),
    sa.Index("ix_work_orders_opened", "opened"),
    sa.Index("ix_work_orders_lat_lon", "lat", "lon"),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("plan_date", sa.String(10), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False, default="plan"),
    sa.Column("parent_plan_id", sa.Integer),
    sa.Column("payload", sa.Text, nullable=False),
)


def _v1(conn: Connection) -> None:
    metadata.create_all(
        conn,
        tables=[requests, import_runs, import_rejects, work_orders, plans],
    )


def _v2(conn: Connection) -> None:
    # Work-order anchors (the first report's point). A database created after this column was
    # added to the table definition already has it from step 1.
    have = {c["name"] for c in sa.inspect(conn).get_columns("work_orders")}
    for name in ("anchor_lat", "anchor_lon"):
        if name not in have:
            conn.execute(sa.text(f"ALTER TABLE work_orders ADD COLUMN {name} FLOAT"))
    conn.execute(
        sa.text(
            "UPDATE work_orders SET anchor_lat = lat, anchor_lon = lon WHERE anchor_lat IS NULL"
        )
    )


def _v3(conn: Connection) -> None:
    # Nothing queries requests by status alone or by box (spatial look-ups use work-order
    # anchors); the two indexes only slowed imports down.
    for name in ("ix_service_requests_status", "ix_service_requests_lat_lon"):
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "service requests, import runs and rejects, work orders, plans", _v1),
    (2, "work-order anchor point (anchor_lat, anchor_lon)", _v2),
    (3, "drop unused request indexes (status, lat/lon)", _v3),
]


def apply_migrations(engine: Engine, *, attempts: int = 5) -> int:
    # PostgreSQL serialises first starts with an advisory lock. SQLite has no such lock for
    # DDL: a process that loses the race finds the tables made by the winner and retries.
    for attempt in range(attempts):
        try:
            return _apply(engine)
        except (sa.exc.OperationalError, sa.exc.IntegrityError):
            if engine.dialect.name != "sqlite" or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _apply(engine: Engine) -> int:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise concurrent first starts (several API workers, tests in parallel),
            # before anything is created.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(311311)"))
        metadata.create_all(conn, tables=[schema_version])
        done = set(conn.execute(sa.select(schema_version.c.version)).scalars())
        for version, description, step in MIGRATIONS:
            if version in done:
                continue
            step(conn)
            conn.execute(
                schema_version.insert().values(
                    version=version, description=description, applied_at=datetime.now(UTC)
                )
            )
        return max([v for v, _, _ in MIGRATIONS] + list(done))
