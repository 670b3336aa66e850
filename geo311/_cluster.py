"""Fast spatial grouping of reports into work orders (the array core of geo311.workorders).

The rule (the *anchor rule*), applied to reports in time order:

* a work order's **anchor** is the point of the report that opened it; it never moves;
* a work order is **open at time t** when any member's close time is later than ``t``
  (its close time is the latest member close time; a member still open closes at +inf);
* a report joins the open work order of its group whose anchor is nearest, when that anchor is
  within the group's radius (``dx**2 + dy**2 <= r**2`` in projected metres; ties: the
  work order opened first); otherwise it opens a new work order anchored at itself;
* a report is a possible **failed repair** of the work order of its group, closed in the window
  ``t - window <= close <= t``, whose anchor is within the radius (latest close first, ties: the
  work order opened first).

Invariants this guarantees: every member is within the radius of its anchor; when a work order
is opened, no open work order of its group has its anchor within the radius, so two work orders
of a group that are open at the same time have anchors more than the radius apart unless the
second was opened while the first was closed; the result only depends on the reports' order.

Distances are in a projected CRS (metres); times are integers (microseconds since the epoch).
The grid index has cells of twice the radius and checks the 2x2 cells a disc can touch; cells drop work orders
that closed before any future report's failed-repair window, so memory and time stay linear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import Transformer

INF_TIME = np.iinfo(np.int64).max
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
METRIC_CRS = "EPSG:26986"  # NAD83 / Massachusetts Mainland, metres
_KEY_SHIFT = 1 << 25
_GROUP_SHIFT = 1 << 50


def to_micros(dt: datetime) -> int:
    """Return an aware datetime as exact integer microseconds since the Unix epoch."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: geo311 uses timezone-aware times only")
    return (dt - _EPOCH) // _US


@lru_cache(maxsize=4)
def _transformer(crs: str) -> Transformer:
    return Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def project(lat: Any, lon: Any, *, crs: str = METRIC_CRS) -> tuple[np.ndarray, np.ndarray]:
    """Project EPSG:4326 degrees to metres (``x``, ``y`` arrays) in ``crs``."""
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    x, y = _transformer(crs).transform(np.atleast_1d(lon_a), np.atleast_1d(lat_a))
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


@dataclass(frozen=True)
class Grouping:
    """Result of :func:`group_points`; work orders are numbered in the order they opened.

    Attributes
    ----------
    labels : ndarray of int64
        Work-order index of every point, ``-1`` for points not grouped.
    joined : ndarray of bool
        Whether the point joined an existing work order (False when it opened one).
    point_failed_repair : ndarray of int64
        Per point, the closed work order it may be a failed repair of, or ``-1``.
    anchors : ndarray of int64
        Per work order, the index of the point that opened it.
    close : ndarray of int64
        Per work order, its close time (``INF_TIME`` while a member is open).
    failed_repair_of : ndarray of int64
        Per work order, the first failed-repair link among its members in arrival order, or -1.
    """

    labels: np.ndarray
    joined: np.ndarray
    point_failed_repair: np.ndarray
    anchors: np.ndarray
    close: np.ndarray
    failed_repair_of: np.ndarray

    @property
    def n_work_orders(self) -> int:
        """Number of work orders."""
        return int(self.anchors.size)


