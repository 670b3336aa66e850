"""Fast spatial grouping of reports into work orders (the array core of geo311.workorders.grouping).

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
Speed: a KD-tree (``scipy.spatial.cKDTree.query_pairs``) finds every pair of same-group points
within the radius; a vectorised fixed point bounds each potential work order's close time, so
pairs that can never matter are dropped and most points (no earlier point whose work order could
be open or recently closed nearby) open their own work order without entering the Python loop.
The loop then runs only over the remaining points and their few candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import Transformer
from scipy.spatial import cKDTree

INF_TIME = np.iinfo(np.int64).max
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
METRIC_CRS = "EPSG:26986"  # NAD83 / Massachusetts Mainland, metres
_NOT_ANCHOR = -(1 << 62)  # close time of a point that opened no work order


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
    labels
        Work-order index of every point, ``-1`` for points not grouped.
    joined
        Whether the point joined an existing work order (False when it opened one).
    point_failed_repair
        Per point, the closed work order it may be a failed repair of, or ``-1``.
    anchors
        Per work order, the index of the point that opened it.
    close
        Per work order, its close time (``INF_TIME`` while a member is open).
    failed_repair_of
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


@dataclass(frozen=True)
class GroupArrays:
    """The rule of each group code, as arrays indexed by the code.

    Parameters
    ----------
    radius : numpy.ndarray
        Radius in metres per group code; groups with radius 0 are not grouped.
    window : numpy.ndarray
        Failed-repair window per group code, in the unit of the report times.
    """

    radius: np.ndarray
    window: np.ndarray


@dataclass(frozen=True)
class Candidates:
    """The work orders a report may join, in the order they were opened.

    Parameters
    ----------
    wx, wy : list of float
        Their anchors' projected points (metres).
    wclose : list of int
        Their close times (``INF_TIME`` while open).
    """

    wx: list[float]
    wy: list[float]
    wclose: list[int]


def group_points(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    close: np.ndarray,
    group: np.ndarray,
    *,
    rules: GroupArrays,
    order: np.ndarray | None = None,
) -> Grouping:
    """Group points into work orders with the anchor rule (see the module docstring).

    Parameters
    ----------
    x, y
        Projected coordinates in metres; NaN points are not grouped.
    t
        Report times.
    close
        Close time of each report (``INF_TIME`` when still open); values below ``t`` count as
        ``t``.
    group
        Group code of each point (index into the arrays of ``rules``); ``-1`` is not grouped.
    rules
        Radius and failed-repair window per group code (:class:`GroupArrays`).
    order
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
    radius = np.asarray(rules.radius, dtype=np.float64)
    window = np.asarray(rules.window, dtype=np.int64)
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

    n_valid = order.size
    pos = np.full(n, -1, dtype=np.int64)
    pos[order] = np.arange(n_valid)
    pa, pb, d2 = _pairs_within_radius(x, y, group, radius, order, pos)
    bound = _close_bounds(pa, pb, pos, t, close)
    # A pair matters when the earlier point's work order could still be open, or closed
    # within the failed-repair window, at the later point's time.
    lo_b = t[pb] - window[group[pb]]
    rel = bound[pa] >= lo_b
    pa, pb, d2 = pa[rel], pb[rel], d2[rel]
    # Points with no such pair open a work order of their own without looking anything up.
    pos_b = pos[pb]
    by_b = np.argsort(pos_b * n_valid + pos[pa])
    pa, d2, pos_b = pa[by_b], d2[by_b], pos_b[by_b]
    heads_b = np.flatnonzero(np.r_[True, pos_b[1:] != pos_b[:-1]]) if pos_b.size else pos_b
    need = pos_b[heads_b]
    need_idx = order[need]
    ptr = heads_b.tolist() + [int(pos_b.size)]
    is_need = np.zeros(n, dtype=bool)
    is_need[need_idx] = True
    wclose_a = np.where(is_need, _NOT_ANCHOR, close)
    wclose_a[~valid] = _NOT_ANCHOR
    lab_a = np.where(valid, np.arange(n), -1)
    queue = _Queue(
        need=need_idx.tolist(),
        ts=t[need_idx].tolist(),
        cs=close[need_idx].tolist(),
        los=(t[need_idx] - window[group[need_idx]]).tolist(),
        ptr=ptr,
        cand=pa.tolist(),
        cand_d2=d2.tolist(),
    )
    lab_l, jn_l, pf_l, wclose_l, wfail_l = _run(queue, lab_a.tolist(), wclose_a.tolist(), [-1] * n)
    lab_p = np.asarray(lab_l, dtype=np.int64)
    point_failed_p = np.full(n, -1, dtype=np.int64)
    point_failed_p[need_idx] = pf_l
    joined[need_idx] = jn_l
    return _numbered(order, valid, lab_p, point_failed_p, joined, wclose_l, wfail_l)


