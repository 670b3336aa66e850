from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from geo311.errors import InputError
from routing.engine.graph import (
    GraphOptions,
    Snap,
    StreetGraph,
    build_street_graph,
    load_street_graph,
)
from routing.engine.matrix import travel_time_matrix, warm_up

from ._graph_data import LAT0, LON0, STEP, metres, tiny_graph


@pytest.fixture(scope="module")
def backbay() -> StreetGraph:
    return load_street_graph()


def _edge(g: StreetGraph, u: int, v: int) -> int:
    return next(
        e for e in range(g.n_edges) if g.node_ids[g.edge_u[e]] == u and g.node_ids[g.edge_v[e]] == v
    )


def _on(g: StreetGraph, u: int, v: int, fraction: float, label: str = "") -> Snap:
    """A snap at a fraction along the edge u -> v (placed via snap() to exercise it)."""
    e = _edge(g, u, v)
    lat = g.node_lat[g.edge_u[e]] + fraction * (g.node_lat[g.edge_v[e]] - g.node_lat[g.edge_u[e]])
    lon = g.node_lon[g.edge_u[e]] + fraction * (g.node_lon[g.edge_v[e]] - g.node_lon[g.edge_u[e]])
    snap = g.snap(lat, lon, label=label)
    if snap.edge != e:  # snapped to the opposite edge of a two-way street
        assert g.edge_reverse[snap.edge] == e
        snap = Snap(
            snap.lat,
            snap.lon,
            e,
            1 - snap.fraction,
            snap.distance_m,
            snap.snapped_lat,
            snap.snapped_lon,
            label,
        )
    assert snap.fraction == pytest.approx(fraction, abs=1e-3)
    return snap


def _t(g: StreetGraph, u: int, v: int) -> float:
    return float(g.edge_time_s[_edge(g, u, v)])


def test_one_way_street_is_respected(tiny: StreetGraph) -> None:
    b, c = tiny.snap_to_node(2), tiny.snap_to_node(3)
    m = travel_time_matrix(tiny, [b, c])
    assert m.durations_s[0, 1] == pytest.approx(_t(tiny, 2, 3))
    # C -> B may not drive Beta Street backwards: C -> D -> A -> B
    around = _t(tiny, 3, 4) + _t(tiny, 4, 1) + _t(tiny, 1, 2)
    assert m.durations_s[1, 0] == pytest.approx(around)
    path = m.path(1, 0)
    assert path.nodes == [3, 4, 1, 2]
    assert [e.name for e in path.edges] == ["Gamma Street", "Delta Street", "Alpha Street"]
    np.testing.assert_allclose(np.diag(m.durations_s), 0.0)


def test_both_points_on_one_one_way_edge(tiny: StreetGraph) -> None:
    a, b = _on(tiny, 2, 3, 0.2, "a"), _on(tiny, 2, 3, 0.7, "b")
    m = travel_time_matrix(tiny, [a, b])
    t23 = _t(tiny, 2, 3)
    assert m.durations_s[0, 1] == pytest.approx(0.5 * t23, rel=1e-3)
    forward = m.path(0, 1)
    assert forward.nodes == [] and len(forward.edges) == 1
    assert forward.edges[0].start_fraction == pytest.approx(0.2, abs=1e-3)
    # b -> a: rest of Beta Street, around the block, then the first 20 % of Beta Street
    back = 0.3 * t23 + _t(tiny, 3, 4) + _t(tiny, 4, 1) + _t(tiny, 1, 2) + 0.2 * t23
    assert m.durations_s[1, 0] == pytest.approx(back, rel=1e-3)
    assert m.path(1, 0).nodes == [3, 4, 1, 2]
    length = tiny.edge_length_m[_edge(tiny, 2, 3)]
    assert m.distances_m[0, 1] == pytest.approx(0.5 * length, rel=1e-3)


def test_both_points_on_one_two_way_edge(tiny: StreetGraph) -> None:
    a, b = _on(tiny, 1, 2, 0.7), _on(tiny, 1, 2, 0.2)
    m = travel_time_matrix(tiny, [a], [b])
    assert m.durations_s[0, 0] == pytest.approx(0.5 * _t(tiny, 2, 1), rel=1e-3)
    (edge,) = m.path(0, 0).edges
    assert (edge.u, edge.v) == (2, 1)  # drove back along the opposite direction


