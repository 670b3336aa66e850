"""The work orders' rows: read, lock, insert, update, link their member requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db.schema import (
    requests,
    work_orders,
)
from geo311.db.store import WORK_ORDERS_LOCK_SQL, Store
from geo311.errors import NotFoundError
from geo311.model import ServiceRequest, WorkOrder
from geo311.requests.repo import row_to_request

__all__ = [
    "MemberTimes",
    "clear_work_orders",
    "get_work_order",
    "insert_work_orders",
    "link_requests",
    "lock_work_orders",
    "query_work_orders",
    "row_to_work_order",
    "update_work_orders",
    "work_order_anchors_near",
    "work_order_members",
    "work_orders_open_at",
]


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


@lru_cache(maxsize=32)
def _update_work_orders(cols: tuple[str, ...]) -> sa.Update:
    # UPDATE work_orders SET <cols> WHERE work_order_id = :_id, built once per column set.
    return (
        work_orders.update()
        .where(_WO.work_order_id == sa.bindparam("_id"))
        .values({c: sa.bindparam(c) for c in cols})
    )


def row_to_work_order(row: sa.Row[Any], member_ids: Sequence[str] = ()) -> WorkOrder:
    """Return the work order of a ``work_orders`` row (with its member ids)."""
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


# -- plans (JSON documents produced by routing; geo311 only keeps them) -------------
# -- work orders (rows; the rules live in geo311.workorders.grouping) -------------------------
def get_work_order(store: Store, work_order_id: int) -> WorkOrder:
    """Return one work order with its member ids.

    Raises
    ------
    NotFoundError
        If no work order has this id.
    """
    with store.read() as conn:
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
        return row_to_work_order(row, list(members))


def query_work_orders(
    store: Store,
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
    with store.read() as conn:
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
    return [row_to_work_order(r, members[r._mapping["work_order_id"]]) for r in rows]


def lock_work_orders(store: Store, conn: Connection) -> None:
    """Exclude every other work-order grouping until this transaction ends (a rebuild).

    PostgreSQL: the global grouping lock, exclusive (reports take it shared, see
    :mod:`geo311.workorders.locks`). SQLite serialises writers itself; a no-op there.
    """
    if store.dialect == "postgresql":
        conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({WORK_ORDERS_LOCK_SQL})"))


def clear_work_orders(store: Store, conn: Connection) -> None:
    """Delete every work order and unlink every request (before a full rebuild)."""
    conn.execute(
        requests.update().where(requests.c.work_order_id.is_not(None)).values(work_order_id=None)
    )
    conn.execute(work_orders.delete())


def insert_work_orders(store: Store, conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert work-order rows (dicts of ``work_orders`` columns) and return their new ids.

    Ids come back in the order of ``rows``.
    """
    if not rows:
        return []
    return [int(i) for i in conn.execute(_INSERT_WORK_ORDERS, list(rows)).scalars()]


def update_work_orders(store: Store, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
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


def link_requests(store: Store, conn: Connection, links: Sequence[tuple[str, int | None]]) -> None:
    """Set ``work_order_id`` of requests from ``(service_request_id, work_order_id)`` pairs."""
    if not links:
        return
    conn.execute(_LINK_REQUESTS, [{"_id": rid, "_wo": wo} for rid, wo in links])


def work_order_anchors_near(
    store: Store,
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
    store: Store, conn: Connection, work_order_ids: Sequence[int]
) -> dict[int, list[ServiceRequest]]:
    """Return the member requests of work orders, each list ordered by time then id."""
    out: dict[int, list[ServiceRequest]] = {int(i): [] for i in work_order_ids}
    ids = list(out)
    for start in range(0, len(ids), 5000):
        rows = conn.execute(_MEMBERS, {"ids": ids[start : start + 5000]})
        for r in rows:
            out[int(r._mapping["work_order_id"])].append(row_to_request(r))
    return out


def work_orders_open_at(
    store: Store, at: datetime, *, groups: Sequence[str] | None = None
) -> list[tuple[WorkOrder, list[MemberTimes]]]:
    """Return the work orders open at ``at`` with their members' times, in two queries.

    The lean read behind :func:`geo311.workorders.open_view.open_work_orders_at` (the dispatcher's
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
    with store.read() as conn:
        rows = list(
            conn.execute(sa.select(work_orders).where(cond).order_by(c.opened, c.work_order_id))
        )
        by_order: dict[int, list[MemberTimes]] = {}
        for wid, rid, reported, target, code in conn.execute(members):
            by_order.setdefault(int(wid), []).append(MemberTimes(rid, reported, target, code))
    return [
        (row_to_work_order(row), by_order.get(int(row._mapping["work_order_id"]), []))
        for row in rows
    ]


class MemberTimes(NamedTuple):
    """A member request's times, as the open-work view needs them (never a plan's ETA)."""

    service_request_id: str
    requested_datetime: datetime
    sla_target_datetime: datetime | None
    service_code: str
