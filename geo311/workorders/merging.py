"""A dispatcher's hand corrections of the grouping: merge two work orders, split a report out.

The anchor rule (:mod:`geo311.workorders.grouping`) groups reports by distance; a dispatcher
who sees two work orders of one defect merges them, and one who sees a report of another
defect in a work order splits it into a work order of its own. Each change runs in one
transaction under the grouping locks of the work orders involved, so a report arriving
meanwhile waits and then sees the corrected work orders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError
from geo311.model import ServiceRequest, WorkOrder
from geo311.notify import Event, enqueue
from geo311.workorders import repo as work_order_repo
from geo311.workorders.grouping import group_rules, lock_work_order, request_close_time
from geo311.workorders.locks import cell_keys, lock_cells

__all__ = ["MERGED_STATE", "merge_work_orders", "split_report"]

MERGED_STATE = "duplicate"  # the state of a work order emptied by a merge


def _check_open(catalogue: Catalogue, wo: WorkOrder, field: str) -> None:
    state = catalogue.states.get(wo.status)
    if wo.closed_datetime is not None or (state is not None and not state.is_open):
        raise ConflictError(
            f"{field}: work order {wo.work_order_id} is already {wo.status!r}; only open work "
            "orders are merged or split"
        )


def _resummarise(
    catalogue: Catalogue, wo: WorkOrder, members: Sequence[ServiceRequest]
) -> dict[str, Any]:
    """Return the columns of ``wo`` derived from its new ``members`` (its state is kept)."""
    ordered = sorted(members, key=lambda m: (m.requested_datetime, m.service_request_id))
    located = [m for m in ordered if m.lat is not None and m.long is not None]
    first = ordered[0]
    return {
        "work_order_id": wo.work_order_id,
        "lat": sum(float(m.lat or 0.0) for m in located) / len(located) if located else wo.lat,
        "lon": sum(float(m.long or 0.0) for m in located) / len(located) if located else wo.lon,
        "opened": first.requested_datetime,
        "sla_due": min(catalogue.sla_target(m) for m in ordered),
        "report_count": len(ordered),
        "address": first.address or wo.address,
    }


def _tell_moved(
    conn: Connection, request_ids: Sequence[str], work_order_id: int, at: datetime
) -> None:
    """Queue "merged" for reports now in another work order (their reporters follow it)."""
    for rid in request_ids:
        enqueue(
            conn,
            Event(
                type="merged", service_request_id=rid, work_order_id=work_order_id, occurred_at=at
            ),
        )


def merge_work_orders(
    store: Store,
    catalogue: Catalogue,
    *,
    into: int,
    other: int,
    at: datetime | None = None,
) -> WorkOrder:
    """Move every report of work order ``other`` into work order ``into``.

    ``into`` keeps its anchor, state and id; its point, opening time, SLA due time and report
    count are worked out again from all its reports. ``other`` stays, empty, in state
    :data:`MERGED_STATE` with a note naming ``into`` (its page and audit rows keep their
    link); it never takes new reports. The moved reports' reporters are told.

    Parameters
    ----------
    store
        The store.
    catalogue
        States, services and the groups' radii.
    into
        The work order that takes the reports.
    other
        The work order merged into it.
    at
        When (default: now).

    Returns
    -------
    WorkOrder
        ``into`` after the merge.

    Raises
    ------
    InputError
        If ``other`` equals ``into``, or they are of different service groups.
    NotFoundError
        If either work order does not exist.
    ConflictError
        If either is closed.
    """
    at = at or datetime.now(UTC)
    if into == other:
        raise InputError(
            f"other: work order {other} cannot be merged into itself; give another work order id",
            field="other",
        )
    with store.begin() as conn:
        for wid in sorted((into, other)):  # always the same order: two merges never deadlock
            lock_work_order(store, conn, catalogue, wid)
        target = work_order_repo.get_work_order(store, into)
        source = work_order_repo.get_work_order(store, other)
        _check_open(catalogue, target, "into")
        _check_open(catalogue, source, "other")
        if target.service_group != source.service_group:
            raise InputError(
                f"other: work order {other} is of group {source.service_group!r}, work order "
                f"{into} of {target.service_group!r}; only work orders of one group merge",
                field="other",
            )
        members = work_order_repo.work_order_members(store, conn, [into, other])
        moved = [m.service_request_id for m in members[other]]
        work_order_repo.link_requests(store, conn, [(rid, into) for rid in moved])
        work_order_repo.update_work_orders(
            store, conn, [_resummarise(catalogue, target, members[into] + members[other])]
        )
        work_order_repo.update_work_orders(
            store,
            conn,
            [
                {
                    "work_order_id": other,
                    "status": catalogue.state(MERGED_STATE).code,
                    "closure_category": catalogue.state(MERGED_STATE).label,
                    "status_notes": f"Merged into work order {into}",
                    "closed_datetime": max(at, source.opened),
                    "report_count": 0,
                    "anchor_lat": None,  # no anchor: no report joins it or flags it again
                    "anchor_lon": None,
                }
            ],
        )
        _tell_moved(conn, moved, into, at)
    return work_order_repo.get_work_order(store, into)


def split_report(
    store: Store,
    catalogue: Catalogue,
    work_order_id: int,
    *,
    request_id: str,
    at: datetime | None = None,
) -> WorkOrder:
    """Move one open report out of a work order into a new work order anchored at it.

    The work order keeps its anchor, state and other reports (its point, times and count are
    worked out again); the new work order is open, and its reporter is told.

    Parameters
    ----------
    store
        The store.
    catalogue
        States, services and the groups' radii.
    work_order_id
        The work order holding the report.
    request_id
        The report (``service_request_id``) split out.
    at
        When (default: now).

    Returns
    -------
    WorkOrder
        The new work order.

    Raises
    ------
    InputError
        If the report is not in the work order, is its only report, is closed, or has no
        location.
    NotFoundError
        If the work order does not exist.
    ConflictError
        If the work order is closed.
    """
    at = at or datetime.now(UTC)
    with store.begin() as conn:
        lock_work_order(store, conn, catalogue, work_order_id)
        wo = work_order_repo.get_work_order(store, work_order_id)
        _check_open(catalogue, wo, "work_order_id")
        members = work_order_repo.work_order_members(store, conn, [work_order_id])[work_order_id]
        req = _splittable(catalogue, wo, members, request_id)
        assert req.lat is not None and req.long is not None
        rule = group_rules(catalogue).get(wo.service_group)
        if rule is not None:  # the new anchor's cell: reports arriving there wait for it
            lock_cells(
                store,
                conn,
                cell_keys(wo.service_group, req.lat, req.long, radius_m=rule.radius_m, reach_m=0.0),
            )
        rest = [m for m in members if m.service_request_id != request_id]
        work_order_repo.update_work_orders(store, conn, [_resummarise(catalogue, wo, rest)])
        row = {
            **_resummarise(catalogue, wo, [req]),
            "service_group": wo.service_group,
            "service_code": req.service_code,
            "status": "open",
            "anchor_lat": req.lat,
            "anchor_lon": req.long,
        }
        del row["work_order_id"]
        new_id = work_order_repo.insert_work_orders(store, conn, [row])[0]
        work_order_repo.link_requests(store, conn, [(request_id, new_id)])
        _tell_moved(conn, [request_id], new_id, at)
    return work_order_repo.get_work_order(store, new_id)


def _splittable(
    catalogue: Catalogue, wo: WorkOrder, members: Sequence[ServiceRequest], request_id: str
) -> ServiceRequest:
    """Return the member ``request_id`` if it can leave ``wo``; else say why not."""
    req = next((m for m in members if m.service_request_id == request_id), None)
    if req is None:
        raise InputError(
            f"request_id: report {request_id!r} is not in work order {wo.work_order_id}; "
            "pick one of its reports",
            field="request_id",
        )
    if len(members) == 1:
        raise InputError(
            f"request_id: report {request_id!r} is the only report of work order "
            f"{wo.work_order_id}; there is nothing to split it from",
            field="request_id",
        )
    if request_close_time(req, catalogue) is not None:
        raise InputError(
            f"request_id: report {request_id!r} is already {req.status!r}; only an open report "
            "is split out",
            field="request_id",
        )
    if req.lat is None or req.long is None:
        raise InputError(
            f"request_id: report {request_id!r} has no location; geocode it before splitting",
            field="request_id",
        )
    return req
