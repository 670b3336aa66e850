"""The locks of work-order grouping: one per (service group, map cell), not one for the city.

A report can only merge with (or flag as a failed repair) a work order of its group whose
anchor lies within the group's duplicate radius of it. So a report locks the cells of a grid
(per group) that the box of ``LOCK_REACH`` radii around it touches, and two reports that could
see each other's work order, or both touch one work order, always share a cell: the cell
holding that anchor lies in both boxes. Reports far apart lock different cells and commit in
parallel; the merge rule itself is unchanged (:mod:`geo311.workorders.grouping`).

On PostgreSQL the locks are transaction-level advisory locks, scoped to the store's schema:
every grouping transaction first takes the global grouping lock *shared*, then its cells
(two-key advisory locks: the schema's hash, then a stable hash of group and cell) in ascending
key order, so two transactions never wait for each other in a cycle. A full rebuild takes the
global lock *exclusive* (:func:`geo311.workorders.repo.lock_work_orders`): it waits for the reports
in flight and they wait for it. SQLite has one writer: there a grouping transaction takes the
write lock before it reads, so it sees every committed work order and no other grouping runs
meanwhile.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db.schema import requests, work_orders
from geo311.db.store import LOCK_SCOPE_SQL, WORK_ORDERS_LOCK_SQL, Store
from geo311.errors import NotFoundError
from geo311.workorders import repo as work_order_repo

# Half the side of a report's lock box, in duplicate radii. The box is drawn in degrees with
# 111,000 m per degree of latitude (a degree is 110,574 to 111,694 m) and the cosine of the
# report's latitude, and the radius is measured in a conformal projection (scale within 0.1 %
# of 1): a quarter more than the radius covers every anchor the rule can match.
LOCK_REACH = 1.25
_M_PER_DEG_LAT = 111_000.0


def _cell_key(group: str, row: int, col: int) -> int:
    """Return the stable signed 32-bit key of one cell (the same in every process)."""
    digest = hashlib.blake2b(f"{group}\x1f{row}\x1f{col}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def cell_keys(group: str, lat: float, lon: float, *, radius_m: float, reach_m: float) -> list[int]:
    """Return the lock keys of the cells a box around a point touches, ascending.

    The grid of a group has rows ``LOCK_REACH * radius_m`` metres high (more than the radius)
    and, in each row, columns as wide in metres at the row's middle latitude, so a point lies in
    exactly one cell and a report's box touches two or three rows and as many columns (a
    fourth column only where the row's and the report's latitudes shift a box edge across).

    Parameters
    ----------
    group
        The service group (each group has its own grid and keys).
    lat, lon
        The point (EPSG:4326 degrees).
    radius_m
        The group's duplicate radius: sets the grid.
    reach_m
        Half the side of the box (``LOCK_REACH * radius_m`` for a report, 0 for an anchor).

    Returns
    -------
    list of int
        Distinct keys, ascending (the order to take them in).
    """
    if radius_m <= 0:
        raise ValueError(
            f"radius_m must be above 0 (got {radius_m}); group {group!r} is not merged"
        )
    size = LOCK_REACH * radius_m / _M_PER_DEG_LAT  # cell height in degrees
    half_lat = reach_m / _M_PER_DEG_LAT
    half_lon = half_lat / max(math.cos(math.radians(lat)), 0.01)
    keys: set[int] = set()
    for row in range(math.floor((lat - half_lat) / size), math.floor((lat + half_lat) / size) + 1):
        width = size / max(math.cos(math.radians((row + 0.5) * size)), 0.01)
        first, last = math.floor((lon - half_lon) / width), math.floor((lon + half_lon) / width)
        keys.update(_cell_key(group, row, col) for col in range(first, last + 1))
    return sorted(keys)


def lock_cells(store: Store, conn: Connection, keys: list[int]) -> None:
    """Take the grouping locks of a transaction that touches these cells (until it ends).

    PostgreSQL: the global grouping lock shared, then each cell's lock in ascending key order,
    in one statement (a select list is evaluated left to right). SQLite: the write lock.

    Parameters
    ----------
    store
        The store (its dialect decides).
    conn
        The open transaction.
    keys
        Cell keys from :func:`cell_keys` (ascending).
    """
    if store.dialect != "postgresql":
        _sqlite_write_lock(conn)
        return
    conn.execute(_lock_statement(len(keys)), {f"k{i}": k for i, k in enumerate(sorted(keys))})


@lru_cache(maxsize=16)
def _lock_statement(n: int) -> sa.TextClause:
    # The global lock shared, then n cells (parameters k0 < k1 < ...), left to right.
    calls = [f"pg_advisory_xact_lock({LOCK_SCOPE_SQL}, :k{i})" for i in range(n)]
    first = f"pg_advisory_xact_lock_shared({WORK_ORDERS_LOCK_SQL})"
    return sa.text("SELECT " + ", ".join([first, *calls]))


def lock_all(store: Store, conn: Connection) -> None:
    """Take the global grouping lock exclusive (a full rebuild): no report groups meanwhile."""
    if store.dialect != "postgresql":
        _sqlite_write_lock(conn)
        return
    work_order_repo.lock_work_orders(store, conn)


def _sqlite_write_lock(conn: Connection) -> None:
    # An UPDATE that changes nothing still begins the write transaction (pysqlite begins one
    # before any UPDATE): later writers wait here, and the reads that follow see every commit.
    conn.execute(work_orders.update().where(sa.false()).values(report_count=0))


def work_order_anchor(
    conn: Connection, work_order_id: int
) -> tuple[str, float | None, float | None]:
    """Return a work order's group and anchor (``group, lat, lon``); they never change.

    Raises
    ------
    NotFoundError
        If the work order does not exist.
    """
    c = work_orders.c
    row = conn.execute(
        sa.select(c.service_group, c.anchor_lat, c.anchor_lon).where(
            c.work_order_id == work_order_id
        )
    ).first()
    if row is None:
        raise NotFoundError(f"work order {work_order_id} does not exist")
    group, lat, lon = row
    return str(group), lat, lon


_REQUEST_STATE = sa.select(
    requests.c.work_order_id,
    requests.c.service_code,
    requests.c.lat,
    requests.c.lon,
    requests.c.requested_datetime,
    requests.c.status,
).where(requests.c.service_request_id == sa.bindparam("rid"))


def request_state(conn: Connection, service_request_id: str) -> dict[str, Any]:
    """Return what grouping reads of a stored request, as stored now.

    Returns
    -------
    dict
        ``work_order_id``, ``service_code``, ``lat``, ``lon``, ``requested_datetime``,
        ``status``.

    Raises
    ------
    NotFoundError
        If no request has this id.
    """
    row = conn.execute(_REQUEST_STATE, {"rid": service_request_id}).first()
    if row is None:
        raise NotFoundError(f"service_request_id {service_request_id!r} does not exist")
    return dict(row._mapping)
