"""Reports become work orders: duplicate reports of one defect are merged into one job.

The grouping rule (the *anchor rule*, shared by the incremental path and the full rebuild):

* reports are taken in time order (``requested_datetime``, then ``service_request_id``);
* only groups whose services have a ``duplicate_radius_m`` above 0 are grouped (potholes 25 m,
  streetlights 15 m; a group uses the largest radius and ``failed_repair_days`` of its services);
  reports without a location are skipped;
* a work order's **anchor** is the point of the report that opened it and never moves; its
  representative point (``lat``, ``lon``) is the members' centroid, snapped to the street network
  when a ``snap(lat, lon) -> (lat, lon)`` callable is given;
* a work order is **open at time t** while any member is open at ``t``: it closes when its last
  open member closes (the latest member ``closed_datetime``);
* a report joins the open work order of its group whose anchor is nearest and within the
  radius (distance in EPSG:26986 metres; ties: the older work order); otherwise it opens a new
  work order anchored at itself;
* a report within the radius of the anchor of a work order of its group that closed in the last
  ``failed_repair_days`` is a possible **failed repair** of it (the latest such closure); a work
  order links the first failed-repair finding of its members.

So every member is within the radius of its anchor, and a new work order is only opened where no
open work order of its group is anchored within the radius. Incremental arrival in time order
(:func:`assign_request`) and :func:`rebuild_work_orders` give the same work orders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError
from geo311.model import ServiceRequest
from geo311.notify import Event, WorkOrderEvent, enqueue, enqueue_work_order
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo
from geo311.workorders.clustering import (
    INF_TIME,
    Candidates,
    GroupArrays,
    Grouping,
    choose_work_order,
    group_points,
    project,
    to_micros,
)
from geo311.workorders.locks import (
    LOCK_REACH,
    cell_keys,
    lock_all,
    lock_cells,
    request_state,
    work_order_anchor,
)

Snap = Callable[[float, float], tuple[float, float]]
# Live reports are stamped when received but committed in any order: a report may join a work
# order opened up to this long after its own time (concurrent POSTs near the same defect).
LIVE_ARRIVAL_SLACK = timedelta(minutes=10)
_M_PER_DEG_LAT = 111_000.0


@dataclass(frozen=True, slots=True)
class GroupRule:
    """How one service group is merged: radius in metres and failed-repair window."""

    group: str
    radius_m: float
    failed_repair: timedelta


@dataclass(frozen=True, slots=True)
class Assignment:
    """What happened to one new report.

    Attributes
    ----------
    work_order_id
        The work order the report is in (``None`` when it was not grouped, see ``message``).
    joined
        True when it joined an existing work order, False when it opened one.
    message
        A sentence a citizen can read.
    failed_repair_of
        A work order closed recently nearby, of which this report may be a failed repair.
    report_count
        Reports in the work order after this one.
    """

    work_order_id: int | None
    joined: bool
    message: str
    failed_repair_of: int | None = None
    report_count: int = 0


@dataclass(frozen=True, slots=True)
class RebuildSummary:
    """Counts from :func:`rebuild_work_orders`."""

    work_orders: int
    requests_grouped: int
    reports_merged: int
    failed_repairs: int
    skipped_no_location: int
    skipped_ungrouped: int

    def as_dict(self) -> dict[str, int]:
        """Return the counts as a dict."""
        return {
            "work_orders": self.work_orders,
            "requests_grouped": self.requests_grouped,
            "reports_merged": self.reports_merged,
            "failed_repairs": self.failed_repairs,
            "skipped_no_location": self.skipped_no_location,
            "skipped_ungrouped": self.skipped_ungrouped,
        }


def group_rules(catalogue: Catalogue) -> dict[str, GroupRule]:
    """Return the merge rule of every group that has a duplicate radius above 0.

    Parameters
    ----------
    catalogue
        The service catalogue.

    Returns
    -------
    dict of str to GroupRule
        By group name; a group takes the largest radius and window of its services.
    """
    rules: dict[str, GroupRule] = {}
    for svc in catalogue.services.values():
        if svc.duplicate_radius_m <= 0:
            continue
        old = rules.get(svc.group)
        radius = max(svc.duplicate_radius_m, old.radius_m if old else 0.0)
        days = max(svc.failed_repair_days, old.failed_repair.days if old else 0.0)
        rules[svc.group] = GroupRule(svc.group, radius, timedelta(days=days))
    return rules


def request_close_time(
    request: ServiceRequest, catalogue: Catalogue, *, at: datetime | None = None
) -> datetime | None:
    """Return when a request closed, or ``None`` while it is open (at ``at``, if given).

    A request in a closed state without ``closed_datetime`` closed at its last update (or its
    request time); a close time before the request time counts as the request time.

    Parameters
    ----------
    request
        The request.
    catalogue
        Knows which states are open.
    at
        Treat closures after this moment as not yet happened.

    Returns
    -------
    datetime or None
        The close time.
    """
    state = catalogue.states.get(request.status)
    if state is None or state.is_open:
        return None
    closed = request.closed_datetime or request.updated_datetime or request.requested_datetime
    closed = max(closed, request.requested_datetime)
    if at is not None and closed > at:
        return None
    return closed


def _has_location(req: ServiceRequest) -> bool:
    return req.lat is not None and req.long is not None


def _sort_key(req: ServiceRequest) -> tuple[datetime, str]:
    return (req.requested_datetime, req.service_request_id)


def _summarise(
    members: Sequence[ServiceRequest],
    catalogue: Catalogue,
    *,
    group: str,
    snap: Snap | None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Work-order columns derived from its members (sorted by time, then id)."""
    first = members[0]
    lat = math.fsum(float(m.lat) for m in members if m.lat is not None) / len(members)
    lon = math.fsum(float(m.long) for m in members if m.long is not None) / len(members)
    if snap is not None:
        lat, lon = snap(lat, lon)
    # The SLA targets only: a published plan's ETA (expected_datetime) never moves a due time.
    sla_due = min(catalogue.sla_target(m) for m in members)
    closes = [request_close_time(m, catalogue, at=at) for m in members]
    row: dict[str, Any] = {
        "service_group": group,
        "service_code": first.service_code,
        "lat": float(lat),
        "lon": float(lon),
        "opened": first.requested_datetime,
        "sla_due": sla_due,
        "report_count": len(members),
        "address": first.address,
        "status": "open",
        "closed_datetime": None,
        "closure_category": "",
        "status_notes": "",
    }
    if all(c is not None for c in closes):
        # The member that closed last (the latest in time order on a tie) closed the order.
        last = max(range(len(members)), key=lambda i: (closes[i], i))
        closer = members[last]
        row.update(
            status=closer.status,
            closed_datetime=closes[last],
            closure_category=closer.closure_category,
            status_notes=closer.status_notes,
        )
    return row


