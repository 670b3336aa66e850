from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import osmium
import pytest

from geo311.errors import ConfigurationError, InputError, RoutingError
from geo311.settings import REPO_DATA_DIR
from routing.engine.graph import (
    GraphOptions,
    SnapError,
    StreetGraph,
    build_street_graph,
    load_street_graph,
)
from routing.engine.graph_pbf import is_drivable
from routing.engine.graph_speeds import MPH_TO_KPH, load_speed_settings, parse_maxspeed

from ._graph_data import LAT0, LON0, STEP, metres, tiny_graph

OSM_FILE = REPO_DATA_DIR / "osm" / "boston_backbay_drive.osm.bz2"


@pytest.fixture(scope="module")
def backbay(tmp_path_factory: pytest.TempPathFactory) -> StreetGraph:
    return load_street_graph(cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.mark.parametrize(
    ("value", "kph"),
    [
        ("25 mph", 25 * MPH_TO_KPH),
        ("40", 40.0),
        ("50 km/h", 50.0),
        (["25 mph", "35 mph"], 30 * MPH_TO_KPH),
        ("['25 mph', '45 mph']", 35 * MPH_TO_KPH),  # a list after a GraphML round trip
        ("30;50", 40.0),
        ("signals", None),
        ("none", None),
        (None, None),
    ],
)
def test_parse_maxspeed(value: object, kph: float | None) -> None:
    got = parse_maxspeed(value)
    if kph is None:
        assert got is None
    else:
        assert got == pytest.approx(kph)


def test_travel_times_from_maxspeed_and_class_defaults(tiny: StreetGraph) -> None:
    settings = load_speed_settings()
    data = tiny.graph.get_edge_data(1, 2)[0]
    assert data["speed_source"] == "maxspeed"
    assert data["travel_time"] == pytest.approx(data["length"] / (25 * MPH_TO_KPH / 3.6))
    beta = tiny.graph.get_edge_data(2, 3)[0]
    assert beta["speed_source"] == "default"
    assert beta["speed_kph"] == pytest.approx(settings.defaults_kph["residential"])


def test_speeds_file_changes_defaults_and_congestion(tmp_path: Path) -> None:
    text = (REPO_DATA_DIR / "speeds.toml").read_text()
    custom = tmp_path / "speeds.toml"
    custom.write_text(text.replace("residential = 20", "residential = 10"))
    free = build_street_graph(tiny_graph(), GraphOptions(speeds_file=custom))
    assert free.graph.get_edge_data(2, 3)[0]["speed_kph"] == pytest.approx(10 * MPH_TO_KPH)
    rush = build_street_graph(tiny_graph(), GraphOptions(speeds_file=custom, congestion_hour=8))
    factor = load_speed_settings(custom).congestion[8]
    assert factor > 1.0
    np.testing.assert_allclose(rush.edge_time_s, free.edge_time_s * factor)
    with pytest.raises(InputError, match="congestion_hour"):
        build_street_graph(tiny_graph(), GraphOptions(congestion_hour=24))
    custom.write_text(text.replace("residential = 20", "residential = -5"))
    with pytest.raises(ConfigurationError, match="defaults.residential"):
        load_speed_settings(custom)


def test_largest_strongly_connected_component(tiny: StreetGraph) -> None:
    assert 5 not in tiny.node_index
    assert tiny.summary.dropped_nodes == 1
    assert tiny.summary.nodes == 4
    assert tiny.summary.edges == 6
    assert tiny.summary.oneway_edges == 2
    assert nx.is_strongly_connected(tiny.graph)


def test_twin_edges_and_arrays(tiny: StreetGraph) -> None:
    e12 = next(
        e
        for e in range(tiny.n_edges)
        if tiny.node_ids[tiny.edge_u[e]] == 1 and tiny.node_ids[tiny.edge_v[e]] == 2
    )
    e21 = int(tiny.edge_reverse[e12])
    assert tiny.node_ids[tiny.edge_u[e21]] == 2 and tiny.node_ids[tiny.edge_v[e21]] == 1
    e23 = next(e for e in range(tiny.n_edges) if tiny.edge_name[e] == "Beta Street")
    assert tiny.edge_reverse[e23] == -1 and tiny.edge_oneway[e23]
    i1, i2 = tiny.node_index[1], tiny.node_index[2]
    assert tiny.time_csr[i1, i2] == pytest.approx(tiny.edge_time_s[e12])
    assert tiny.length_csr[i2, i1] == pytest.approx(tiny.edge_length_m[e21])
    assert tiny.time_csr[i2, i1] > 0 and tiny.time_csr[tiny.node_index[3], i2] == 0  # one-way
    # east-bound along Alpha Street, then north-bound up Beta Street
    assert tiny.edge_bearings(e12)[0] == pytest.approx(90, abs=0.1)
    assert tiny.edge_bearings(e23)[0] == pytest.approx(0, abs=0.1)


def test_snap_to_nearest_edge_not_node(tiny: StreetGraph) -> None:
    # 20 m south of Alpha Street, 30 % of the way from A to B: nearest node is 25+ m away
    lat = LAT0 - 20 / 111_000
    snap = tiny.snap(lat, LON0 + 0.3 * STEP, label="WO-1")
    assert tiny.edge_name[snap.edge] == "Alpha Street"
    u, v = tiny.node_ids[tiny.edge_u[snap.edge]], tiny.node_ids[tiny.edge_v[snap.edge]]
    along = snap.fraction if (u, v) == (1, 2) else 1 - snap.fraction
    assert along == pytest.approx(0.3, abs=0.01)
    assert snap.distance_m == pytest.approx(20, abs=1)
    assert snap.snapped_lat == pytest.approx(LAT0, abs=1e-6)
    assert snap.label == "WO-1"


def test_snap_far_point_is_an_error_naming_it(tiny: StreetGraph) -> None:
    with pytest.raises(SnapError) as info:
        tiny.snap_many(
            [LAT0 + 0.0005, LAT0 + 0.05], [LON0 + 0.0005, LON0], labels=["near", "WO-77"]
        )
    assert isinstance(info.value, RoutingError)
    assert info.value.indices == [1]
    assert "WO-77" in str(info.value) and "max_distance_m" in str(info.value)
    # a larger limit accepts it
    snap = tiny.snap(LAT0 + 0.05, LON0, max_distance_m=10_000)
    assert snap.distance_m > 5_000
    with pytest.raises(InputError, match="lons"):
        tiny.snap_many([LAT0], [LON0, LON0])


def test_snap_many_matches_single_snaps(backbay: StreetGraph) -> None:
    rng = np.random.default_rng(1)
    lats = rng.uniform(42.340, 42.352, 40)
    lons = rng.uniform(-71.085, -71.070, 40)
    many = backbay.snap_many(lats, lons, max_distance_m=500)
    for k in (0, 7, 39):
        one = backbay.snap(lats[k], lons[k], max_distance_m=500)
        assert one.distance_m == pytest.approx(many[k].distance_m)
    # every snap lies on its edge's geometry, at the reported distance
    for s in many:
        assert metres(s.lat, s.lon, s.snapped_lat, s.snapped_lon) == pytest.approx(
            s.distance_m, rel=0.01, abs=0.5
        )


def test_embedded_graph_summary(backbay: StreetGraph) -> None:
    summary = backbay.summary
    assert summary.nodes == backbay.graph.number_of_nodes() > 400
    assert summary.dropped_nodes > 0
    assert nx.is_strongly_connected(backbay.graph)
    assert 0 < summary.oneway_edges < summary.edges
    s, w, n, e = summary.bbox
    assert 42.33 < s < n < 42.37 and -71.11 < w < e < -71.06
    assert "dropped nodes" in "\n".join(summary.lines())
    named = sum(1 for name in backbay.edge_name if name)
    assert named > 0.9 * backbay.n_edges
    assert "Boylston Street" in backbay.edge_name


def test_graphml_cache_round_trip(tmp_path: Path) -> None:
    cold = load_street_graph(cache_dir=tmp_path)
    warm = load_street_graph(cache_dir=tmp_path)
    assert not cold.summary.from_cache and warm.summary.from_cache
    assert list(tmp_path.glob("*.graphml"))
    assert (warm.summary.nodes, warm.summary.edges, warm.summary.dropped_nodes) == (
        cold.summary.nodes,
        cold.summary.edges,
        cold.summary.dropped_nodes,
    )
    assert sorted(cold.edge_name) == sorted(warm.edge_name)
    np.testing.assert_allclose(np.sort(warm.edge_time_s), np.sort(cold.edge_time_s), rtol=1e-9)
    # the GraphML file itself is also a source
    direct = load_street_graph(next(tmp_path.glob("*.graphml")))
    assert direct.summary.nodes == cold.summary.nodes


def test_pbf_extract(tmp_path: Path, backbay: StreetGraph) -> None:
    pbf = tmp_path / "backbay.osm.pbf"
    writer = osmium.SimpleWriter(str(pbf))
    try:
        for obj in osmium.FileProcessor(str(OSM_FILE)):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                writer.add_way(obj)
    finally:
        writer.close()
    graph = load_street_graph(pbf)
    assert graph.summary.source.endswith(".osm.pbf")
    assert graph.summary.nodes == backbay.summary.nodes
    assert graph.summary.edges == backbay.summary.edges
    assert graph.summary.oneway_edges == backbay.summary.oneway_edges
    assert graph.edge_time_s.sum() == pytest.approx(backbay.edge_time_s.sum())


def test_drive_filter() -> None:
    assert is_drivable({"highway": "residential"})
    assert is_drivable({"highway": "primary_link", "oneway": "yes"})
    assert not is_drivable({"highway": "footway"})
    assert not is_drivable({"highway": "service", "service": "driveway"})
    assert not is_drivable({"highway": "residential", "access": "private"})
    assert not is_drivable({"building": "yes"})


def test_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_street_graph(tmp_path / "missing.osm")
    odd = tmp_path / "streets.csv"
    odd.write_text("x")
    with pytest.raises(InputError, match="cannot tell the format"):
        load_street_graph(odd)
