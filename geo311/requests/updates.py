"""The requests' public updates: their timeline and mySociety's servicerequestupdates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db.schema import (
    request_updates,
    requests,
)
from geo311.db.store import Store
from geo311.errors import NotFoundError

__all__ = [
    "add_request_update",
    "record_updates",
    "request_updates_between",
    "request_updates_of",
]


def record_updates(
    conn: Connection,
    ids: Sequence[str],
    *,
    kind: str,
    at: datetime,
    descriptions: dict[str, str] | None = None,
    media_url: str = "",
    external_id: str | None = None,
) -> list[int]:
    """Append one update per request with its current status (and notes, by default).

    Parameters
    ----------
    conn
        The connection of the transaction that changes the requests.
    ids
        The requests updated.
    kind
        ``status``, ``note``, ``scheduled``, ``unscheduled`` or ``comment``.
    at
        When (timezone-aware).
    descriptions
        The public text per request id (a request not in it gets none); default: each
        request's current status notes.
    media_url
        A photo of the update.
    external_id
        The client's own id of the update.

    Returns
    -------
    list of int
        The new update ids, in request id order.
    """
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
    store: Store,
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
    with store.begin() as conn:
        if external_id is not None:
            if store.dialect == "postgresql":
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
        ids = record_updates(
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
    store: Store, start: datetime, end: datetime, *, limit: int | None = None
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
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def request_updates_of(store: Store, service_request_id: str) -> list[dict[str, Any]]:
    """Return every update of one request, oldest first (as :meth:`request_updates_between`)."""
    u = request_updates.c
    stmt = (
        sa.select(request_updates)
        .where(u.service_request_id == service_request_id)
        .order_by(u.updated_datetime, u.update_id)
    )
    with store.read() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
