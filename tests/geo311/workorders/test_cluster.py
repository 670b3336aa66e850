"""Property tests of the array grouping core against a direct, quadratic reading of the rule."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from geo311.workorders.clustering import (
    INF_TIME,
    Candidates,
    GroupArrays,
    choose_work_order,
    group_points,
)

RADIUS = np.array([25.0, 15.0])
WINDOW = np.array([30, 30], dtype=np.int64)


def naive(x, y, t, close, group, radius, window):
    """The anchor rule read literally: O(n^2), no grid, no pruning."""
    order = np.argsort(t, kind="stable")
    wo_group, wo_x, wo_y, wo_close, wo_fail, anchors = [], [], [], [], [], []
    labels = np.full(len(x), -1)
    point_fail = np.full(len(x), -1)
    for j in order:
        g = group[j]
        tj = t[j]
        cj = max(close[j], tj)
        r2 = radius[g] ** 2
        open_c = [
            w
            for w in range(len(anchors))
            if wo_group[w] == g
            and wo_close[w] > tj
            and (wo_x[w] - x[j]) ** 2 + (wo_y[w] - y[j]) ** 2 <= r2
        ]
        closed_c = [
            w
            for w in range(len(anchors))
            if wo_group[w] == g
            and tj - window[g] <= wo_close[w] <= tj
            and (wo_x[w] - x[j]) ** 2 + (wo_y[w] - y[j]) ** 2 <= r2
        ]
        fr = -1
        if closed_c:
            fr = min(closed_c, key=lambda w: (-wo_close[w], w))
        point_fail[j] = fr
        if open_c:
            best = min(open_c, key=lambda w: ((wo_x[w] - x[j]) ** 2 + (wo_y[w] - y[j]) ** 2, w))
            labels[j] = best
            wo_close[best] = max(wo_close[best], cj)
            if wo_fail[best] < 0 and fr >= 0:
                wo_fail[best] = fr
        else:
            labels[j] = len(anchors)
            anchors.append(j)
            wo_group.append(g)
            wo_x.append(x[j])
            wo_y.append(y[j])
            wo_close.append(cj)
            wo_fail.append(fr)
    return labels, np.array(anchors), np.array(wo_close), np.array(wo_fail), point_fail


point = st.tuples(
    st.floats(0, 120, allow_nan=False),  # x metres (a few grid cells)
    st.floats(0, 120, allow_nan=False),
    st.integers(0, 200),  # time
    st.one_of(st.integers(0, 60), st.none()),  # open for ... (None: still open)
    st.integers(0, 1),  # group
)


def arrays(points):
    x = np.array([p[0] for p in points], dtype=float)
    y = np.array([p[1] for p in points], dtype=float)
    t = np.array([p[2] for p in points], dtype=np.int64)
    close = np.array([INF_TIME if p[3] is None else p[2] + p[3] for p in points], dtype=np.int64)
    group = np.array([p[4] for p in points], dtype=np.int64)
    return x, y, t, close, group


@settings(max_examples=150, deadline=None)
@given(st.lists(point, min_size=1, max_size=60))
def test_grid_core_equals_literal_rule(points):
    x, y, t, close, group = arrays(points)
    res = group_points(x, y, t, close, group, rules=GroupArrays(radius=RADIUS, window=WINDOW))
    labels, anchors, wclose, wfail, pfail = naive(x, y, t, close, group, RADIUS, WINDOW)
    assert res.labels.tolist() == labels.tolist()
    assert res.anchors.tolist() == anchors.tolist()
    assert res.close.tolist() == wclose.tolist()
    assert res.failed_repair_of.tolist() == wfail.tolist()
    assert res.point_failed_repair.tolist() == pfail.tolist()


@settings(max_examples=150, deadline=None)
@given(st.lists(point, min_size=1, max_size=60))
def test_grouping_invariants(points):
    x, y, t, close, group = arrays(points)
    res = group_points(x, y, t, close, group, rules=GroupArrays(radius=RADIUS, window=WINDOW))
    lab = res.labels
    a = res.anchors[lab]
    # Every member is within its group's radius of its work order's anchor, same group.
    assert np.all((x - x[a]) ** 2 + (y - y[a]) ** 2 <= RADIUS[group] ** 2)
    assert np.all(group[a] == group)
    # The anchor is the earliest member and opened the work order.
    assert np.all(t[a] <= t)
    assert not res.joined[res.anchors].any()
    assert int(res.joined.sum()) == len(points) - res.n_work_orders
    # A work order closes when its last member closes.
    for w in range(res.n_work_orders):
        assert res.close[w] == max(max(close[lab == w]), max(t[lab == w]))
    # When a work order opens, no open work order of its group is anchored within the radius.
    for w, j in enumerate(res.anchors):
        for v in range(w):
            i = res.anchors[v]
            if group[i] != group[j]:
                continue
            members_before = (lab == v) & (np.arange(len(t)) != j)
            members_before &= t <= t[j]
            open_then = np.any(np.maximum(close[members_before], t[members_before]) > t[j])
            near = (x[i] - x[j]) ** 2 + (y[i] - y[j]) ** 2 <= RADIUS[group[j]] ** 2
            assert not (open_then and near and t[i] <= t[j])


def test_points_without_location_or_group_are_not_grouped():
    x = np.array([0.0, np.nan, 1.0, 2.0])
    y = np.array([0.0, 0.0, 0.0, 0.0])
    t = np.array([0, 1, 2, 3])
    close = np.full(4, INF_TIME)
    group = np.array([0, 0, -1, 2])
    res = group_points(
        x,
        y,
        t,
        close,
        group,
        rules=GroupArrays(radius=np.array([25.0, 15.0, 0.0]), window=np.array([30, 30, 30])),
    )
    assert res.labels.tolist() == [0, -1, -1, -1]


def test_choose_work_order_prefers_nearest_open_then_latest_closure():
    best, failed = choose_work_order(
        0.0,
        0.0,
        100,
        70,
        25.0**2,
        Candidates(
            [20.0, 10.0, 5.0, 3.0, 30.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [INF_TIME, 150, 90, 95, INF_TIME],
        ),
    )
    assert best == 1  # the nearest open one within 25 m (the 30 m one is too far)
    assert failed == 3  # closed at 95, later than the one closed at 90


def test_far_apart_cells_and_negative_coordinates():
    # Points on both sides of grid cell borders and far apart in one call.
    x = np.array([-1e4, -1e4 + 24.9, 5e4, 5e4 + 25.1])
    y = np.array([3e3, 3e3, -2e3, -2e3])
    t = np.array([0, 1, 2, 3])
    res = group_points(
        x,
        y,
        t,
        np.full(4, INF_TIME),
        np.zeros(4, dtype=np.int64),
        rules=GroupArrays(radius=RADIUS, window=WINDOW),
    )
    assert res.labels.tolist() == [0, 0, 1, 2]