def group_points(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    close: np.ndarray,
    group: np.ndarray,
    *,
    radius: np.ndarray,
    window: np.ndarray,
    order: np.ndarray | None = None,
) -> Grouping:
    """Group points into work orders with the anchor rule (see the module docstring).

    Parameters
    ----------
    x, y : ndarray of float
        Projected coordinates in metres; NaN points are not grouped.
    t : ndarray of int64
        Report times.
    close : ndarray of int64
        Close time of each report (``INF_TIME`` when still open); values below ``t`` count as
        ``t``.
    group : ndarray of int
        Group code of each point (index into ``radius``/``window``); ``-1`` is not grouped.
    radius : ndarray of float
        Radius in metres per group code; groups with radius 0 are not grouped.
    window : ndarray of int64
        Failed-repair window per group code, in the unit of ``t``.
    order : ndarray of int, optional
        Arrival order (indices of the points); default stable sort by ``t``.

    Returns
    -------
    Grouping
        Labels and work-order arrays.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    t = np.asarray(t, dtype=np.int64)
    close = np.maximum(np.asarray(close, dtype=np.int64), t)
    group = np.asarray(group, dtype=np.int64)
    radius = np.asarray(radius, dtype=np.float64)
    window = np.asarray(window, dtype=np.int64)
    n = x.size
    if not (y.size == t.size == close.size == group.size == n):
        raise ValueError("x, y, t, close and group must have the same length")
    if order is None:
        order = np.argsort(t, kind="stable")
    order = np.asarray(order, dtype=np.int64)

    labels = np.full(n, -1, dtype=np.int64)
    joined = np.zeros(n, dtype=bool)
    point_failed = np.full(n, -1, dtype=np.int64)
    gsafe = np.where(group >= 0, group, 0)
    valid = (group >= 0) & np.isfinite(x) & np.isfinite(y)
    valid &= np.where(group >= 0, radius[gsafe] > 0, False)
    order = order[valid[order]]
    if order.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Grouping(labels, joined, point_failed, empty, empty, empty)

    g_o = group[order]
    r_o = radius[g_o]
    x_o = x[order]
    y_o = y[order]
    # Grid cells of side 2 * radius: a disc of the radius touches at most 2 x 2 cells, the
    # point's own cell and its neighbours on the side of the cell the point lies in.
    side = 2.0 * r_o
    fx = (x_o - x_o.min()) / side
    fy = (y_o - y_o.min()) / side
    ix = np.floor(fx).astype(np.int64) + 1
    iy = np.floor(fy).astype(np.int64) + 1
    if ix.max() >= _KEY_SHIFT - 1 or iy.max() >= _KEY_SHIFT - 1:
        raise ValueError("points span too large an area for the grid; group one city at a time")
    keys = g_o * _GROUP_SHIFT + ix * _KEY_SHIFT + iy
    sx = np.where(fx - (ix - 1) < 0.5, -_KEY_SHIFT, _KEY_SHIFT)
    sy = np.where(fy - (iy - 1) < 0.5, -1, 1)
    lab, jn, pf, anchors, wclose, wfail = _run(
        order.tolist(),
        x_o.tolist(),
        y_o.tolist(),
        t[order].tolist(),
        close[order].tolist(),
        keys.tolist(),
        (keys + sx).tolist(),
        (keys + sy).tolist(),
        (keys + sx + sy).tolist(),
        (r_o * r_o).tolist(),
        (t[order] - window[g_o]).tolist(),
    )
    labels[order] = lab
    joined[order] = jn
    point_failed[order] = pf
    return Grouping(
        labels,
        joined,
        point_failed,
        np.asarray(anchors, dtype=np.int64),
        np.asarray(wclose, dtype=np.int64),
        np.asarray(wfail, dtype=np.int64),
    )


def _run(
    idx: list[int],
    xs: list[float],
    ys: list[float],
    ts: list[int],
    cs: list[int],
    keys: list[int],
    keys_x: list[int],
    keys_y: list[int],
    keys_xy: list[int],
    r2s: list[float],
    los: list[int],
) -> tuple[list[int], list[bool], list[int], list[int], list[int], list[int]]:
    # The sequential core: one pass in arrival order over plain Python lists (a few dict
    # look-ups per point), so the rule stays easy to read and to mirror in the store path.
    grid: dict[int, list[int]] = {}
    ax: list[float] = []
    ay: list[float] = []
    wclose: list[int] = []
    wfail: list[int] = []
    anchors: list[int] = []
    n = len(xs)
    lab = [-1] * n
    jn = [False] * n
    pf = [-1] * n
    get = grid.get
    rows = zip(idx, xs, ys, ts, cs, keys, keys_x, keys_y, keys_xy, r2s, los, strict=True)
    for k, (i, px, py, tp, cp, kp, kx, ky, kxy, r2, lo) in enumerate(rows):
        best = -1
        bd = 0.0
        fr = -1
        fc = -1
        for cell in (get(kp), get(kx), get(ky), get(kxy)):
            if cell is None:
                continue
            stale = 0
            for w in cell:
                c = wclose[w]
                if c < lo:
                    stale += 1
                    continue
                dx = ax[w] - px
                dy = ay[w] - py
                d2 = dx * dx + dy * dy
                if d2 <= r2:
                    if c > tp:
                        if best < 0 or d2 < bd or (d2 == bd and w < best):
                            best = w
                            bd = d2
                    elif c > fc or (c == fc and w < fr):
                        fc = c
                        fr = w
            if stale > 4 and 2 * stale > len(cell):
                cell[:] = [w for w in cell if wclose[w] >= lo]
        pf[k] = fr
        if best >= 0:
            lab[k] = best
            jn[k] = True
            if cp > wclose[best]:
                wclose[best] = cp
            if wfail[best] < 0 and fr >= 0:
                wfail[best] = fr
        else:
            w = len(anchors)
            anchors.append(i)
            ax.append(px)
            ay.append(py)
            wclose.append(cp)
            wfail.append(fr)
            lab[k] = w
            cell = get(kp)
            if cell is None:
                grid[kp] = [w]
            else:
                cell.append(w)
    return lab, jn, pf, anchors, wclose, wfail


def choose_work_order(
    px: float,
    py: float,
    tp: int,
    lo: int,
    r2: float,
    wx: list[float],
    wy: list[float],
    wclose: list[int],
) -> tuple[int, int]:
    """Apply the anchor rule to one report against candidate work orders (oldest first).

    The one-report form of the loop in :func:`group_points`, used by the store's incremental
    path; both must stay identical.

    Parameters
    ----------
    px, py : float
        The report's projected point (metres).
    tp : int
        Its time; ``lo`` the start of its failed-repair window (same unit).
    lo : int
        Start of the failed-repair window.
    r2 : float
        Squared radius.
    wx, wy : list of float
        Candidate anchors, in the order the work orders were opened.
    wclose : list of int
        Candidate close times (``INF_TIME`` while open).

    Returns
    -------
    (int, int)
        Position of the work order to join (``-1``: open a new one) and of the failed-repair
        work order (``-1``: none).
    """
    best = -1
    bd = 0.0
    fr = -1
    fc = -1
    for w in range(len(wx)):
        c = wclose[w]
        if c < lo:
            continue
        dx = wx[w] - px
        dy = wy[w] - py
        d2 = dx * dx + dy * dy
        if d2 <= r2:
            if c > tp:
                if best < 0 or d2 < bd or (d2 == bd and w < best):
                    best = w
                    bd = d2
            elif c > fc or (c == fc and w < fr):
                fc = c
                fr = w
    return best, fr