def test_partial_edges_at_both_ends(tiny: StreetGraph) -> None:
    a = _on(tiny, 1, 2, 0.25)  # on Alpha Street (two-way)
    d = _on(tiny, 3, 4, 0.5)  # on Gamma Street (two-way)
    m = travel_time_matrix(tiny, [a], [d])
    expected = 0.75 * _t(tiny, 1, 2) + _t(tiny, 2, 3) + 0.5 * _t(tiny, 3, 4)
    assert m.durations_s[0, 0] == pytest.approx(expected, rel=1e-3)
    path = m.path(0, 0)
    assert [e.name for e in path.edges] == ["Alpha Street", "Beta Street", "Gamma Street"]
    assert path.duration_s == pytest.approx(sum(e.travel_time_s for e in path.edges))
    assert path.distance_m == pytest.approx(sum(e.length_m for e in path.edges))
    coords = path.coords
    assert coords[0] == pytest.approx((a.snapped_lat, a.snapped_lon))
    assert coords[-1] == pytest.approx((d.snapped_lat, d.snapped_lon), abs=1e-7)
    # the polyline turns at B and C
    assert any(metres(*p, LAT0, LON0 + STEP) < 0.5 for p in coords)
    assert path.edges[1].bearing_start == pytest.approx(0, abs=0.1)  # north up Beta Street


def test_node_pairs_equal_networkx(backbay: StreetGraph) -> None:
    rng = np.random.default_rng(7)
    nodes = [int(n) for n in rng.choice(backbay.node_ids, 25, replace=False)]
    m = travel_time_matrix(backbay, [backbay.snap_to_node(n) for n in nodes])
    for i, a in enumerate(nodes):
        times = nx.single_source_dijkstra_path_length(backbay.graph, a, weight="travel_time")
        for j, b in enumerate(nodes):
            assert abs(m.durations_s[i, j] - times[b]) < 1e-6
    # the distance is the length of the fastest path, which networkx finds too
    for i, j in [(0, 1), (3, 9), (24, 2)]:
        route = nx.shortest_path(backbay.graph, nodes[i], nodes[j], weight="travel_time")
        length = sum(
            min(
                d["length"]
                for d in backbay.graph.get_edge_data(u, v).values()
                if d["travel_time"]
                == min(x["travel_time"] for x in backbay.graph.get_edge_data(u, v).values())
            )
            for u, v in zip(route[:-1], route[1:], strict=True)
        )
        assert m.distances_m[i, j] == pytest.approx(length, abs=1e-6)
        assert m.path(i, j).nodes == route


def _split_graph(g: StreetGraph, snaps: list[Snap]) -> nx.MultiDiGraph:
    """networkx reference: every snapped point becomes a node splitting its edge(s)."""
    ref = nx.MultiDiGraph(g.graph)
    for i, s in enumerate(snaps):
        sides = [(s.edge, s.fraction)]
        if g.edge_reverse[s.edge] >= 0:
            sides.append((int(g.edge_reverse[s.edge]), 1 - s.fraction))
        for e, f in sides:
            u, v, t = int(g.node_ids[g.edge_u[e]]), int(g.node_ids[g.edge_v[e]]), g.edge_time_s[e]
            ref.add_edge(u, ("p", i), travel_time=f * t)
            ref.add_edge(("p", i), v, travel_time=(1 - f) * t)
    return ref


def test_snapped_points_equal_networkx_on_split_graph(backbay: StreetGraph) -> None:
    rng = np.random.default_rng(3)
    lats = rng.uniform(42.340, 42.352, 200)
    lons = rng.uniform(-71.085, -71.068, 200)
    snaps = backbay.snap_many(lats, lons, max_distance_m=1_000)
    # keep points on distinct streets so the split reference graph stays exact
    seen: set[int] = set()
    chosen: list[Snap] = []
    for s in snaps:
        street = {s.edge, int(backbay.edge_reverse[s.edge])}
        if not street & seen:
            seen |= street
            chosen.append(s)
        if len(chosen) == 30:
            break
    assert len(chosen) == 30
    m = travel_time_matrix(backbay, chosen)
    ref = _split_graph(backbay, chosen)
    worst = 0.0
    for i in range(len(chosen)):
        times = nx.single_source_dijkstra_path_length(ref, ("p", i), weight="travel_time")
        for j in range(len(chosen)):
            worst = max(worst, abs(m.durations_s[i, j] - times[("p", j)]))
    assert worst < 1e-6
    for i, j in [(0, 5), (12, 3), (29, 17)]:
        path = m.path(i, j)
        assert path.duration_s == pytest.approx(sum(e.travel_time_s for e in path.edges))
        assert path.distance_m == pytest.approx(sum(e.length_m for e in path.edges))
        assert all(e.name or e.highway for e in path.edges)


