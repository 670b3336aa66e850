"""Benchmark: travel-time matrices with routing.engine.matrix vs networkx, on two graphs.

1. the embedded Back Bay graph (cold load vs GraphML cache load, then 100x100 and 500x500);
2. a generated city-scale graph (perturbed grid, >= 50,000 nodes, one-way streets, speed
   classes, missing maxspeeds).

Both sides compute the same thing: for every origin, the fastest time to every destination,
starting and ending part-way along the snapped edges. The networkx side runs
``networkx.single_source_dijkstra_path_length`` from each end node an origin can leave by and
combines it with the partial-edge costs. When the full networkx run would take minutes it is
timed on a sample of origins and scaled up (printed as "extrapolated"); its values are checked
against ours on that sample.

In the same run the previous implementation (scipy ``dijkstra`` per origin plus pointer
doubling over the predecessor arrays for the distances, read from git at ``--baseline-ref``)
computes the same matrices, and its values are compared with ours. Ours and the previous
implementation are timed ``--repeats`` times (median), in rounds interleaved with slices of
the networkx sample so that load changes on a shared machine hit every side alike. The load
average is printed.

Run:  .venv/bin/python bench/matrix_bench.py [--side 224] [--nx-sample 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import networkx as nx
import numpy as np

from routing.engine.graph import Snap, StreetGraph, build_street_graph, load_street_graph
from routing.engine.matrix import _THREADS_MIN_WORK, travel_time_matrix
from routing.engine.matrix_search import thread_work_bytes, worker_count

BOSTON = (42.30, -71.15)
BASELINE_REF = (
    "65cee6d"  # routing.engine.matrix before the compiled search (scipy + pointer doubling)
)


def generated_city(side: int, seed: int = 0) -> nx.MultiDiGraph:
    """A side x side perturbed street grid with arterials, one-ways and missing speeds."""
    rng = np.random.default_rng(seed)
    dlat, dlon = 0.0009, 0.0012  # about 100 m each way
    g = nx.MultiDiGraph(crs="epsg:4326")
    jitter = rng.normal(0, 0.15, size=(side, side, 2))
    for r in range(side):
        for c in range(side):
            g.add_node(
                r * side + c,
                y=BOSTON[0] + (r + jitter[r, c, 0]) * dlat,
                x=BOSTON[1] + (c + jitter[r, c, 1]) * dlon,
            )

    def street(line: int) -> tuple[str, str | None, str]:
        if line % 16 == 0:
            return "primary", "35 mph", "two"
        if line % 4 == 0:
            return "secondary", ("30 mph" if line % 8 else None), "two"
        return "residential", ("25 mph" if line % 3 else None), ("fwd" if line % 2 else "back")

    def add(u: int, v: int, name: str, hwy: str, speed: str | None, oneway: bool) -> None:
        a, b = g.nodes[u], g.nodes[v]
        length = _metres(a["y"], a["x"], b["y"], b["x"])
        attrs = {"name": name, "highway": hwy, "oneway": oneway, "length": length}
        if speed:
            attrs["maxspeed"] = speed
        g.add_edge(u, v, **attrs)

    for r in range(side):
        for c in range(side):
            n = r * side + c
            for line, other, kind in ((r, n + 1, "row"), (c, n + side, "col")):
                if (kind == "row" and c + 1 == side) or (kind == "col" and r + 1 == side):
                    continue
                hwy, speed, way = street(line)
                if hwy == "residential" and rng.random() < 0.04:
                    continue  # a missing block
                name = f"{kind.title()} {line} {'Avenue' if hwy != 'residential' else 'Street'}"
                if way in ("two", "fwd"):
                    add(n, other, name, hwy, speed, way != "two")
                if way in ("two", "back"):
                    add(other, n, name, hwy, speed, way != "two")
    return g


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_009.0 * math.asin(math.sqrt(a))


def random_snaps(graph: StreetGraph, n: int, seed: int) -> list[Snap]:
    rng = np.random.default_rng(seed)
    s, w, north, e = graph.summary.bbox
    lats = rng.uniform(s, north, n)
    lons = rng.uniform(w, e, n)
    return graph.snap_many(lats, lons, max_distance_m=2_000)


def networkx_rows(graph: StreetGraph, origins: list[Snap], targets: list[Snap]) -> np.ndarray:
    """The same matrix rows with networkx.single_source_dijkstra_path_length."""
    t, rev, ids = graph.edge_time_s, graph.edge_reverse, graph.node_ids
    u_of, v_of = graph.edge_u, graph.edge_v

    def sides(s: Snap) -> list[tuple[int, float]]:
        out = [(s.edge, s.fraction)]
        if rev[s.edge] >= 0:
            out.append((int(rev[s.edge]), 1 - s.fraction))
        return out

    # a point exactly at an edge's end node is also reachable from / can leave by that node
    entries = [
        [(int(ids[u_of[e]]), f * t[e]) for e, f in sides(s)]
        + ([(int(ids[v_of[s.edge]]), 0.0)] if s.fraction >= 1 - 1e-9 else [])
        for s in targets
    ]
    out = np.full((len(origins), len(targets)), np.inf)
    for i, s in enumerate(origins):
        exits = [(int(ids[v_of[e]]), (1 - f) * t[e]) for e, f in sides(s)]
        if s.fraction <= 1e-9:
            exits.append((int(ids[u_of[s.edge]]), 0.0))
        for node_id, start in exits:
            dist = nx.single_source_dijkstra_path_length(graph.graph, node_id, weight="travel_time")
            for j, ent in enumerate(entries):
                best = min(start + dist[node] + cost for node, cost in ent)
                out[i, j] = min(out[i, j], best)
    return out


def same_street(a: Snap, b: Snap, graph: StreetGraph) -> bool:
    return b.edge in (a.edge, int(graph.edge_reverse[a.edge]))


def load_baseline(ref: str) -> Callable[..., Any] | None:
    """The previous ``travel_time_matrix`` (scipy dijkstra + pointer doubling) from git."""
    try:
        source = subprocess.run(
            ["git", "show", f"{ref}:routing/engine/matrix.py"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent.parent,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"(no baseline: git show {ref}:routing/engine/matrix.py failed: {exc})")
        return None
    module = types.ModuleType("_baseline_matrix")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:routing/engine/matrix.py", "exec"), module.__dict__)
    return cast(Callable[..., Any], module.travel_time_matrix)


def _timed(fn: Callable[..., Any], *args: Any, **kw: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def bench_graph(  # noqa: PLR0915 - one measured sequence, printed in order
    title: str,
    graph: StreetGraph,
    sizes: list[int],
    nx_sample: int,
    baseline: Callable[..., Any] | None,
    repeats: int,
) -> None:
    print(f"\n== {title}")
    for line in graph.summary.lines():
        print(line)
    threads = worker_count()
    for n in sizes:
        snaps = random_snaps(graph, n, seed=n)
        print(f"  {n}x{n}  (load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
        # one round = ours (default threads), ours (1 thread), previous, and a slice of the
        # networkx sample, so that load changes on the shared machine hit all of them alike
        k = min(n, nx_sample)
        slices = np.array_split(np.arange(k), repeats)
        runs: dict[str, list[float]] = {"ours": [], "one": [], "old": []}
        ref = np.full((k, n), np.inf)
        nx_seconds = 0.0
        matrix = single = prev = None
        for part in slices:
            t, matrix = _timed(travel_time_matrix, graph, snaps)
            runs["ours"].append(t)
            t, single = _timed(travel_time_matrix, graph, snaps, workers=1)
            runs["one"].append(t)
            if baseline is not None:
                t, prev = _timed(baseline, graph, snaps)
                runs["old"].append(t)
            if part.size:
                t, rows = _timed(networkx_rows, graph, [snaps[i] for i in part], snaps)
                ref[part] = rows
                nx_seconds += t
        assert matrix is not None and single is not None
        ours, one = statistics.median(runs["ours"]), statistics.median(runs["one"])
        assert np.array_equal(single.durations_s, matrix.durations_s)
        assert np.array_equal(single.distances_m, matrix.distances_m)
        old = math.nan
        if prev is not None:
            old = statistics.median(runs["old"])
            d_time = float(np.max(np.abs(prev.durations_s - matrix.durations_s)))
            d_dist = float(np.max(np.abs(prev.distances_m - matrix.distances_m)))
        nx_time = nx_seconds * n / k
        worst = max(
            (
                abs(matrix.durations_s[i, j] - ref[i, j])
                for i in range(k)
                for j in range(n)
                if not same_street(snaps[i], snaps[j], graph)
            ),
            default=0.0,
        )
        # paths are still recoverable and add up to the matrix entries
        rng = np.random.default_rng(n)
        t0 = time.perf_counter()
        gaps = []
        for i, j in rng.integers(0, n, size=(5, 2)):
            path = matrix.path(int(i), int(j))
            gaps.append(abs(sum(e.length_m for e in path.edges) - matrix.distances_m[i, j]))
        path_ms = (time.perf_counter() - t0) / 5 * 1e3
        how = "measured" if k == n else f"extrapolated from {k} of {n} origins"
        used = threads if n * matrix._search.m >= _THREADS_MIN_WORK else 1
        print(
            f"    routing.engine.matrix     {ours:8.3f} s (default: {used} thread(s)) | {one:8.3f} s (1 thread)"
        )
        if baseline is not None:
            print(
                f"    previous (scipy)   {old:8.3f} s | same values: max |dt| {d_time:.1e} s, "
                f"max |dd| {d_dist:.1e} m"
            )
        print(f"    networkx           {nx_time:8.2f} s ({how}); max |diff| {worst:.2e} s")
        print(
            f"    speed-up vs networkx {nx_time / ours:7.1f}x ({nx_time / one:.1f}x on 1 thread)"
            + (f" | vs previous {old / ours:5.1f}x" if baseline is not None else "")
        )
        print(
            f"    path(i, j): {path_ms:.1f} ms each; |sum of edge lengths - distances_m| "
            f"<= {max(gaps):.1e} m"
        )
    n = sizes[-1]
    snaps = random_snaps(graph, n, seed=n)
    tracemalloc.start()
    matrix = travel_time_matrix(graph, snaps)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    search = matrix._search
    used = threads if n * search.m >= _THREADS_MIN_WORK else 1
    work = thread_work_bytes(search.m, search.csr.nnz) * min(used, math.ceil(n / 32))
    print(
        f"  {n}x{n} memory: peak traced (numpy arrays: search graph, results, predecessors) "
        f"{peak / 2**20:.1f} MiB + compiled search work arrays {work / 2**20:.1f} MiB "
        f"({used} thread(s))"
    )
    if baseline is not None:
        tracemalloc.start()
        baseline(graph, snaps)
        _, old_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  {n}x{n} memory of the previous implementation: {old_peak / 2**20:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=224, help="grid side (224 -> 50,176 nodes)")
    parser.add_argument("--nx-sample", type=int, default=20, help="origins timed with networkx")
    parser.add_argument(
        "--baseline-ref", default=BASELINE_REF, help="git ref of the previous routing.engine.matrix"
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds (median of ours)")
    args = parser.parse_args()
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    baseline = load_baseline(args.baseline_ref)

    t0 = time.perf_counter()
    warm = build_street_graph(generated_city(4), source="warm-up")
    travel_time_matrix(warm, [warm.snap_to_node(int(warm.node_ids[0]))])
    print(f"compiled search ready in {time.perf_counter() - t0:.2f} s (numba, cached on disk)")

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        load_street_graph(cache_dir=cache)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        backbay = load_street_graph(cache_dir=cache)
        warm_load = time.perf_counter() - t0
    print(
        f"embedded graph load: cold (parse OSM XML) {cold:.2f} s, GraphML cache {warm_load:.2f} s"
    )
    bench_graph("embedded Back Bay graph", backbay, [100, 500], 500, baseline, args.repeats)

    t0 = time.perf_counter()
    raw = generated_city(args.side)
    city = build_street_graph(raw, source=f"generated {args.side}x{args.side} grid")
    print(f"\ngenerated city graph built in {time.perf_counter() - t0:.1f} s")
    bench_graph(
        "generated city-scale graph", city, [100, 500], args.nx_sample, baseline, args.repeats
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS: {rss:.0f} MiB")
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")


if __name__ == "__main__":
    main()
