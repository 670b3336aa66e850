"""Crew stop states in rows: the ``plan_stops`` table (one row per plan and stop).

The marks older plans carry in their JSON document (``done``, ``done_at``, ``cant_do``) are
copied into rows and taken out of the document: from now on the rows are the only record of
a stop's state (a stop marked both done and can't-do by the old code is kept as done: its
work order was closed). The downgrade writes the rows back into the documents.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

# Spelt out as in 0001: what geo311.db.schema.UTCDateTime stores.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

MARKS = ("done", "done_at", "cant_do")
plans = sa.table(
    "plans",
    sa.column("plan_id", sa.Integer),
    sa.column("created_at", UTCDateTime),
    sa.column("payload", sa.Text),
)
TEXT = ("job_id", "crew_id", "state", "reason", "note", "by_user", "media_url")
stops = sa.table(
    "plan_stops",
    sa.column("plan_id", sa.Integer),
    sa.column("at", UTCDateTime),
    *(sa.column(c, sa.Text) for c in TEXT),
)


def upgrade() -> None:
    """Create ``plan_stops`` and move the documents' marks into it."""
    op.create_table(
        "plan_stops",
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.Column("crew_id", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False, server_default=""),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("by_user", sa.String(64), nullable=False, server_default=""),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("idempotency_key", sa.String(64)),
        sa.Column("media_url", sa.String(500), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("plan_id", "job_id", name="pk_plan_stops"),
    )
    conn = op.get_bind()
    marked = sa.or_(*(plans.c.payload.like(f'%"{k}"%') for k in MARKS))
    found = conn.execute(sa.select(plans).where(marked)).all()
    for plan_id, created_at, payload in found:
        doc = json.loads(payload)
        rows = stop_rows(plan_id, doc, _aware(created_at))
        if rows:
            conn.execute(stops.insert(), rows)
        if any(k in doc for k in MARKS):
            kept = {k: v for k, v in doc.items() if k not in MARKS}
            conn.execute(
                plans.update()
                .where(plans.c.plan_id == plan_id)
                .values(payload=json.dumps(kept, default=str))
            )


def stop_rows(plan_id: int, doc: dict[str, Any], when: datetime) -> list[dict[str, Any]]:
    """Return the ``plan_stops`` rows of a document's marks (done wins over can't-do)."""
    crew_of = {
        str(s.get("job_id")): str(r.get("crew_id") or "")
        for r in doc.get("routes") or []
        for s in r.get("steps") or []
        if s.get("type") == "job"
    }
    done_at = doc.get("done_at") or {}
    rows: dict[str, dict[str, Any]] = {}
    for job_id, mark in (doc.get("cant_do") or {}).items():
        mark = mark if isinstance(mark, dict) else {}
        rows[str(job_id)] = {
            "crew_id": crew_of.get(str(job_id), ""),
            "state": "cant_do",
            "reason": str(mark.get("reason") or "")[:32],
            "note": str(mark.get("note") or ""),
            "by_user": str(mark.get("by") or "")[:64],
            "at": _parse(mark.get("at")) or when,
        }
    for crew_id, job_ids in (doc.get("done") or {}).items():
        for job_id in job_ids or []:
            at = _parse(done_at.get(str(job_id))) or when
            rows[str(job_id)] = {
                **dict.fromkeys(("reason", "note", "by_user"), ""),
                "crew_id": str(crew_id),
                "state": "done",
                "at": at,
            }
    return [
        {**row, "plan_id": plan_id, "job_id": job_id[:64], "media_url": ""}
        for job_id, row in rows.items()
    ]


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parse(text: Any) -> datetime | None:
    try:
        return _aware(datetime.fromisoformat(str(text))) if text else None
    except ValueError:
        return None


def downgrade() -> None:
    """Write the rows back into the documents as ``done`` / ``done_at`` / ``cant_do``; drop."""
    conn = op.get_bind()
    rows = conn.execute(sa.select(stops).where(stops.c.state.in_(("done", "cant_do")))).all()
    by_plan: dict[int, list[Any]] = {}
    for row in rows:
        by_plan.setdefault(int(row.plan_id), []).append(row)
    for plan_id, marks in by_plan.items():
        payload = conn.execute(sa.select(plans.c.payload).where(plans.c.plan_id == plan_id))
        text = payload.scalar()
        if text is None:
            continue
        doc = json.loads(text)
        for row in marks:
            at = _aware(row.at).isoformat()
            if row.state == "done":
                doc.setdefault("done", {}).setdefault(row.crew_id, []).append(row.job_id)
                doc.setdefault("done_at", {})[row.job_id] = at
            else:
                mark = {"reason": row.reason, "reason_text": row.reason, "note": row.note}
                doc.setdefault("cant_do", {})[row.job_id] = {**mark, "by": row.by_user, "at": at}
        conn.execute(
            plans.update().where(plans.c.plan_id == plan_id).values(payload=json.dumps(doc))
        )
    op.drop_table("plan_stops")
