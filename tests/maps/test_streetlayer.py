"""The streets a map file carries: clipped to its extent, simplified, named at street zoom."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import shapely

from geo311.errors import InputError
from maps.base import ONLINE_NAME, add_streets, base_map, write_map
from maps.hotspots import hotspot_bounds
from maps.streetlayer import SCALE, StreetLines, densest_extent, street_layer_data

LAT = 42.35
M_LAT = 1 / 111_320  # degrees of latitude per metre
M_LON = 1 / (111_320 * math.cos(math.radians(LAT)))


def _line(*points: tuple[float, float]) -> shapely.LineString:
    """A line from (east, north) offsets in metres from (LAT, -71.08)."""
    return shapely.LineString([(-71.08 + x * M_LON, LAT + y * M_LAT) for x, y in points])


def _streets(*rows: tuple[shapely.LineString, str, str]) -> StreetLines:
    return StreetLines(
        np.array([r[0] for r in rows], dtype=object),
        tuple(r[1] for r in rows),
        tuple(r[2] for r in rows),
    )


def _decode(row: list[int]) -> np.ndarray:
    steps = np.array(row[2:], dtype=np.int64).reshape(-1, 2)
    return np.cumsum(steps, axis=0) / SCALE  # lon, lat


def _bounds(half_m: float) -> tuple[tuple[float, float], tuple[float, float]]:
    return (LAT - half_m * M_LAT, -71.08 - half_m * M_LON), (
        LAT + half_m * M_LAT,
        -71.08 + half_m * M_LON,
    )


def test_streets_are_clipped_to_the_maps_extent_and_a_margin() -> None:
    streets = _streets(
        (_line((-5000, 0), (5000, 0)), "Commonwealth Avenue", "primary"),  # crosses the map
        (_line((3000, 3000), (3500, 3000)), "Far Street", "residential"),  # 3 km away
    )
    data = street_layer_data(streets, _bounds(500), margin_m=200)
    assert data.names == ["Commonwealth Ave"]
    assert len(data.streets) == 1
    xy = _decode(data.streets[0])
    east_m = (xy[:, 0] + 71.08) / M_LON
    assert east_m.min() == pytest.approx(-700, abs=2) and east_m.max() == pytest.approx(700, abs=2)
    assert street_layer_data(streets, _bounds(500), margin_m=3000).names == [
        "Commonwealth Ave",
        "Far St",
    ]


def test_straight_runs_are_simplified_and_bends_kept() -> None:
    straight = _line(*[(x, 0.0) for x in range(0, 1001, 10)])  # 101 points on a line
    bend = _line((0, 100), (300, 100), (300, 400))
    wiggle = _line((0, -100), (150, -100.5), (300, -100))  # 0.5 m off: below 2 m tolerance
    streets = _streets(
        (straight, "Beacon Street", "secondary"),
        (bend, "Dartmouth Street", "residential"),
        (wiggle, "", "service"),
    )
    data = street_layer_data(streets, _bounds(1500), tolerance_m=2.0)
    points = {data.names[r[1]] if r[1] >= 0 else "": _decode(r) for r in data.streets}
    assert len(points["Beacon St"]) == 2
    assert len(points["Dartmouth St"]) == 3
    assert len(points[""]) == 2
    # the encoding loses at most 1e-5 degree (about a metre)
    corner = points["Dartmouth St"][1]
    assert corner[0] == pytest.approx(-71.08 + 300 * M_LON, abs=1.01 / SCALE)
    assert corner[1] == pytest.approx(LAT + 100 * M_LAT, abs=1.01 / SCALE)
    assert data.kinds == ["residential", "secondary", "service"]


def test_pieces_of_one_street_are_joined() -> None:
    streets = _streets(
        (_line((0, 0), (100, 0)), "Newbury Street", "residential"),
        (_line((100, 0), (200, 0)), "Newbury Street", "residential"),
        (_line((200, 0), (300, 0)), "Newbury Street", "residential"),
    )
    data = street_layer_data(streets, _bounds(1000))
    assert len(data.streets) == 1 and len(_decode(data.streets[0])) == 2


def test_named_streets_get_labels_along_them_and_unnamed_ones_none() -> None:
    streets = _streets(
        (_line((-600, 0), (600, 0)), "Commonwealth Avenue", "primary"),  # east-west, 1.2 km
        (_line((0, -250), (0, 250)), "Dartmouth Street", "residential"),  # north-south
        (_line((300, 300), (330, 300)), "Tiny Court", "service"),  # 30 m: no room for a name
        (_line((-300, -300), (300, -300)), "", "service"),
    )
    data = street_layer_data(streets, _bounds(1000), label_spacing_m=400)
    by_name: dict[str, list[list[float]]] = {}
    for lat, lon, angle, name in data.labels:
        by_name.setdefault(data.names[int(name)], []).append([lat, lon, angle])
    assert set(by_name) == {"Commonwealth Ave", "Dartmouth St"}
    assert len(by_name["Commonwealth Ave"]) == 3  # 1,200 m / 400 m
    assert all(abs(a) < 1 for _, _, a in by_name["Commonwealth Ave"])
    assert [abs(a) for _, _, a in by_name["Dartmouth St"]] == [pytest.approx(90, abs=1)]
    lat, lon, _ = by_name["Dartmouth St"][0]
    assert lat == pytest.approx(LAT, abs=2 * M_LAT) and lon == pytest.approx(-71.08, abs=1e-5)
    assert "Tiny Ct" in data.names  # drawn, not labelled
    assert any(r[1] == -1 for r in data.streets)  # the unnamed street, drawn


def test_bounds_the_wrong_way_round_are_refused_naming_the_field() -> None:
    streets = _streets((_line((0, 0), (100, 0)), "A Street", "residential"))
    with pytest.raises(InputError, match="bounds") as err:
        street_layer_data(streets, ((42.36, -71.08), (42.35, -71.07)))
    assert err.value.field == "bounds"


def test_lines_from_a_graph_keep_each_two_way_street_once() -> None:
    a, b = _line((0, 0), (100, 0)), _line((100, 0), (0, 0))
    one_way = _line((0, 50), (100, 50))
    graph = SimpleNamespace(
        edge_reverse=np.array([1, 0, -1]),
        edge_geometry=np.array([a, b, one_way], dtype=object),
        edge_name=["Marlborough Street", "Marlborough Street", ""],
        edge_highway=["residential", "residential", "['primary_link']"],
    )
    lines = StreetLines.from_graph(graph)
    assert lines.names == ("Marlborough Street", "")
    assert lines.kinds == ("residential", "primary")


def test_a_map_with_streets_opens_on_them_and_keeps_online_tiles_one_click_away(
    tmp_path: Path,
) -> None:
    streets = _streets((_line((-300, 0), (300, 0)), "Boylston Street", "secondary"))
    m = base_map(location=(LAT, -71.08))
    m.fit_bounds([list(_bounds(200)[0]), list(_bounds(200)[1])])
    add_streets(m, streets)
    page = write_map(m, tmp_path / "m.html").read_text(encoding="utf-8")
    assert "Boylston St" in page and '"kinds": ["secondary"]' in page
    assert f'"{ONLINE_NAME}"' in page and '"Streets (works offline)"' in page  # layer control
    online = re.search(r"(tile_layer_\w+) = L\.tileLayer\(\s*\"https://tile\.openstreetmap", page)
    street = re.search(r"var (street_layer_\w+) = ", page)
    assert online and street
    assert f"{online[1]}.addTo(" not in page  # off when the page opens
    assert f"{street[1]}.addTo(" in page


def test_without_streets_the_online_tiles_stay_on_and_no_street_data_is_written() -> None:
    m = base_map(location=(LAT, -71.08))
    add_streets(m, None)
    page = m.get_root().render()
    assert "g311Streets" not in page
    assert "tile.openstreetmap.org" in page


def test_the_hotspot_map_opens_on_its_busiest_group_of_hot_cells() -> None:
    import h3

    downtown = h3.latlng_to_cell(42.355, -71.06, 8)
    near = [c for c in h3.grid_disk(downtown, 1) if c != downtown][0]
    far = h3.latlng_to_cell(42.25, -71.12, 8)
    gi = pd.DataFrame(
        {"count": [90, 40, 60], "gi_class": ["hot_fdr", "hot_fdr", "hot_fdr"]},
        index=[downtown, near, far],
    )
    frame = pd.DataFrame({"lat": [42.3, 42.36], "lon": [-71.1, -71.05]})
    (s, w), (n, e) = hotspot_bounds(frame, gi)
    assert s < 42.355 < n and w < -71.06 < e
    assert s > 42.3  # the lone hot cell 12 km south is not in the view
    no_hot = gi.assign(gi_class="ns")
    assert hotspot_bounds(frame, no_hot)[0][0] == pytest.approx(42.3 + 0.02 * 0.06)


def test_street_data_of_a_whole_map_stays_small() -> None:
    grid = [
        (_line((x, -1000), (x, 1000)), f"Street {x}", "residential")
        for x in range(-1000, 1001, 100)
    ]
    data = street_layer_data(_streets(*grid), _bounds(1000))
    size = len(json.dumps(data.to_json(), separators=(",", ":")))
    assert size < 6_000, size  # 21 streets of 2 km: a few bytes per point


def test_the_densest_part_of_the_streets_is_where_a_city_map_opens() -> None:
    core = [
        (_line((x, 0), (x, 600)), f"Core {x}", "residential") for x in range(0, 601, 50)
    ]  # 13 streets of 600 m in a 600 m square
    sparse = [(_line((3000, y), (3500, y)), "", "service") for y in (-3000, 3000)]
    (s, w), (n, e) = densest_extent(_streets(*core, *sparse), cell_m=400, cells=3) or (
        (0, 0),
        (0, 0),
    )
    assert s <= LAT + 300 * M_LAT <= n and w <= -71.08 + 300 * M_LON <= e
    assert (n - s) / M_LAT == pytest.approx(1200, rel=0.01)  # 3 cells of 400 m
    assert e < -71.08 + 2000 * M_LON  # not out at the sparse streets
    empty = StreetLines(np.array([], dtype=object), (), ())
    assert densest_extent(empty) is None
