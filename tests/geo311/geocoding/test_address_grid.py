"""The block-number grid, OSM address points from PBF and European-order addresses."""

from __future__ import annotations

import math
from pathlib import Path

import osmium
import pytest

from geo311.geocoding.address import parse_address, street_key
from geo311.geocoding.geocoder import Geocoder
from geo311.geocoding.osm import language_names, read_address_points
from tests.geo311.geocoding._grid_city import house, lonlat, write_city

KNOWN = [
    ("Lombard", 212, True),
    ("Lombard", 640, True),
    ("Lombard", 1015, True),
    ("Pratt", 305, True),
    ("Pratt", 902, True),
    ("Aliceanna", 410, True),
    ("Aliceanna", 1120, True),
    ("Lombard", 250, False),
    ("Lombard", 830, False),
    ("Pratt", 414, False),
    ("Pratt", 1007, False),
]


def metres_to(result: object, x: float, y: float) -> float:
    lon, lat = lonlat(x, y)
    r_lat, r_lon = result.lat, result.lon  # type: ignore[attr-defined]
    dx = (r_lon - lon) * 111_320.0 * math.cos(math.radians(lat))
    return math.hypot(dx, (r_lat - lat) * 111_320.0)


@pytest.fixture(scope="module")
def grid_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_city(tmp_path_factory.mktemp("grid") / "grid.osm", KNOWN)


def test_grid_places_numbers_on_streets_without_known_numbers(grid_city: Path) -> None:
    g = Geocoder.from_files(grid_city, grid_city, use_cache=False)
    assert "numbers grow toward 91 deg at 1.0 m per number" in g.grid().describe()
    # Fleet Street has no known number: its hundred-blocks line up with Pratt's and Lombard's.
    for n in (333, 850):
        r = g.geocode(f"{n} Fleet St Baltimore MD 21231")
        assert r.match_type == "interpolated" and "block-number grid" in r.reason
        assert metres_to(r, *house("Fleet", n)) < 20.0
        assert r.error_m is not None and r.error_m <= 50.0
    # West of the baseline numbers grow westward: the streets beside it decide, not the
    # east side's larger number of streets.
    w = g.geocode("515 W Aliceanna St")
    assert "West Pratt Street" in w.reason and "East" not in w.reason
    assert metres_to(w, *house("Aliceanna", 515, east=False)) < 20.0


def test_without_the_grid_today_rules_apply(grid_city: Path) -> None:
    g = Geocoder.from_files(grid_city, grid_city, use_cache=False)
    old = Geocoder(g.index, zip_codes=(), grid=False)
    r = old.geocode("850 Fleet St")
    assert r.match_type == "street" and r.error_m is not None and r.error_m > 500.0


def test_grid_refuses_where_directions_disagree(tmp_path: Path) -> None:
    # East streets grow east and west streets grow west, but the known points of both lie
    # beside the unknown street: opposite axes of similar weight, no grid answer.
    known = [(r, n, e) for r, n, e in KNOWN if r != "Aliceanna"]
    known += [("Aliceanna", 1120, True), ("Aliceanna", 410, True)]
    path = write_city(tmp_path / "g.osm", known)
    g = Geocoder.from_files(path, path, use_cache=False)
    grid = g.grid()
    fleet = g.index.streets[street_key("Fleet Street")]
    assert grid.place(fleet, 850) is not None
    # A street running north-south matches no axis (all known streets run east-west).
    cross = g.index.streets[street_key("Cross 103 Street")]
    assert grid.place(cross, 50) is None


def test_too_few_streets_learn_no_grid(tmp_path: Path) -> None:
    path = write_city(tmp_path / "g.osm", [("Lombard", 212, True), ("Lombard", 640, True)])
    g = Geocoder.from_files(path, path, use_cache=False)
    assert g.grid().axes == [] and "no block-number grid" in g.grid().describe()
    assert g.geocode("850 Fleet St").match_type == "street"


