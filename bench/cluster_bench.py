"""Benchmark: group 1,000,000 synthetic 311 reports into work orders.

Synthetic reports over a square city the size of Boston (~231 km^2, EPSG:26986 around
Boston), 60 % uniform and 40 % around 400 hot spots, times over 2015, two groups (potholes
25 m / 30 days, streetlights 15 m / 30 days), each report closing after an exponential time
(5 % still open). geo311's grouping (``geo311.workorders.clustering``: projection + anchor rule with time
overlap and failed-repair links, the same core the store rebuild uses) is timed next to
``sklearn.cluster.DBSCAN(metric="haversine", algorithm="ball_tree", min_samples=1)`` on the same
points (per group, ``eps = radius / earth radius``; DBSCAN ignores time).

Run: ``.venv/bin/python bench/cluster_bench.py`` (``--n``, ``--dbscan-n`` to run DBSCAN on a
random subset when the machine is busy, ``--no-dbscan``).
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime

import numpy as np
from pyproj import Transformer

from geo311.workorders.clustering import INF_TIME, GroupArrays, group_points, project

EARTH_RADIUS_M = 6_371_008.8
RADIUS = np.array([25.0, 15.0])  # potholes, streetlights
WINDOW_US = np.array([30, 30], dtype=np.int64) * 86_400 * 1_000_000
MEAN_OPEN_DAYS = np.array([3.0, 10.0])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    side = np.sqrt(231e6)
    x0, y0 = 236_000.0 - side / 2, 900_000.0 - side / 2
    n_hot = int(n * 0.4)
    centres = rng.uniform(0, side, size=(400, 2))
    sigma = rng.uniform(80, 400, size=400)
    weight = 1.0 / np.arange(1, 401) ** 0.7
    pick = rng.choice(400, size=n_hot, p=weight / weight.sum())
    hot = centres[pick] + rng.normal(size=(n_hot, 2)) * sigma[pick, None]
    uni = rng.uniform(0, side, size=(n - n_hot, 2))
    xy = np.clip(np.vstack([hot, uni]), 0, side)
    xy[:, 0] += x0
    xy[:, 1] += y0
    inv = Transformer.from_crs("EPSG:26986", "EPSG:4326", always_xy=True)
    lon, lat = inv.transform(xy[:, 0], xy[:, 1])
    group = (rng.random(n) < 0.6).astype(np.int64)  # 0 potholes, 1 streetlights
    start = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp()) * 1_000_000
    year = 365 * 86_400 * 1_000_000
    t = start + rng.integers(0, year, size=n)
    open_us = rng.exponential(MEAN_OPEN_DAYS[group] * 86_400e6).astype(np.int64)
    close = t + open_us
    close[rng.random(n) < 0.05] = INF_TIME
    perm = rng.permutation(n)
    return {
        "lat": np.asarray(lat)[perm],
        "lon": np.asarray(lon)[perm],
        "group": group[perm],
        "t": t[perm],
        "close": close[perm],
    }


def geo311_grouping(d: dict[str, np.ndarray]) -> tuple[float, float, object]:
    t0, c0 = time.perf_counter(), time.process_time()
    x, y = project(d["lat"], d["lon"])
    res = group_points(
        x, y, d["t"], d["close"], d["group"], rules=GroupArrays(radius=RADIUS, window=WINDOW_US)
    )
    return time.perf_counter() - t0, time.process_time() - c0, (res, x, y)


def dbscan(d: dict[str, np.ndarray], idx: np.ndarray) -> tuple[float, float, int]:
    from sklearn.cluster import DBSCAN

    t0, c0 = time.perf_counter(), time.process_time()
    clusters = 0
    for g in (0, 1):
        sel = idx[d["group"][idx] == g]
        pts = np.radians(np.column_stack([d["lat"][sel], d["lon"][sel]]))
        db = DBSCAN(
            eps=RADIUS[g] / EARTH_RADIUS_M, min_samples=1, metric="haversine", algorithm="ball_tree"
        ).fit(pts)
        clusters += int(db.labels_.max()) + 1
    return time.perf_counter() - t0, time.process_time() - c0, clusters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dbscan-n", type=int, default=None, help="DBSCAN on a random subset")
    ap.add_argument("--no-dbscan", action="store_true")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    d = synthetic(args.n, args.seed)
    print(f"{args.n:,} synthetic reports over 231 km^2 (60% uniform, 40% in 400 hot spots), 2015")
    before = rss_mb()
    secs, cpu, (res, x, y) = geo311_grouping(d)
    after = rss_mb()
    labels = res.labels
    merged = int((labels >= 0).sum()) - res.n_work_orders
    failed = int((res.failed_repair_of >= 0).sum())
    # Check the promised invariant on every point: each member is within radius of its anchor.
    a = res.anchors[labels]
    dist2 = (x - x[a]) ** 2 + (y - y[a]) ** 2
    assert bool(np.all(dist2 <= RADIUS[d["group"]] ** 2)), "a member is outside its anchor's radius"
    print(
        f"geo311 grouping (project + anchor rule, time overlap, failed repairs): {secs:6.2f} s "
        f"wall, {cpu:6.2f} s CPU  "
        f"{args.n / secs:,.0f} reports/s  -> {res.n_work_orders:,} work orders, "
        f"{merged:,} reports merged, {failed:,} possible failed repairs"
    )
    print(
        f"  peak RSS {after:,.0f} MB (was {before:,.0f} MB before grouping; +{after - before:,.0f} MB)"
    )
    if args.no_dbscan:
        return
    rng = np.random.default_rng(args.seed + 1)
    m = args.n if args.dbscan_n is None else min(args.n, args.dbscan_n)
    idx = np.arange(args.n) if m == args.n else np.sort(rng.choice(args.n, m, replace=False))
    dsecs, dcpu, clusters = dbscan(d, idx)
    print(
        f"sklearn DBSCAN(haversine, ball_tree, min_samples=1) on {m:,} of the same points "
        f"(space only): {dsecs:6.2f} s wall, {dcpu:6.2f} s CPU  {m / dsecs:,.0f} points/s "
        f"-> {clusters:,} clusters"
    )
    per_point = (dsecs / m) / (secs / args.n)
    per_cpu = (dcpu / m) / (cpu / args.n)
    print(
        f"geo311 is {per_point:.1f}x faster per point than DBSCAN in wall time, {per_cpu:.1f}x in "
        f"CPU time (peak RSS now {rss_mb():,.0f} MB)"
    )


if __name__ == "__main__":
    main()