def rebuild_work_orders(
    store: Store,
    catalogue: Catalogue,
    *,
    snap: Snap | None = None,
    at: datetime | None = None,
) -> RebuildSummary:
    """Regroup every stored request into work orders from scratch (anchor rule, time order).

    Existing work orders are deleted and every request is unlinked first; the result is the
    same as :func:`assign_request` on each request in time order.

    Parameters
    ----------
    store
        The store.
    catalogue
        Groups, radii, failed-repair windows and states.
    snap
        ``snap(lat, lon) -> (lat, lon)``: moves a work order's centroid onto the street network.
    at
        Rebuild history as it stood at this moment: only requests made at or before it, and
        closures after it count as not yet happened.

    Returns
    -------
    RebuildSummary
        Counts of work orders, merged reports, failed repairs and skipped requests.
    """
    if at is not None and at.tzinfo is None:
        raise InputError("at must be timezone-aware (e.g. 2015-10-06T08:00-04:00)", field="at")
    rules = group_rules(catalogue)
    with store.begin() as conn:
        # Exclusive: reports in flight commit first, later ones wait; read after the lock, so
        # a report stored meanwhile is grouped, not unlinked.
        lock_all(store, conn)
        kept, no_location, ungrouped = _rebuild_input(store, catalogue, rules, at)
        grouping, result_rows, members = _rebuild_rows(kept, catalogue, rules, snap, at)
        work_order_repo.clear_work_orders(store, conn)
        ids = work_order_repo.insert_work_orders(store, conn, result_rows)
        if grouping is not None:
            fails = grouping.failed_repair_of.tolist()
            work_order_repo.update_work_orders(
                store,
                conn,
                [
                    {"work_order_id": ids[w], "failed_repair_of": ids[f]}
                    for w, f in enumerate(fails)
                    if f >= 0
                ],
            )
            links = [(m.service_request_id, ids[w]) for w, mem in enumerate(members) for m in mem]
            work_order_repo.link_requests(store, conn, links)
    n_wo = len(result_rows)
    failed = 0 if grouping is None else int((grouping.failed_repair_of >= 0).sum())
    return RebuildSummary(
        work_orders=n_wo,
        requests_grouped=len(kept),
        reports_merged=len(kept) - n_wo,
        failed_repairs=failed,
        skipped_no_location=no_location,
        skipped_ungrouped=ungrouped,
    )