def test_rectangular_matrix_and_path_errors(backbay: StreetGraph) -> None:
    snaps = backbay.snap_many([42.345, 42.348, 42.350], [-71.080, -71.075, -71.085])
    m = travel_time_matrix(backbay, snaps[:1], snaps, chunk_size=1)
    assert m.durations_s.shape == m.distances_m.shape == (1, 3) == m.shape
    assert m.durations_s[0, 0] == 0.0 and (m.durations_s[0, 1:] > 0).all()
    assert (m.distances_m[0, 1:] > 0).all()
    with pytest.raises(InputError, match="j=3"):
        m.path(0, 3)
    with pytest.raises(InputError, match="snaps_to"):
        travel_time_matrix(backbay, snaps, [(42.3, -71.0)])  # type: ignore[list-item]


def test_congestion_scales_the_matrix(tiny: StreetGraph) -> None:
    rush = build_street_graph(tiny_graph(), GraphOptions(congestion_hour=17))
    snaps = [tiny.snap_to_node(n) for n in (1, 2, 3, 4)]
    free = travel_time_matrix(tiny, snaps).durations_s
    slow = travel_time_matrix(rush, [rush.snap_to_node(n) for n in (1, 2, 3, 4)]).durations_s
    factor = rush.edge_time_s.sum() / tiny.edge_time_s.sum()
    assert factor > 1.0
    np.testing.assert_allclose(slow, free * factor)
    assert not math.isinf(slow.max())


def test_matches_scipy_dijkstra_and_path_lengths(backbay: StreetGraph) -> None:
    """Every entry equals scipy's Dijkstra on the same search graph; distances add up."""
    from scipy.sparse.csgraph import dijkstra

    from routing.engine.matrix import _SearchGraph

    rng = np.random.default_rng(11)
    s, w, n, e = backbay.summary.bbox
    snaps = backbay.snap_many(rng.uniform(s, n, 60), rng.uniform(w, e, 60), max_distance_m=2_000)
    m = travel_time_matrix(backbay, snaps[:40], snaps[20:])
    search = _SearchGraph(backbay, snaps[:40], snaps[20:])
    ref = dijkstra(search.csr, directed=True, indices=np.arange(40) + search.n_graph)
    np.testing.assert_allclose(m.durations_s, ref[:, search.n_graph + 40 :], rtol=0, atol=1e-9)
    for i, j in rng.integers(0, 40, size=(15, 2)):
        path = m.path(int(i), int(j))
        assert path.distance_m == pytest.approx(sum(x.length_m for x in path.edges), abs=1e-6)
        assert path.duration_s == pytest.approx(sum(x.travel_time_s for x in path.edges), abs=1e-6)


def test_threads_and_lazy_paths_give_the_same_result(
    backbay: StreetGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    import routing.engine.matrix as matrix_module

    rng = np.random.default_rng(5)
    s, w, n, e = backbay.summary.bbox
    snaps = backbay.snap_many(rng.uniform(s, n, 70), rng.uniform(w, e, 70), max_distance_m=2_000)
    one = travel_time_matrix(backbay, snaps, workers=1)
    two = travel_time_matrix(backbay, snaps, workers=2, chunk_size=5)
    np.testing.assert_array_equal(one.durations_s, two.durations_s)
    np.testing.assert_array_equal(one.distances_m, two.distances_m)
    # large matrices keep no predecessor trees: a path is searched again on demand
    monkeypatch.setattr(matrix_module, "_KEEP_PREDECESSORS_MAX", 0)
    lazy = travel_time_matrix(backbay, snaps)
    assert lazy._pred == {}
    for i, j in [(0, 69), (33, 4), (50, 51)]:
        kept, again = one.path(i, j), lazy.path(i, j)
        assert again.nodes == kept.nodes
        assert [x.edge for x in again.edges] == [x.edge for x in kept.edges]
    with pytest.raises(InputError, match="workers"):
        travel_time_matrix(backbay, snaps, workers=0)


def test_warm_up_compiles_the_search_a_matrix_uses(tiny: StreetGraph) -> None:
    from routing.engine.matrix_search import _search_block

    warm_up()
    travel_time_matrix(tiny, [tiny.snap_to_node(1), tiny.snap_to_node(3)])
    assert len(_search_block.signatures) == 1  # the matrix reused the warm-up's compile