def _pairs_within_radius(
    x: np.ndarray,
    y: np.ndarray,
    group: np.ndarray,
    radius: np.ndarray,
    order: np.ndarray,
    pos: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Every pair of points of one group within the radius, earlier one first (KD-tree, C speed).
    firsts, seconds = [], []
    for g in np.unique(group[order]).tolist():
        sel = order[group[order] == g]
        if sel.size < 2:
            continue
        tree = cKDTree(np.column_stack([x[sel], y[sel]]), balanced_tree=False, compact_nodes=False)
        pairs = tree.query_pairs(radius[g] * (1 + 1e-9) + 1e-9, output_type="ndarray")
        a, b = sel[pairs[:, 0]], sel[pairs[:, 1]]
        swap = pos[a] > pos[b]
        firsts.append(np.where(swap, b, a))
        seconds.append(np.where(swap, a, b))
    if firsts:
        pa = np.concatenate(firsts)
        pb = np.concatenate(seconds)
    else:
        pa = pb = np.zeros(0, dtype=np.int64)
    # The exact test of the rule (same float operations as choose_work_order).
    dx = x[pa] - x[pb]
    dy = y[pa] - y[pb]
    d2 = dx * dx + dy * dy
    keep = d2 <= radius[group[pb]] ** 2
    pa, pb, d2 = pa[keep], pb[keep], d2[keep]
    return pa, pb, d2


def _close_bounds(
    pa: np.ndarray, pb: np.ndarray, pos: np.ndarray, t: np.ndarray, close: np.ndarray
) -> np.ndarray:
    # Upper bound of the close time of a work order anchored at each point: its members are
    # later points within the radius that arrive while it is open (a fixed point).
    bound = close.copy()
    by_a = np.argsort(pos[pa], kind="stable")
    sa_, sb_ = pa[by_a], pb[by_a]
    if sa_.size:
        heads = np.flatnonzero(np.r_[True, sa_[1:] != sa_[:-1]])
        owners = sa_[heads]
        closes_b, t_b = close[sb_], t[sb_]
        while True:
            vals = np.where(t_b < bound[sa_], closes_b, np.iinfo(np.int64).min)
            top = np.maximum(bound[owners], np.maximum.reduceat(vals, heads))
            if np.array_equal(top, bound[owners]):
                break
            bound[owners] = top
    return bound


def _numbered(
    order: np.ndarray,
    valid: np.ndarray,
    lab_p: np.ndarray,
    point_failed_p: np.ndarray,
    joined: np.ndarray,
    wclose_l: list[int],
    wfail_l: list[int],
) -> Grouping:
    n = valid.size
    labels = np.full(n, -1, dtype=np.int64)
    point_failed = np.full(n, -1, dtype=np.int64)
    # Number work orders by their anchor's arrival (the order they opened).
    anchor_pts = order[(lab_p[order] == order)]
    number = np.full(n, -1, dtype=np.int64)
    number[anchor_pts] = np.arange(anchor_pts.size)
    labels[valid] = number[lab_p[valid]]
    has_pf = point_failed_p >= 0
    point_failed[has_pf] = number[point_failed_p[has_pf]]
    wclose_arr = np.asarray(wclose_l, dtype=np.int64)
    wfail_arr = np.asarray(wfail_l, dtype=np.int64)[anchor_pts]
    wfail_num = np.where(wfail_arr >= 0, number[np.maximum(wfail_arr, 0)], -1)
    return Grouping(
        labels,
        joined,
        point_failed,
        anchor_pts.astype(np.int64),
        wclose_arr[anchor_pts],
        wfail_num,
    )


@dataclass(frozen=True, slots=True)
class _Queue:
    # The points that have candidates, in arrival order: their index, time, close time and
    # window start; their candidates are cand[ptr[k]:ptr[k + 1]] with squared distances.
    need: list[int]
    ts: list[int]
    cs: list[int]
    los: list[int]
    ptr: list[int]
    cand: list[int]
    cand_d2: list[float]


def _run(
    queue: _Queue, lab: list[int], wclose: list[int], wfail: list[int]
) -> tuple[list[int], list[bool], list[int], list[int], list[int]]:
    # The sequential core, only for points with a candidate: candidates are the earlier
    # points within the radius (sorted by arrival), a work order is known by its anchor point,
    # and a point that is no anchor has a close time below every window. Ties go to the
    # earlier anchor because comparisons are strict and candidates come in arrival order.
    need, ts, cs, los = queue.need, queue.ts, queue.cs, queue.los
    ptr, cand, cand_d2 = queue.ptr, queue.cand, queue.cand_d2
    jn = [False] * len(need)
    pf = [-1] * len(need)
    for k, j in enumerate(need):
        tp = ts[k]
        lo = los[k]
        best = -1
        bd = 0.0
        fr = -1
        fc = -1
        for q in range(ptr[k], ptr[k + 1]):
            i = cand[q]
            c = wclose[i]
            if c < lo:
                continue
            if c > tp:
                d2 = cand_d2[q]
                if best < 0 or d2 < bd:
                    best = i
                    bd = d2
            elif c > fc:
                fc = c
                fr = i
        pf[k] = fr
        cp = cs[k]
        if best >= 0:
            lab[j] = best
            jn[k] = True
            if cp > wclose[best]:
                wclose[best] = cp
            if wfail[best] < 0 and fr >= 0:
                wfail[best] = fr
        else:
            lab[j] = j
            wclose[j] = cp
            wfail[j] = fr
    return lab, jn, pf, wclose, wfail


def choose_work_order(
    px: float, py: float, tp: int, lo: int, r2: float, candidates: Candidates
) -> tuple[int, int]:
    """Apply the anchor rule to one report against candidate work orders (oldest first).

    The one-report form of the loop in :func:`group_points`, used by the store's incremental
    path; both must stay identical.

    Parameters
    ----------
    px, py
        The report's projected point (metres).
    tp
        Its time; ``lo`` the start of its failed-repair window (same unit).
    lo
        Start of the failed-repair window.
    r2
        Squared radius.
    candidates
        The candidate work orders, in the order they were opened (:class:`Candidates`).

    Returns
    -------
    (int, int)
        Position of the work order to join (``-1``: open a new one) and of the failed-repair
        work order (``-1``: none).
    """
    wx, wy, wclose = candidates.wx, candidates.wy, candidates.wclose
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