def _rebuild_input(
    store: Store, catalogue: Catalogue, rules: dict[str, GroupRule], at: datetime | None
) -> tuple[list[ServiceRequest], int, int]:
    # The requests a rebuild groups, in time order, and the counts of those it skips.
    end = at + timedelta(microseconds=1) if at is not None else None
    reqs = sorted(
        request_repo.query_requests(store, request_repo.RequestFilters(end=end)), key=_sort_key
    )
    kept: list[ServiceRequest] = []
    no_location = ungrouped = 0
    for r in reqs:
        group = catalogue.service(r.service_code).group
        if group not in rules:
            ungrouped += 1
        elif not _has_location(r):
            no_location += 1
        else:
            kept.append(r)
    return kept, no_location, ungrouped


def _rebuild_rows(
    kept: Sequence[ServiceRequest],
    catalogue: Catalogue,
    rules: dict[str, GroupRule],
    snap: Snap | None,
    at: datetime | None,
) -> tuple[Grouping | None, list[dict[str, Any]], list[list[ServiceRequest]]]:
    # The grouping of ``kept``, its work-order rows and each work order's members.
    if not kept:
        return None, [], []
    names = sorted(rules)
    grouping, group_code = _group_in_time_order(kept, catalogue, rules, names, at)
    members: list[list[ServiceRequest]] = [[] for _ in range(grouping.n_work_orders)]
    for req, label in zip(kept, grouping.labels.tolist(), strict=True):
        members[label].append(req)
    rows: list[dict[str, Any]] = []
    for w, mem in enumerate(members):
        row = _summarise(
            mem, catalogue, group=names[int(group_code[grouping.anchors[w]])], snap=snap, at=at
        )
        row.update(anchor_lat=mem[0].lat, anchor_lon=mem[0].long, failed_repair_of=None)
        rows.append(row)
    return grouping, rows, members