def _write_pbf(path: Path) -> Path:
    """A PBF with a street, an address node, a building way and a multipolygon relation."""
    w = osmium.SimpleWriter(str(path))
    coords = {1: (24.940, 60.170), 2: (24.944, 60.170)}
    # Building A (way 20) south of the street; building B (relation 30's outer way 21).
    ring_a = {10: (24.9410, 60.1695), 11: (24.9414, 60.1695), 12: (24.9414, 60.1698)}
    ring_a |= {13: (24.9410, 60.1698)}
    ring_b = {14: (24.9420, 60.1702), 15: (24.9424, 60.1702), 16: (24.9424, 60.1705)}
    ring_b |= {17: (24.9420, 60.1705)}
    for nid, (lon, lat) in {**coords, **ring_a, **ring_b}.items():
        w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon, lat), version=1))
    w.add_node(
        osmium.osm.mutable.Node(
            id=5,
            location=(24.9405, 60.1702),
            version=1,
            tags={"addr:housenumber": "1", "addr:street": "Kaivokatu", "addr:postcode": "00100"},
        )
    )
    street = {"highway": "residential", "name": "Kaivokatu", "name:sv": "Brunnsgatan"}
    w.add_way(osmium.osm.mutable.Way(id=1, nodes=[1, 2], tags=street, version=1))
    building = {"building": "yes", "addr:housenumber": "4", "addr:street": "Kaivokatu"}
    w.add_way(osmium.osm.mutable.Way(id=20, nodes=[10, 11, 12, 13, 10], tags=building))
    w.add_way(osmium.osm.mutable.Way(id=21, nodes=[14, 15, 16, 17, 14], tags={}))
    mp = {"type": "multipolygon", "building": "yes"}
    mp |= {"addr:housenumber": "3", "addr:street": "Kaivokatu"}
    w.add_relation(
        osmium.osm.mutable.Relation(id=30, members=[("w", 21, "outer")], tags=mp, version=1)
    )
    w.close()
    return path


def test_pbf_address_points_nodes_buildings_and_relations(tmp_path: Path) -> None:
    pbf = _write_pbf(tmp_path / "city.osm.pbf")
    points = {p.number: p for p in read_address_points(pbf)}
    assert set(points) == {"1", "3", "4"}
    assert (points["1"].lon, points["1"].lat, points["1"].postcode) == (24.9405, 60.1702, "00100")
    assert points["4"].lon == pytest.approx(24.9412) and points["4"].lat == pytest.approx(60.16965)
    assert points["3"].lon == pytest.approx(24.9422) and points["3"].lat == pytest.approx(60.17035)
    g = Geocoder.from_files(pbf, pbf, use_cache=False)
    r = g.geocode("Kaivokatu 4, 00100 Helsinki")
    assert (r.match_type, r.matched_address) == ("address_point", "4 Kaivokatu, 00100")
    assert r.error_m is not None and r.error_m <= 20
    # The Swedish name is an alias of the same street.
    assert g.match_street("Brunnsgatan") == ("Kaivokatu", 1.0)
    sv = g.geocode("Brunnsgatan 1, 00100 Helsingfors")
    assert (sv.match_type, sv.lon, sv.lat) == ("address_point", 24.9405, 60.1702)


def test_language_names_are_aliases() -> None:
    tags = {"name": "Kaivokatu", "name:sv": "Brunnsgatan", "name:fi": "Kaivokatu"}
    more = {"name:etymology": "x", "name:de-CH": "Brunnengasse"}
    assert language_names(tags | more) == ("Brunnengasse", "Brunnsgatan")


@pytest.mark.parametrize(
    ("text", "street", "low", "high", "zipcode", "city"),
    [
        ("Kaivokatu 1, 00100 Helsinki", "Kaivokatu", 1, 1, "00100", "Helsinki"),
        ("Hauptstraße 5a, 10115 Berlin", "Hauptstraße", 5, 5, "10115", "Berlin"),
        ("Mannerheimintie 12-14", "Mannerheimintie", 12, 14, "", ""),
        ("John Stenbergin ranta 4 B 12, Helsinki", "John Stenbergin ranta", 4, 4, "", "Helsinki"),
        ("Calle Mayor 3, 28013 Madrid", "Calle Mayor", 3, 3, "28013", "Madrid"),
    ],
)
def test_european_order(
    text: str, street: str, low: int, high: int, zipcode: str, city: str
) -> None:
    p = parse_address(text)
    assert (p.kind, p.street, p.number_low, p.number_high) == ("address", street, low, high)
    assert (p.zipcode, p.city, p.number_after) == (zipcode, city, True)


def test_us_forms_keep_their_reading() -> None:
    assert parse_address("Public Alley No. 434").kind == "street"
    assert parse_address("Ipswich St Boston MA 02215").kind == "street"
    us = parse_address("145-151 Ipswich St  Boston  MA  02215")
    assert (us.number_low, us.number_high, us.number_after) == (145, 151, False)


def test_street_keys_fold_accents_and_german_abbreviation() -> None:
    assert street_key("Säästöpankinranta") == street_key("Saastopankinranta")
    assert street_key("Hauptstr.") == street_key("Hauptstraße") == "HAUPTSTRASSE"
