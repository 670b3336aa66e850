"""Benchmark: travel-time matrices with routing.matrix vs networkx, on two graphs.

1. the embedded Back Bay graph (cold load vs GraphML cache load, then 100x100 and 500x500);
2. a generated city-scale graph (perturbed grid, >= 50,000 nodes, one-way streets, speed
   classes, missing maxspeeds).

Both sides compute the same thing: for every origin, the fastest time to every destination,
starting and ending part-way along the snapped edges. The networkx side runs
``networkx.single_source_dijkstra_path_length`` from each end node an origin can leave by and
combines it with the partial-edge costs. When the full networkx run would take minutes it is
timed on a sample of origins and scaled up (printed as "extrapolated"); its values are checked
against ours on that sample.

Run:  .venv/bin/python bench/matrix_bench.py [--side 224] [--nx-sample 20]
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time
import tracemalloc

import networkx as nx
import numpy as np

from routing.graph import Snap, StreetGraph, build_street_graph, load_street_graph
from routing.matrix import travel_time_matrix

BOSTON = (42.30, -71.15)


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


def bench_graph(title: str, graph: StreetGraph, sizes: list[int], nx_sample: int) -> None:
    print(f"\n== {title}")
    for line in graph.summary.lines():
        print(line)
    for n in sizes:
        snaps = random_snaps(graph, n, seed=n)
        t0 = time.perf_counter()
        matrix = travel_time_matrix(graph, snaps)
        ours = time.perf_counter() - t0
        k = min(n, nx_sample)
        t0 = time.perf_counter()
        ref = networkx_rows(graph, snaps[:k], snaps)
        nx_time = (time.perf_counter() - t0) * n / k
        worst = max(
            (
                abs(matrix.durations_s[i, j] - ref[i, j])
                for i in range(k)
                for j in range(n)
                if not same_street(snaps[i], snaps[j], graph)
            ),
            default=0.0,
        )
        how = "measured" if k == n else f"extrapolated from {k} of {n} origins"
        print(
            f"  {n}x{n}: routing.matrix {ours:7.3f} s | networkx {nx_time:8.2f} s ({how}) | "
            f"speed-up {nx_time / ours:6.1f}x | max |diff| {worst:.2e} s"
        )
    n = sizes[-1]
    snaps = random_snaps(graph, n, seed=n)
    tracemalloc.start()
    travel_time_matrix(graph, snaps)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  {n}x{n} peak traced memory (numpy/scipy arrays): {peak / 2**20:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=224, help="grid side (224 -> 50,176 nodes)")
    parser.add_argument("--nx-sample", type=int, default=20, help="origins timed with networkx")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        load_street_graph(cache_dir=cache)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        backbay = load_street_graph(cache_dir=cache)
        warm = time.perf_counter() - t0
    print(f"embedded graph load: cold (parse OSM XML) {cold:.2f} s, GraphML cache {warm:.2f} s")
    bench_graph("embedded Back Bay graph", backbay, [100, 500], nx_sample=500)

    t0 = time.perf_counter()
    raw = generated_city(args.side)
    city = build_street_graph(raw, source=f"generated {args.side}x{args.side} grid")
    print(f"\ngenerated city graph built in {time.perf_counter() - t0:.1f} s")
    bench_graph("generated city-scale graph", city, [100, 500], nx_sample=args.nx_sample)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nprocess peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
