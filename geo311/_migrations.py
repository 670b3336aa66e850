"""Versioned schema steps. Each step runs once, in order, inside one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo311 import notify_schema as n
from geo311 import store as s


def _v1(conn: Connection) -> None:
    s.metadata.create_all(
        conn,
        tables=[s.requests, s.import_runs, s.import_rejects, s.work_orders, s.plans],
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


def _v5(conn: Connection) -> None:
    # Citizen notifications: the outbox, reporters' contacts, webhooks (creates these only).
    # notify_schema is imported at the top so that Store.drop_all also sees these tables.
    n.metadata.create_all(conn, tables=list(n.NOTIFY_TABLES))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "service requests, import runs and rejects, work orders, plans", _v1),
    (2, "work-order anchor point (anchor_lat, anchor_lon)", _v2),
    (3, "drop unused request indexes (status, lat/lon)", _v3),
    # Step 4 (users) comes from another branch.
    (5, "notifications: outbox, contacts, webhooks", _v5),
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
        s.metadata.create_all(conn, tables=[s.schema_version])
        done = set(conn.execute(sa.select(s.schema_version.c.version)).scalars())
        for version, description, step in MIGRATIONS:
            if version in done:
                continue
            step(conn)
            conn.execute(
                s.schema_version.insert().values(
                    version=version, description=description, applied_at=datetime.now(UTC)
                )
            )
        return max([v for v, _, _ in MIGRATIONS] + list(done))