def _group_in_time_order(
    kept: Sequence[ServiceRequest],
    catalogue: Catalogue,
    rules: dict[str, GroupRule],
    names: Sequence[str],
    at: datetime | None,
) -> tuple[Grouping, np.ndarray]:
    # The arrays of geo311.workorders.clustering.group_points for requests already in time order.
    code_of = {g: i for i, g in enumerate(names)}
    x, y = project([r.lat for r in kept], [r.long for r in kept])
    t = np.array([to_micros(r.requested_datetime) for r in kept], dtype=np.int64)
    closes = [request_close_time(r, catalogue, at=at) for r in kept]
    close = np.array([INF_TIME if c is None else to_micros(c) for c in closes], dtype=np.int64)
    group_code = np.array(
        [code_of[catalogue.service(r.service_code).group] for r in kept], dtype=np.int64
    )
    radius = np.array([rules[g].radius_m for g in names], dtype=np.float64)
    window = np.array([rules[g].failed_repair // timedelta(microseconds=1) for g in names])
    rule_arrays = GroupArrays(radius=radius, window=window)
    grouping = group_points(
        x, y, t, close, group_code, rules=rule_arrays, order=np.arange(len(kept))
    )
    return grouping, group_code


def assign_request(
    store: Store,
    request: ServiceRequest | str,
    catalogue: Catalogue,
    *,
    snap: Snap | None = None,
) -> Assignment:
    """Put one stored, new report into a work order: join an open one nearby or open one.

    Parameters
    ----------
    store
        The store holding the request.
    request
        The request, or its ``service_request_id`` to read it from the store. Once the
        grouping locks are held, the stored request's work order, service and location are
        checked against it.
    catalogue
        Groups, radii, failed-repair windows and states.
    snap
        ``snap(lat, lon) -> (lat, lon)`` for the work order's representative point.

    Returns
    -------
    Assignment
        The work order, whether the report joined one, and a message a citizen can read.
        Reports of a group that is not merged, or without a location yet, get
        ``work_order_id=None`` and a message saying why.

    Raises
    ------
    NotFoundError
        If the request is not stored.
    ConflictError
        If the request is already in a work order (rebuild to regroup), or its stored service
        or location differs from the given request.
    """
    req = request_repo.get_request(store, request) if isinstance(request, str) else request
    rid = req.service_request_id
    _check_unassigned(rid, req.work_order_id)
    service = catalogue.service(req.service_code)
    rule = group_rules(catalogue).get(service.group)
    if rule is None:
        return Assignment(None, False, f"{service.name} reports are handled one by one.")
    if not _has_location(req):
        return Assignment(
            None, False, "Your report has no location yet; it joins a work order once geocoded."
        )
    assert req.lat is not None and req.long is not None
    t = req.requested_datetime
    dlat = 2.0 * rule.radius_m / _M_PER_DEG_LAT
    dlon = dlat / max(math.cos(math.radians(req.lat)), 0.01)
    bbox = (req.long - dlon, req.lat - dlat, req.long + dlon, req.lat + dlat)
    reach = LOCK_REACH * rule.radius_m
    keys = cell_keys(service.group, req.lat, req.long, radius_m=rule.radius_m, reach_m=reach)
    with store.begin() as conn:
        lock_cells(store, conn, keys)  # only reports that could merge with this one wait
        _check_stored(req, request_state(conn, rid))  # e.g. a rebuild may have grouped it
        cands = work_order_repo.work_order_anchors_near(
            store,
            conn,
            group=service.group,
            bbox=bbox,
            opened_until=t + LIVE_ARRIVAL_SLACK,
            closed_since=t - rule.failed_repair,
        )
        xs, ys = project(
            [req.lat] + [c["anchor_lat"] for c in cands],
            [req.long] + [c["anchor_lon"] for c in cands],
        )
        best, failed = choose_work_order(
            float(xs[0]),
            float(ys[0]),
            to_micros(t),
            to_micros(t - rule.failed_repair),
            rule.radius_m * rule.radius_m,
            Candidates(
                xs[1:].tolist(),
                ys[1:].tolist(),
                [
                    INF_TIME if c["closed_datetime"] is None else to_micros(c["closed_datetime"])
                    for c in cands
                ],
            ),
        )
        failed_id = None if failed < 0 else int(cands[failed]["work_order_id"])
        summary = _Summary(catalogue, service.group, snap)
        if best >= 0:
            wid, msg, count = _join(store, conn, req, cands[best], failed_id, summary)
            _tell_merged(conn, req.service_request_id, wid, at=t)
        else:
            row = summary.of([req])
            row.update(anchor_lat=req.lat, anchor_lon=req.long, failed_repair_of=failed_id)
            wid = work_order_repo.insert_work_orders(store, conn, [row])[0]
            work_order_repo.link_requests(store, conn, [(req.service_request_id, wid)])
            msg = f"Opened work order {wid} for your report."
            count = 1
        if failed_id is not None:
            _tell_reopened(conn, failed_id, at=t)
    if failed_id is not None:
        msg += f" It may be a failed repair of work order {failed_id}, closed recently nearby."
    return Assignment(wid, best >= 0, msg, failed_id, count)


def _check_unassigned(rid: str, work_order_id: int | None) -> None:
    if work_order_id is not None:
        raise ConflictError(
            f"service request {rid!r} is already in work order {work_order_id}; "
            "run rebuild_work_orders to regroup"
        )


def _check_stored(req: ServiceRequest, stored: dict[str, Any]) -> None:
    # The request as stored now (under the locks) is the one being grouped, still ungrouped.
    _check_unassigned(req.service_request_id, stored["work_order_id"])
    given = (req.service_code, req.lat, req.long, req.requested_datetime, req.status)
    names = ("service_code", "lat", "lon", "requested_datetime", "status")
    changed = [n for n, v in zip(names, given, strict=True) if stored[n] != v]
    if changed:
        raise ConflictError(
            f"service request {req.service_request_id!r} is stored with other "
            f"{', '.join(changed)} than given; pass its service_request_id to group it as stored"
        )


def lock_work_order(
    store: Store, conn: Connection, catalogue: Catalogue, work_order_id: int
) -> None:
    """Lock one work order against concurrent grouping until the transaction ends.

    Takes the lock of the map cell of its anchor (the cell every report that could join it
    or flag it locks too), or the global grouping lock when its group is no longer merged.

    Parameters
    ----------
    store
        The store.
    conn
        The open transaction (``store.begin()``).
    catalogue
        Gives the group's duplicate radius (the grid).
    work_order_id
        The work order.

    Raises
    ------
    NotFoundError
        If the work order does not exist.
    """
    group, lat, lon = work_order_anchor(conn, work_order_id)
    rule = group_rules(catalogue).get(group)
    if rule is None or lat is None or lon is None:
        lock_all(store, conn)
        return
    lock_cells(store, conn, cell_keys(group, lat, lon, radius_m=rule.radius_m, reach_m=0.0))


@dataclass(frozen=True, slots=True)
class _Summary:
    """How a work order's row is summarised from its members: its catalogue, group, snap."""

    catalogue: Catalogue
    group: str
    snap: Snap | None

    def of(self, members: Sequence[ServiceRequest]) -> dict[str, Any]:
        return _summarise(members, self.catalogue, group=self.group, snap=self.snap)


def _join(
    store: Store,
    conn: Connection,
    req: ServiceRequest,
    cand: dict[str, Any],
    failed_id: int | None,
    summary: _Summary,
) -> tuple[int, str, int]:
    # The report joins the work order ``cand``: resummarise it with the new member.
    wid = int(cand["work_order_id"])
    mem = sorted([*work_order_repo.work_order_members(store, conn, [wid])[wid], req], key=_sort_key)
    row = summary.of(mem)
    current = summary.catalogue.states.get(cand["status"])
    if row["status"] == "open" and current is not None and current.is_open:
        row["status"] = current.code  # keep a dispatcher's open state (e.g. scheduled)
    row["work_order_id"] = wid
    if cand["failed_repair_of"] is None and failed_id is not None:
        row["failed_repair_of"] = failed_id
    else:
        row["failed_repair_of"] = cand["failed_repair_of"]
    work_order_repo.update_work_orders(store, conn, [row])
    work_order_repo.link_requests(store, conn, [(req.service_request_id, wid)])
    earlier = len(mem) - 1
    msg = (
        f"Joined work order {wid} with {earlier} earlier "
        f"report{'s' if earlier != 1 else ''} of this problem nearby."
    )
    return wid, msg, len(mem)


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """Return the embedded service catalogue (loaded once)."""
    return load_catalogue()


def _tell_merged(conn: Any, request_id: str, work_order_id: int, *, at: datetime) -> None:
    """Queue "already reported, N neighbours too" for a report that joined a work order."""
    enqueue(
        conn,
        Event(
            type="merged",
            service_request_id=request_id,
            work_order_id=work_order_id,
            occurred_at=at,
        ),
    )


def _tell_reopened(conn: Any, failed_id: int, *, at: datetime) -> None:
    """Queue "reopened" for the reporters of a recently closed work order reported again."""
    note = "The problem was reported again nearby after the repair; a crew will look again."
    event = WorkOrderEvent(type="reopened", work_order_id=failed_id, occurred_at=at, note=note)
    enqueue_work_order(conn, event)
