"""Import runs and their rejected rows (tables ``import_runs``, ``import_rejects``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db.schema import (
    import_rejects,
    import_runs,
)
from geo311.db.store import Store

__all__ = [
    "add_rejects",
    "finish_import_run",
    "rejects_of",
    "start_import_run",
]


# -- import bookkeeping ------------------------------------------------------------
def start_import_run(store: Store, conn: Connection, path: str) -> int:
    """Record the start of an import and return its id."""
    res = conn.execute(
        import_runs.insert().values(path=path, started_at=datetime.now(UTC), summary="{}")
    )
    return int(res.inserted_primary_key[0])  # type: ignore[index]


def finish_import_run(store: Store, import_run_id: int, summary: dict[str, Any]) -> None:
    """Store an import's summary."""
    with store.begin() as conn:
        conn.execute(
            import_runs.update()
            .where(import_runs.c.import_run_id == import_run_id)
            .values(finished_at=datetime.now(UTC), summary=json.dumps(summary, default=str))
        )


def add_rejects(
    store: Store, conn: Connection, import_run_id: int, rejects: Sequence[dict[str, Any]]
) -> None:
    """Keep rejected rows with their reason (dicts: row_number, field, reason, raw)."""
    if rejects:
        conn.execute(
            import_rejects.insert(), [dict(r, import_run_id=import_run_id) for r in rejects]
        )


def rejects_of(store: Store, import_run_id: int) -> list[dict[str, Any]]:
    """Return the rejected rows of one import run."""
    with store.read() as conn:
        rows = conn.execute(
            sa.select(import_rejects)
            .where(import_rejects.c.import_run_id == import_run_id)
            .order_by(import_rejects.c.row_number)
        )
        return [dict(r._mapping) for r in rows]
