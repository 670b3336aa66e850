from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from shapely.geometry import LineString, MultiLineString
from typer.testing import CliRunner

from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.errors import ConfigurationError, InputError
from geo311.geocoding.address import normalise_zip, number_range, parse_address, street_key
from geo311.geocoding.batch import geocode_csv, geocode_pending_requests
from geo311.geocoding.extracts import load_extract
from geo311.geocoding.geocoder import Geocoder
from geo311.geocoding.house import MAX_EXTRAPOLATION_NUMBERS, MAX_NUMBER_GAP, low_rate, place_number
from geo311.geocoding.index import Street, _numbers, with_known_points
from geo311.geocoding.known import read_known_addresses
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.settings import REPO_DATA_DIR, Settings

OSM = REPO_DATA_DIR / "osm"


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320.0
    dx = (lon2 - lon1) * 111_320.0 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("geocache")


@pytest.fixture(scope="module")
def geocoder(cache_dir: Path) -> Geocoder:
    # OSM only. Built from scratch (empty cache folder), then cached there.
    return Geocoder.from_data_dir(REPO_DATA_DIR, cache_dir=cache_dir, known_addresses=False)


# -- parsing -----------------------------------------------------------------------------
def test_street_key_expands_abbreviations() -> None:
    assert (
        street_key("Commonwealth Ave") == street_key("Commonwealth Avenue") == "COMMONWEALTH AVENUE"
    )
    assert street_key("Mass Ave") == "MASSACHUSETTS AVENUE"
    assert street_key("W Newton St") == "WEST NEWTON STREET"
    assert street_key("St Botolph St") == "SAINT BOTOLPH STREET"
    assert street_key("Land Blvd") == "LAND BOULEVARD"
    assert street_key("Cambridge Pkwy") == "CAMBRIDGE PARKWAY"
    assert street_key("Rutland Sq") == "RUTLAND SQUARE"
    assert street_key("Trinity Pl") == "TRINITY PLACE"


def test_parse_house_range_double_spaces_and_zip_without_zero() -> None:
    p = parse_address("145-151 Ipswich St  Boston  MA  02215")
    assert (p.kind, p.street, p.number_low, p.number_high, p.city, p.zipcode) == (
        "address",
        "Ipswich St",
        145,
        151,
        "Boston",
        "02215",
    )
    q = parse_address("145-151 Ipswich St Boston MA 2215")
    assert (q.street, q.zipcode, q.city) == ("Ipswich St", "02215", "Boston")
    assert normalise_zip("2215.0") == "02215"


def test_parse_intersection_and_fallback_parser() -> None:
    p = parse_address("INTERSECTION of Commonwealth Ave & Fairfield St  Boston  MA")
    assert (p.kind, p.street, p.street2) == ("intersection", "Commonwealth Ave", "Fairfield St")
    # No suffix and single spaces: the regex path gives way to usaddress.
    f = parse_address("70-74 Fenway Boston MA 02115")
    assert (f.kind, f.street, f.number_low, f.zipcode) == ("address", "Fenway", 70, "02115")


# -- forward -----------------------------------------------------------------------------
def test_address_point_with_abbreviation_and_zip_forms(geocoder: Geocoder) -> None:
    a = geocoder.geocode("300 Newbury St  Boston  MA  02115")
    b = geocoder.geocode("300 Newbury Street Boston MA 2115")
    assert a.match_type == b.match_type == "address_point"
    assert a.matched_address.startswith("300 Newbury Street")
    assert (a.lat, a.lon) == (b.lat, b.lon)
    assert a.score == 1.0
    # The point is the OSM building tagged 300 Newbury Street.
    rev = geocoder.reverse(a.lat, a.lon)  # type: ignore[arg-type]
    assert rev.address in ("300 Newbury Street", "298-300 Newbury Street")
    assert rev.address_distance_m is not None
    assert rev.address_distance_m < 1.0


def test_house_range_uses_the_range_numbers(geocoder: Geocoder) -> None:
    street = geocoder.index.streets["MARLBOROUGH STREET"]
    known = sorted(street.exact)
    n = next(k for k in known if k > 100 and k - 2 not in street.exact)
    r = geocoder.geocode(f"{n - 2}-{n} Marlborough St  Boston  MA  02116")
    assert r.match_type == "address_point"
    assert r.matched_address.startswith(f"{n - 2}-{n} Marlborough Street")
    x, y, _ = street.exact[n]
    lat, lon = geocoder._wgs(x, y)
    assert metres(r.lat, r.lon, lat, lon) < 1.0  # type: ignore[arg-type]


def test_example_range_on_a_street_without_numbers(geocoder: Geocoder) -> None:
    r = geocoder.geocode("145-151 Ipswich St  Boston  MA  02215")
    assert r.match_type == "street"
    assert r.matched_address == "Ipswich Street, 02215"
    assert 0 < r.score < 0.5
    assert "145-151" in r.reason
    rev = geocoder.reverse(r.lat, r.lon)  # type: ignore[arg-type]
    assert rev.street == "Ipswich Street" and rev.street_distance_m < 1.0


def test_mass_ave_and_west_newton(geocoder: Geocoder) -> None:
    assert geocoder.match_street("Mass Ave") == ("Massachusetts Avenue", 1.0)
    assert geocoder.match_street("W Newton St") == ("West Newton Street", 1.0)
    assert geocoder.match_street("E Newton St") is None  # not West Newton by fuzziness
    assert geocoder.match_street("Beaver Pl") == ("Beaver Place", 1.0)
    assert geocoder.match_street("Comonwealth Ave") is not None  # typo, fuzzy
    assert geocoder.match_street("Harrison Ave") is None


def test_intersection_is_where_both_streets_meet(geocoder: Geocoder) -> None:
    r = geocoder.geocode("INTERSECTION of Commonwealth Ave & Fairfield St  Boston  MA")
    assert r.match_type == "intersection"
    assert r.matched_address == "Commonwealth Avenue & Fairfield Street"
    rev = geocoder.reverse(r.lat, r.lon)  # type: ignore[arg-type]
    assert rev.street_distance_m < 5.0
    assert rev.street in ("Commonwealth Avenue", "Fairfield Street")
    # The same corner with the streets swapped is the same point.
    s = geocoder.geocode("INTERSECTION of Fairfield Street & Commonwealth Avenue Boston MA")
    assert metres(r.lat, r.lon, s.lat, s.lon) < 1.0  # type: ignore[arg-type]


def test_streets_that_do_not_meet(geocoder: Geocoder) -> None:
    r = geocoder.geocode("INTERSECTION of Marlborough St & Newbury St  Boston  MA")
    assert r.match_type == "none" and r.lat is None
    assert "do not meet" in r.reason


def test_street_alone_is_its_middle_with_low_confidence(geocoder: Geocoder) -> None:
    r = geocoder.geocode("Fairfield Street")
    assert r.match_type == "street" and r.score < 0.5
    rev = geocoder.reverse(r.lat, r.lon)  # type: ignore[arg-type]
    assert rev.street == "Fairfield Street" and rev.street_distance_m < 1.0


def test_interpolation_between_two_known_numbers_on_the_same_side(geocoder: Geocoder) -> None:
    street = geocoder.index.streets["MARLBOROUGH STREET"]
    nums = list(street.numbers.nums[0])
    n0, n1 = next(
        (int(a), int(b))
        for a, b in zip(nums, nums[1:], strict=False)
        if b - a >= 4 and a + 2 not in street.exact and a > 100
    )
    target = n0 + 2
    r = geocoder.geocode(f"{target} Marlborough St  Boston  MA  02116")
    assert r.match_type == "interpolated"
    assert 0.5 < r.score < 1.0
    p0 = geocoder._wgs(*street.exact[n0][:2])
    p1 = geocoder._wgs(*street.exact[n1][:2])
    d0, d1 = metres(r.lat, r.lon, *p0), metres(r.lat, r.lon, *p1)  # type: ignore[arg-type]
    whole = metres(*p0, *p1)
    # On the straight line between the two neighbours, at the right fraction.
    assert abs(d0 + d1 - whole) < 1.0
    assert d0 == pytest.approx(whole * (target - n0) / (n1 - n0), abs=1.0)


def test_outside_the_extract_is_none_with_reason(geocoder: Geocoder) -> None:
    r = geocoder.geocode("15 Cummins Hwy  Roslindale  MA  02131")
    assert (r.match_type, r.lat, r.lon, r.score) == ("none", None, None, 0.0)
    assert "outside the embedded OSM extract" in r.reason
    s = geocoder.geocode("20 Parker Hill Ave  Boston  MA  02120")
    assert s.match_type == "none" and "not in the embedded OSM extract" in s.reason
    t = geocoder.geocode("1500 Washington St  Boston  MA  02118")
    assert t.match_type == "none" and "cannot be placed" in t.reason
    assert geocoder.geocode("").reason == "empty address"
    # Each "none" says its kind apart from the specifics (what summaries count).
    assert (r.failure, s.failure, t.failure) == (
        "ZIP outside the extract",
        "street not in the extract",
        "house number not placeable",
    )
    assert geocoder.geocode("").failure == "no address"


def test_geocode_many_keeps_order_and_handles_missing(geocoder: Geocoder) -> None:
    frame = geocoder.geocode_many(
        ["300 Newbury St Boston MA 02115", None, "300 Newbury St Boston MA 02115", float("nan")]
    )
    assert list(frame.columns) == [
        "address",
        "lat",
        "lon",
        "match_type",
        "score",
        "matched_address",
        "reason",
        "error_m",
        "failure",
    ]
    assert list(frame["match_type"]) == ["address_point", "none", "address_point", "none"]
    assert frame["error_m"].iloc[0] <= 30 and math.isnan(frame["error_m"].iloc[1])
    assert frame["lat"].iloc[0] == frame["lat"].iloc[2]
    assert math.isnan(frame["lat"].iloc[1])


# -- reverse -----------------------------------------------------------------------------
def test_reverse_nearest_street_and_address(geocoder: Geocoder) -> None:
    r = geocoder.geocode("INTERSECTION of Boylston St & Dartmouth St Boston MA")
    assert r.match_type == "intersection"
    # About 30 m north of the corner, on Dartmouth Street.
    rev = geocoder.reverse(r.lat + 0.00027, r.lon)  # type: ignore[operator]
    assert rev.street == "Dartmouth Street"
    assert rev.street_distance_m < 15
    assert rev.address and rev.address_distance_m is not None and rev.address_distance_m < 100
    with pytest.raises(InputError, match="lat/lon"):
        geocoder.reverse(142.0, -71.0)


# -- cache ---------------------------------------------------------------------------------
def test_index_cache_is_written_and_reused(geocoder: Geocoder, cache_dir: Path) -> None:
    files = list(cache_dir.glob("geocoder-*.pkl"))
    assert len(files) == 1
    again = Geocoder.from_data_dir(REPO_DATA_DIR, cache_dir=cache_dir)
    assert list(cache_dir.glob("geocoder-*.pkl")) == files
    assert again.geocode("300 Newbury St Boston MA 02115") == geocoder.geocode(
        "300 Newbury St Boston MA 02115"
    )


def test_missing_file_names_the_argument(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="drive_osm"):
        Geocoder.from_files(
            tmp_path / "nope.osm", OSM / "boston_backbay_addresses.osm.bz2", use_cache=False
        )


# -- CSV and CLI -----------------------------------------------------------------------------
def test_csv_cli_round_trip(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo311.cli.app import app

    monkeypatch.setenv("GEO311_CACHE_DIR", str(cache_dir))
    src = tmp_path / "in.csv"
    pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "where": [
                "300 Newbury St  Boston  MA  02115",
                "INTERSECTION of Commonwealth Ave & Fairfield St  Boston  MA",
                "15 Cummins Hwy  Roslindale  MA  02131",
            ],
        }
    ).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        app, ["geocode", str(src), "--address-column", "where", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "1 address_point, 1 intersection, 1 none" in result.output
    frame = pd.read_csv(out, dtype={"id": str})
    assert list(frame.columns) == [
        "id",
        "where",
        "lat",
        "lon",
        "match_type",
        "score",
        "matched_address",
        "error_m",
    ]
    assert list(frame["id"]) == ["a", "b", "c"]
    assert list(frame["match_type"]) == ["address_point", "intersection", "none"]
    assert frame["lat"].notna().tolist() == [True, True, False]


def test_csv_with_unknown_column_names_it(tmp_path: Path, geocoder: Geocoder) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,addr\n1,300 Newbury St\n")
    with pytest.raises(InputError, match="'where' is not a column"):
        geocode_csv(src, tmp_path / "out.csv", address_column="where", geocoder=geocoder)


# -- import integration ----------------------------------------------------------------------
def _request(rid: str, address: str, zipcode: str = "") -> ServiceRequest:
    return ServiceRequest(
        service_request_id=rid,
        service_code="pothole",
        status="open",
        requested_datetime=datetime(2015, 10, 6, 12, 0, tzinfo=UTC),
        source="boston",
        source_id=rid,
        address=address,
        zipcode=zipcode,
        needs_geocoding=True,
    )


def test_geocode_pending_requests(store: Store, geocoder: Geocoder, tmp_path: Path) -> None:
    request_repo.add_request(store, _request("r1", "300 Newbury St Boston MA", "02115"))
    request_repo.add_request(
        store, _request("r2", "INTERSECTION of Commonwealth Ave & Fairfield St Boston MA")
    )
    request_repo.add_request(store, _request("r3", "15 Cummins Hwy Roslindale MA 02131", "02131"))
    request_repo.add_request(store, _request("r4", ""))
    done = ServiceRequest(
        service_request_id="r5",
        service_code="pothole",
        status="open",
        requested_datetime=datetime(2015, 10, 6, 12, 0, tzinfo=UTC),
        source="boston",
        source_id="r5",
        address="300 Newbury St",
        lat=42.35,
        long=-71.08,
    )
    request_repo.add_request(store, done)
    settings = Settings(database_url=store.url, data_dir=REPO_DATA_DIR)
    line = geocode_pending_requests(store, settings=settings, geocoder=geocoder)
    assert line.startswith("geocoding: 4 requests: 1 address_point, 1 intersection, 2 none")
    r1, r2, r3, r4, r5 = (request_repo.get_request(store, f"r{i}") for i in range(1, 6))
    assert r1.geocode_match_type == "address_point" and not r1.needs_geocoding
    assert r1.lat is not None and abs(r1.lat - 42.3487) < 0.001
    assert r2.geocode_match_type == "intersection" and not r2.needs_geocoding
    for r in (r3, r4):
        assert r.geocode_match_type == "none" and r.needs_geocoding and r.lat is None
    assert (r5.lat, r5.long, r5.geocode_match_type) == (42.35, -71.08, "")
    # Nothing left to do: a second run says so and changes nothing.
    assert "2 none" in geocode_pending_requests(store, settings=settings, geocoder=geocoder)


# -- any city: the classes every US 311 export writes ---------------------------------------
@pytest.fixture(scope="module")
def sf(cache_dir: Path) -> Geocoder:
    # A second city: every highway way of SF's Mission / SoMa / Potrero, no address points.
    return Geocoder.from_data_dir(REPO_DATA_DIR, extract="sf_mission", cache_dir=cache_dir)


def on_street(geocoder: Geocoder, key: str, lat: float, lon: float) -> float:
    """Distance in metres from a WGS 84 point to a street's line in the index."""
    from pyproj import Transformer
    from shapely.geometry import Point

    x, y = Transformer.from_crs("EPSG:4326", geocoder.index.crs, always_xy=True).transform(lon, lat)
    geom = geocoder.index.streets[key].geom
    assert geom is not None
    return float(geom.distance(Point(x, y)))


def test_ranged_numbers_parse_to_both_ends() -> None:
    for text, low, high in (
        ("200-220 Huntington Ave", 200, 220),
        ("135-137 Columbus Ave  Boston  MA  02116", 135, 137),
        ("245-245A W Canton St  Boston  MA  02116", 245, 245),
        ("1240-1230 River St  Hyde Park  MA  02136", 1230, 1240),
        ("262R Saint Botolph St  Boston  MA  02115", 262, 262),
    ):
        p = parse_address(text)
        assert (p.kind, p.number_low, p.number_high) == ("address", low, high), text
    assert parse_address("245-245A W Canton St  Boston  MA  02116").street == "W Canton St"
    # "A St" is a street named A, not a letter after the number.
    assert parse_address("168-170 A St  Boston  MA  02210").street == "A St"


def test_ranged_numbers_land_on_their_address_point(geocoder: Geocoder) -> None:
    street = geocoder.index.streets["MARLBOROUGH STREET"]
    n = next(k for k in sorted(street.exact) if k > 100 and k % 2 == 0)
    x, y, _ = street.exact[n]
    lat, lon = geocoder._wgs(x, y)
    for text in (
        f"{n}-{n}A Marlborough St  Boston  MA  02116",
        f"{n + 2}-{n} MARLBOROUGH ST BOSTON MA 02116",
    ):
        r = geocoder.geocode(text)
        assert r.match_type == "address_point", text
        assert metres(r.lat, r.lon, lat, lon) < 100.0  # type: ignore[arg-type]


def test_number_zero_is_a_flagged_street_level_answer(geocoder: Geocoder) -> None:
    r = geocoder.geocode("0 Boylston St  Boston  MA  02116")
    assert r.match_type == "street"
    assert "house number 0" in r.reason and "street-level" in r.reason
    assert 0 < r.score < 0.5
    assert r.matched_address == "Boylston Street, 02116"
    assert on_street(geocoder, "BOYLSTON STREET", r.lat, r.lon) < 1.0  # type: ignore[arg-type]
    # A short street's middle is within 100 m of all of it.
    s = geocoder.geocode("0 Fairfield St  Boston  MA  02116")
    assert s.match_type == "street" and "house number 0" in s.reason
    corner = geocoder.geocode("INTERSECTION of Commonwealth Ave & Fairfield St  Boston  MA")
    assert metres(s.lat, s.lon, corner.lat, corner.lon) < 250.0  # type: ignore[arg-type]


def test_street_type_abbreviations() -> None:
    pairs = {
        "Harvard Brg": "HARVARD BRIDGE",
        "Commonwealth Ave Upas": "COMMONWEALTH AVENUE UNDERPASS",
        "Commonwealth Ave. Underpass": "COMMONWEALTH AVENUE UNDERPASS",
        "Cummins Hwy": "CUMMINS HIGHWAY",
        "VFW Pkwy": "VFW PARKWAY",
        "Columbia Ter": "COLUMBIA TERRACE",
        "Rutland Sq": "RUTLAND SQUARE",
        "Otis Pl": "OTIS PLACE",
        "Spruce Ct": "SPRUCE COURT",
        "Mission Hts": "MISSION HEIGHTS",
        "Public Alley No. 434": "PUBLIC ALLEY 434",
        "Public Alley #434": "PUBLIC ALLEY 434",
        "People's Baptist Pl": "PEOPLES BAPTIST PLACE",
    }
    for written, key in pairs.items():
        assert street_key(written) == key, written


def test_abbreviated_types_match_the_back_bay_streets(geocoder: Geocoder) -> None:
    assert geocoder.match_street("Spruce Ct") == ("Spruce Court", 1.0)
    assert geocoder.match_street("RUTLAND SQ") == ("Rutland Square", 1.0)
    assert geocoder.match_street("Otis Pl") == ("Otis Place", 1.0)
    assert geocoder.match_street("Cambridge Pkwy") == ("Cambridge Parkway", 1.0)
    # The bridge has no way of its own name: OSM calls it by its Wikipedia title.
    r = geocoder.geocode("INTERSECTION of Back St & Harvard Brg  Boston  MA")
    assert r.match_type == "intersection"
    assert r.matched_address == "Back Street & Harvard Bridge"
    assert metres(r.lat, r.lon, 42.3512, -71.0896) < 100.0  # type: ignore[arg-type]
    # "Commonwealth Ave. Underpass": the underpass where Mass Ave dives under Comm Ave.
    u = geocoder.geocode(
        "INTERSECTION of Massachusetts Ave & Commonwealth Ave. Underpass  Boston  MA"
    )
    corner = geocoder.geocode("Massachusetts Ave & Commonwealth Ave")
    assert u.match_type == corner.match_type == "intersection"
    assert metres(u.lat, u.lon, corner.lat, corner.lon) < 100.0  # type: ignore[arg-type]
    assert u.score < corner.score


def test_intersection_forms(geocoder: Geocoder) -> None:
    ref = geocoder.geocode("INTERSECTION of Boylston St & Dartmouth St  Boston  MA")
    assert ref.match_type == "intersection"
    # Copley Square's corner of Boylston and Dartmouth.
    assert metres(ref.lat, ref.lon, 42.3501, -71.0774) < 100.0  # type: ignore[arg-type]
    for text in (
        "BOYLSTON ST &DARTMOUTH ST",
        "BOYLSTON ST& DARTMOUTH ST  BOSTON  MA",
        "Boylston St and Dartmouth St, Boston, MA 02116",
        "Boylston St / Dartmouth St",
        "Boylston St at Dartmouth St",
        "Dartmouth St @ Boylston St",
    ):
        r = geocoder.geocode(text)
        assert r.match_type == "intersection", text
        assert metres(r.lat, r.lon, ref.lat, ref.lon) < 1.0, text  # type: ignore[arg-type]
    p = parse_address("E LOMBARD ST &S BOULDIN ST")
    assert (p.kind, p.street, p.street2) == ("intersection", "E LOMBARD ST", "S BOULDIN ST")


def test_state_and_zip_suffix_of_any_state() -> None:
    cases = {
        "1600 Pennsylvania Ave NW, Washington, DC 20500": ("Pennsylvania Ave NW", "20500"),
        "500 MAIN ST SPRINGFIELD IL 62701": ("MAIN ST", "62701"),
        "500 Main St, Springfield, Illinois 62701-1234": ("Main St", "62701"),
        "12 Oak Ct, Hartford, CT": ("Oak Ct", ""),
        "12 Oak Ct  Hartford  Connecticut": ("Oak Ct", ""),
        "9 Noble Ct": ("Noble Ct", ""),
        "77 Elm St  Austin  TX  78701": ("Elm St", "78701"),
        "145-151 Ipswich St Boston MA 2215": ("Ipswich St", "02215"),
        "300 Newbury St 02115": ("Newbury St", "02115"),
    }
    for text, (street, zipcode) in cases.items():
        p = parse_address(text)
        assert (p.kind, p.street, p.zipcode) == ("address", street, zipcode), text


def test_upper_case_commas_and_zip4_give_the_same_point(geocoder: Geocoder) -> None:
    a = geocoder.geocode("300 Newbury St  Boston  MA  02115")
    for text in ("300 NEWBURY ST, BOSTON, MA 02115-2801", "300  Newbury  St,  Boston, MA"):
        b = geocoder.geocode(text)
        assert b.match_type == "address_point", text
        assert (a.lat, a.lon) == (b.lat, b.lon), text
    # A ZIP the extract does not cover is still outside it, in any spelling.
    r = geocoder.geocode("15 CUMMINS HWY, ROSLINDALE, MA 02131-1234")
    assert r.match_type == "none" and "outside the embedded OSM extract" in r.reason


def _alley_city(path: Path) -> Path:
    """A hand-written extract: a street, a service alley and a footway crossing it."""
    nodes = {1: (39.80, -89.650), 2: (39.80, -89.648), 3: (39.80, -89.646)}
    nodes |= {4: (39.801, -89.648), 5: (39.799, -89.648), 6: (39.799, -89.646)}
    xml = ["<?xml version='1.0' encoding='UTF-8'?>", '<osm version="0.6">']
    xml += [f'<node id="{i}" lat="{la}" lon="{lo}" version="1"/>' for i, (la, lo) in nodes.items()]
    ways = (
        (10, (1, 2, 3), {"highway": "residential", "name": "Main Street"}),
        (11, (4, 2, 5), {"highway": "service", "service": "alley", "name": "Public Alley 434"}),
        (12, (3, 6), {"highway": "footway", "name": "Lincoln Walk"}),
        (13, (5, 6), {"highway": "proposed", "name": "Future Street"}),
        (14, (4, 1), {"railway": "rail", "name": "Union Line"}),
    )
    for wid, refs, tags in ways:
        xml.append(f'<way id="{wid}" version="1">')
        xml += [f'<nd ref="{r}"/>' for r in refs]
        xml += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        xml.append("</way>")
    path.write_text("\n".join([*xml, "</osm>"]))
    return path


def test_alleys_and_footways_are_indexed_by_name(tmp_path: Path) -> None:
    g = Geocoder.from_files(_alley_city(tmp_path / "city.osm"), use_cache=False)
    r = g.geocode("INTERSECTION of Main St & Public Alley No. 434  Springfield  IL  62701")
    assert (r.match_type, r.matched_address) == ("intersection", "Main Street & Public Alley 434")
    assert metres(r.lat, r.lon, 39.80, -89.648) < 1.0  # type: ignore[arg-type]
    s = g.geocode("Public Alley #434, Springfield, IL")
    assert s.match_type == "street" and s.matched_address == "Public Alley 434"
    w = g.geocode("MAIN ST & LINCOLN WALK")
    assert w.match_type == "intersection"
    assert metres(w.lat, w.lon, 39.80, -89.646) < 1.0  # type: ignore[arg-type]
    assert g.match_street("Public Alley No. 431") is None  # another alley, not a typo
    # Only built highways: no proposed street, no railway.
    assert g.match_street("Future St") is None and g.match_street("Union Line") is None


def test_second_city_intersections_without_address_points(sf: Geocoder) -> None:
    assert sf.index.crs == "EPSG:32610"  # UTM zone 10N, derived from the data
    assert len(sf.index.addr_xy) == 0
    a = sf.geocode("Valencia St & 16th St")
    b = sf.geocode("16TH ST &VALENCIA ST, San Francisco, CA 94103")
    assert a.match_type == b.match_type == "intersection"
    assert metres(a.lat, a.lon, 37.76494, -122.42192) < 100.0  # type: ignore[arg-type]
    assert metres(a.lat, a.lon, b.lat, b.lon) < 1.0  # type: ignore[arg-type]
    assert sf.match_street("16th St") == ("16th Street", 1.0)
    assert sf.match_street("17th St") == ("17th Street", 1.0)  # not 16th by fuzziness
    # Clarion Alley is a service way: not drivable, but indexed by name.
    c = sf.geocode("Clarion Aly & Mission St")
    assert c.match_type == "intersection"
    assert metres(c.lat, c.lon, 37.76305, -122.41950) < 100.0  # type: ignore[arg-type]


def test_second_city_street_level_answers(sf: Geocoder) -> None:
    r = sf.geocode("0 Mission St, San Francisco, CA 94110")
    assert r.match_type == "street" and "house number 0" in r.reason
    assert on_street(sf, "MISSION STREET", r.lat, r.lon) < 1.0  # type: ignore[arg-type]
    # Without address points a number on a street that leaves the extract is not guessed;
    # on a short alley inside it the answer is the alley, flagged.
    n = sf.geocode("2000 MISSION ST SAN FRANCISCO CA")
    assert n.match_type == "none" and "cannot be placed on Mission Street" in n.reason
    c = sf.geocode("50 Clarion Alley")
    assert c.match_type == "street" and "not placed" in c.reason
    assert on_street(sf, "CLARION ALLEY", c.lat, c.lon) < 1.0  # type: ignore[arg-type]
    assert sf.geocode("Balmy Alley").match_type == "street"


def test_unknown_extract_names_the_choices(tmp_path: Path) -> None:
    from geo311.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="sf_mission"):
        Geocoder.from_data_dir(REPO_DATA_DIR, extract="atlantis")
    with pytest.raises(ConfigurationError, match="extracts.toml"):
        Geocoder.from_data_dir(tmp_path)


# -- known addresses: the city's own located reports ----------------------------------------
def _points_on(geocoder: Geocoder, key: str, *along_m: float) -> list[tuple[float, float]]:
    geom = geocoder.index.streets[key].geom
    assert geom is not None
    part = max(geom.geoms, key=lambda g: g.length)  # type: ignore[attr-defined]
    return [geocoder._wgs(part.interpolate(s).x, part.interpolate(s).y) for s in along_m]


def test_known_addresses_place_numbers_osm_lacks(geocoder: Geocoder) -> None:
    query = "10 Mount Vernon St  Boston  MA  02108"
    assert geocoder.geocode(query).match_type == "none"  # no OSM address on the street
    (lat1, lon1), (lat2, lon2) = _points_on(geocoder, "MOUNT VERNON STREET", 50.0, 150.0)
    known = geocoder.with_known_addresses(
        [query, "30 MOUNT VERNON ST, BOSTON, MA 02108"], [lat1, lat2], [lon1, lon2]
    )
    a = known.geocode(query)
    assert a.match_type == "address_point" and "earlier located report" in a.reason
    assert metres(a.lat, a.lon, lat1, lon1) < 1.0  # type: ignore[arg-type]
    b = known.geocode("20 Mount Vernon St  Boston  MA  02108")
    assert b.match_type == "interpolated"
    mid = ((lat1 + lat2) / 2, (lon1 + lon2) / 2)
    assert metres(b.lat, b.lon, *mid) < 5.0  # type: ignore[arg-type]
    # The geocoder it came from is unchanged.
    assert geocoder.geocode(query).match_type == "none"


def test_known_addresses_never_override_osm_nor_take_stray_points(geocoder: Geocoder) -> None:
    osm = geocoder.geocode("300 Newbury St  Boston  MA  02115")
    known = geocoder.with_known_addresses(
        ["300 Newbury St  Boston  MA  02115", "10 Mount Vernon St  Boston  MA  02108"],
        [42.3500, 42.3400],  # the second is 2 km from Mount Vernon Street
        [-71.0800, -71.0800],
    )
    again = known.geocode("300 Newbury St  Boston  MA  02115")
    assert (again.lat, again.lon, again.reason) == (osm.lat, osm.lon, "")
    assert known.geocode("10 Mount Vernon St  Boston  MA  02108").match_type == "none"
    with pytest.raises(InputError, match="lats"):
        geocoder.with_known_addresses(["1 Main St"], [], [])


def test_geocode_pending_requests_with_known_addresses(store: Store, geocoder: Geocoder) -> None:
    ((lat, lon),) = _points_on(geocoder, "MOUNT VERNON STREET", 80.0)
    located = _request("k1", "12 Mount Vernon St  Boston  MA  02108", "02108")
    request_repo.add_request(store, replace(located, lat=lat, long=lon, needs_geocoding=False))
    request_repo.add_request(store, _request("k2", "12 Mount Vernon St Boston MA", "02108"))
    settings = Settings(database_url=store.url, data_dir=REPO_DATA_DIR)
    line = geocode_pending_requests(store, settings=settings, geocoder=geocoder)
    assert "1 none" in line  # OSM alone cannot place it
    line = geocode_pending_requests(
        store, settings=settings, geocoder=geocoder, known_addresses=True
    )
    assert line.startswith("geocoding: 1 requests: 1 address_point")
    k2 = request_repo.get_request(store, "k2")
    assert k2.geocode_match_type == "address_point" and not k2.needs_geocoding
    assert metres(k2.lat, k2.long, lat, lon) < 1.0  # type: ignore[arg-type]


# -- interpolation along the street's centreline ----------------------------------------------
def _street(
    lines: list[list[tuple[float, float]]],
    numbers: dict[int, tuple[float, float]],
    *,
    leaves: bool = False,
) -> Street:
    """A street of the index built by hand (metric coordinates)."""
    geom = MultiLineString([LineString(c) for c in lines])
    nums, exact = _numbers([(n, x, y, f"{n} Test Street") for n, (x, y) in numbers.items()])
    return Street("TEST STREET", "Test Street", geom, (0.0, 0.0), leaves, nums, exact)


def test_interpolation_follows_a_bent_street_not_the_chord() -> None:
    # An L: 200 m east, then 200 m north. 10 at the start, 30 at the end (same side, 5 m off).
    street = _street(
        [[(0.0, 0.0), (200.0, 0.0), (200.0, 200.0)]], {10: (0.0, -5.0), 30: (205.0, 200.0)}
    )
    x, y, quality = place_number(street, 20)  # type: ignore[misc]
    # Half way along the line is the corner (plus the known points' 5 m offset); the chord's
    # middle would be (102.5, 97.5), about 140 m from the corner.
    assert math.hypot(x - 200.0, y - 0.0) < 10.0
    assert quality == 1.0
    # On a straight street it is the straight line between the two points.
    line = _street([[(0.0, 0.0), (400.0, 0.0)]], {10: (0.0, 8.0), 30: (400.0, 8.0)})
    assert place_number(line, 15)[:2] == pytest.approx((100.0, 8.0), abs=1e-6)  # type: ignore[index]


def test_odd_and_even_numbers_are_placed_from_their_own_side() -> None:
    # Even numbers north of the line, odd numbers south, both running west to east.
    known = {2: (0.0, 10.0), 10: (100.0, 10.0), 1: (0.0, -10.0), 9: (100.0, -10.0)}
    street = _street([[(-50.0, 0.0), (300.0, 0.0)]], known)
    x, y, _ = place_number(street, 6)  # type: ignore[misc]
    assert (x, y) == pytest.approx((50.0, 10.0), abs=1e-6)
    x, y, _ = place_number(street, 5)  # type: ignore[misc]
    assert (x, y) == pytest.approx((50.0, -10.0), abs=1e-6)


def test_extrapolation_walks_along_the_pieces_of_a_street_and_is_bounded() -> None:
    # Two pieces that do not merge (a 4 m gap); 2..10 known on the first, 12.5 m per number.
    first = [(0.0, 0.0), (100.0, 0.0)]
    second = [(104.0, 0.0), (104.0 + 120.0, 120.0)]  # on from the gap at 45 degrees
    known = {2: (0.0, 0.0), 10: (100.0, 0.0)}
    street = _street([first, second], known)
    x, y, quality = place_number(street, 16)  # type: ignore[misc]  # 75 m past 10
    walked = 4.0 + math.hypot(x - 104.0, y)
    assert y > 5.0 and walked == pytest.approx(75.0, abs=8.0)  # on the second piece
    assert 0.4 <= quality < 0.9
    # Farther than MAX_EXTRAPOLATION_M (or MAX_EXTRAPOLATION_NUMBERS) is not guessed.
    assert place_number(street, 50) is None  # 500 m
    dense = _street([[(0.0, 0.0), (5000.0, 0.0)]], {2: (0.0, 0.0), 50: (48.0, 0.0)})
    assert place_number(dense, 110) is not None  # 60 numbers (60 m) on
    assert place_number(dense, 52 + 2 * MAX_EXTRAPOLATION_NUMBERS) is None  # 162 m, too many
    # Past the end of the line only where the street leaves the extract.
    short = [[(0.0, 0.0), (110.0, 0.0)]]
    assert place_number(_street(short, known), 16) is None  # 75 m past 10, line ends at 110
    far = place_number(_street(short, known, leaves=True), 16)
    assert far is not None and far[0] == pytest.approx(175.0, abs=1.0)


def test_parse_abbreviated_and_broken_ranges() -> None:
    assert number_range(1079, 81) == (1079, 1081)
    assert number_range(135, 137) == number_range(137, 135) == (135, 137)
    assert number_range(1079, 108) == (1079, 1079)  # "1079-108H": cut short, not a range
    assert number_range(5, 1200) == (5, 5)  # wider than one building
    p = parse_address("1079-108H Tremont St  Mission Hill  MA  02120")
    assert (p.number_low, p.number_high) == (1079, 1079)


def test_street_level_answers_say_how_far_off_they_can_be(geocoder: Geocoder) -> None:
    r = geocoder.geocode("0 Huntington Ave  Boston  MA  02115")
    assert r.match_type == "street" and r.score < 0.5
    assert "street-level answer" in r.reason and "m from a place on the street" in r.reason
    far = int(r.reason.rsplit("up to ", 1)[1].split(" m")[0].replace(",", ""))
    assert far > 500  # Huntington Avenue is long: its middle is no place to send a crew


# -- the city's own located reports, on by default for the embedded city ----------------------
def test_the_embedded_city_knows_its_own_located_reports_by_default(cache_dir: Path) -> None:
    default = Geocoder.from_data_dir(REPO_DATA_DIR, cache_dir=cache_dir)
    osm_only = Geocoder.from_data_dir(REPO_DATA_DIR, cache_dir=cache_dir, known_addresses=False)
    # Dwight Street has no OSM address point; the City's export has reports on it.
    query = "57 Dwight St  Roxbury  MA  02118"
    assert osm_only.geocode(query).match_type in ("none", "street")
    a = default.geocode(query)
    assert a.match_type in ("address_point", "interpolated")
    assert a.reason == "" or "earlier located report" in a.reason
    assert on_street(default, "DWIGHT STREET", a.lat, a.lon) < 100.0  # type: ignore[arg-type]
    # OSM address points keep precedence.
    b, c = (g.geocode("300 Newbury St  Boston  MA  02115") for g in (default, osm_only))
    assert (b.lat, b.lon, b.match_type) == (c.lat, c.lon, "address_point")


def _profile(tmp_path: Path, table: str, rows: list[str]) -> Path:
    (tmp_path / "osm").mkdir(parents=True)
    for name in ("boston_backbay_drive.osm.bz2", "boston_backbay_addresses.osm.bz2"):
        (tmp_path / "osm" / name).symlink_to(OSM / name)
    (tmp_path / "osm" / "extracts.toml").write_text(
        'default = "t"\n[t]\nstreets = "boston_backbay_drive.osm.bz2"\n'
        f'addresses = "boston_backbay_addresses.osm.bz2"\nzip_codes = ["02108"]\n{table}\n'
    )
    (tmp_path / "located.csv").write_text("\n".join(["addr,y,x", *rows]) + "\n")
    return tmp_path


def test_known_addresses_table_names_its_file_and_columns(
    tmp_path: Path, geocoder: Geocoder, cache_dir: Path
) -> None:
    (lat1, lon1), (lat2, lon2) = _points_on(geocoder, "MOUNT VERNON STREET", 50.0, 150.0)
    table = '[t.known_addresses]\nfile = "../located.csv"\naddress = "addr"\nlat = "y"\nlon = "x"'
    rows = [
        f'"10 Mount Vernon St  Boston  MA  02108",{lat1},{lon1}',
        f'"30 Mount Vernon St  Boston  MA  02108",{lat2},{lon2}',
        '"40 Mount Vernon St  Boston  MA  02108",,',
    ]
    folder = _profile(tmp_path, table, rows)
    g = Geocoder.from_data_dir(folder, cache_dir=cache_dir)
    r = g.geocode("20 Mount Vernon St  Boston  MA  02108")
    assert r.match_type == "interpolated"
    assert metres(r.lat, r.lon, (lat1 + lat2) / 2, (lon1 + lon2) / 2) < 5.0  # type: ignore[arg-type]
    assert g.geocode("10 Mount Vernon St  Boston  MA  02108").match_type == "address_point"
    # Rows without coordinates, and rows on the city's "no location" placeholder, are left out.
    spec = load_extract(folder).known_addresses
    assert spec is not None and spec.file.resolve() == (folder / "located.csv").resolve()
    (folder / "located.csv").write_text(
        "addr,y,x\n1 A St,42.3594,-71.0587\n2 A St,42.35,-71.08\n3 A St,,\n"
    )
    texts, lats, _ = read_known_addresses(spec, is_placeholder=default_city().is_placeholder)
    assert (texts, lats) == (["2 A St"], [42.35])
    bad = _profile(tmp_path / "bad", '[t.known_addresses]\nfile = "../located.csv"', rows)
    with pytest.raises(ConfigurationError, match="known_addresses needs address, lat, lon"):
        Geocoder.from_data_dir(bad, cache_dir=cache_dir)


def test_number_zero_goes_where_the_city_put_its_earlier_reports(geocoder: Geocoder) -> None:
    query = "0 Mount Vernon St  Boston  MA  02108"
    middle = geocoder.geocode(query)
    assert middle.match_type == "street" and "city's earlier reports" not in middle.reason
    (lat1, lon1), (lat2, lon2) = _points_on(geocoder, "MOUNT VERNON STREET", 30.0, 40.0)
    known = geocoder.with_known_addresses(
        [query, query, query], [lat1, lat1, lat2], [lon1, lon1, lon2]
    )
    r = known.geocode(query)
    assert r.match_type == "street" and r.score == middle.score  # still street-level
    assert "at the point of the city's earlier reports of number 0" in r.reason
    assert metres(r.lat, r.lon, lat1, lon1) < 1.0  # type: ignore[arg-type]  # their median


# -- wide gaps, one known number, the other side, ZIP codes, streets without numbers ----------
def test_wide_gaps_are_interpolated_and_wider_ones_refused() -> None:
    line = [[(-100.0, 0.0), (2000.0, 0.0)]]
    wide = _street(line, {100: (0.0, 8.0), 400: (600.0, 8.0)})  # 300 numbers apart
    assert place_number(wide, 250)[:2] == pytest.approx((300.0, 8.0), abs=1e-6)  # type: ignore[index]
    n1 = 100 + 2 * MAX_NUMBER_GAP
    too_wide = _street(line, {100: (0.0, 8.0), n1: (1800.0, 8.0)})
    # Neither interpolated nor walked to: too far from both known numbers.
    assert place_number(too_wide, 100 + MAX_NUMBER_GAP) is None


def test_a_single_known_number_takes_its_direction_from_the_other_side() -> None:
    line = [[(0.0, 0.0), (1000.0, 0.0)]]
    # 10 alone on the north side; 3 and 11 on the south side, 3 more than 40 m from 10.
    known = {10: (100.0, 10.0), 11: (100.0, -10.0), 3: (40.0, -10.0)}
    x, y, quality = place_number(_street(line, known), 30)  # type: ignore[misc]
    rate = math.hypot(60.0, 20.0) / 7  # metres per number from 3 to 10
    assert (x, y) == pytest.approx((100.0 + 20 * rate, 0.0), abs=2.0)  # on, away from 3
    assert 0.4 <= quality < 0.9
    # One known number and nothing else: no direction, no answer.
    assert place_number(_street(line, {10: (100.0, 10.0)}), 30) is None


def test_between_the_other_sides_numbers_before_a_long_walk_on_this_side() -> None:
    line = [[(-50.0, 0.0), (1000.0, 0.0)]]
    known = {100: (0.0, 10.0), 102: (5.0, 10.0), 101: (0.0, -10.0), 301: (500.0, -10.0)}
    x, y, quality = place_number(_street(line, known), 200)  # type: ignore[misc]
    assert (x, y) == pytest.approx((500.0 * 99 / 200, -10.0), abs=1e-6)
    assert quality == 0.9
    # A few numbers past this side's last one stay on this side.
    x, y, _ = place_number(_street(line, known), 104)  # type: ignore[misc]
    assert (x, y) == pytest.approx((5.0, 10.0), abs=1e-6)


def test_number_zero_of_a_zip_goes_where_that_zips_reports_were(geocoder: Geocoder) -> None:
    (lat1, lon1), (lat2, lon2) = _points_on(geocoder, "MOUNT VERNON STREET", 30.0, 230.0)
    a, b = "0 Mount Vernon St  Boston  MA  02108", "0 Mount Vernon St  Boston  MA  02114"
    known = geocoder.with_known_addresses([a, a, b], [lat1, lat1, lat2], [lon1, lon1, lon2])
    ra, rb = known.geocode(a), known.geocode(b)
    assert ra.match_type == rb.match_type == "street"
    assert metres(ra.lat, ra.lon, lat1, lon1) < 1.0  # type: ignore[arg-type]
    assert metres(rb.lat, rb.lon, lat2, lon2) < 1.0  # type: ignore[arg-type]
    assert "earlier reports of number 0 on it in 02114" in rb.reason
    # Without a ZIP code: the median of all of them (here the first point, twice of three).
    r = known.geocode("0 Mount Vernon St")
    assert metres(r.lat, r.lon, lat1, lon1) < 1.0  # type: ignore[arg-type]


def test_a_small_number_on_a_short_unnumbered_street_that_leaves_the_extract(
    geocoder: Geocoder,
) -> None:
    street = geocoder.index.streets["DWIGHT STREET"]
    assert street.leaves_extract and not street.exact and street.geom is not None
    small = geocoder.geocode("57 Dwight St  Roxbury  MA  02118")
    assert small.match_type == "street" and small.score < 0.5
    assert "continues outside the extract" in small.reason
    assert on_street(geocoder, "DWIGHT STREET", small.lat, small.lon) < 1.0  # type: ignore[arg-type]
    # A number that needs more street than is mapped is most likely outside it.
    big = geocoder.geocode("1500 Dwight St  Roxbury  MA  02118")
    assert big.match_type == "none" and "cannot be placed" in big.reason
    assert 1500 * geocoder._low_rate() > street.geom.length


def test_low_rate_of_a_city_and_of_too_few_streets(geocoder: Geocoder) -> None:
    rate = low_rate(geocoder.index, 0.1)
    assert rate is not None and 1.0 < rate < 6.0  # metres per number, Boston
    assert rate < low_rate(geocoder.index, 0.5)  # type: ignore[operator]
    one = _street([[(0.0, 0.0), (500.0, 0.0)]], {2: (0.0, 5.0), 50: (200.0, 5.0)})
    assert low_rate(SimpleNamespace(streets={"A": one}), 0.1) is None


def test_reports_beyond_the_extract_say_which_way_the_numbers_grow(geocoder: Geocoder) -> None:
    line = [[(0.0, 0.0), (300.0, 0.0)]]
    alone = _street(line, {10: (100.0, 10.0)}, leaves=True)
    index = replace(geocoder.index, streets={"TEST STREET": alone})
    # 160 reported 400 m past the line's east end (the street goes on outside the extract),
    # and one 5 km away (another street of that name): only the first is kept, apart.
    known = with_known_points(
        index,
        [("TEST STREET", 160, 700.0, 0.0, ""), ("TEST STREET", 999, 5000.0, 0.0, "")],
    )
    street = known.streets["TEST STREET"]
    assert street.beyond.tolist() == [[160.0, 700.0, 0.0]] and 160 not in street.exact
    rate = math.hypot(600.0, 10.0) / 150  # metres per number from 10 to 160
    x, y, _ = place_number(street, 30)  # type: ignore[misc]
    assert (x, y) == pytest.approx((100.0 + 20 * rate, 0.0), abs=2.0)  # east, towards 160
    x, y, _ = place_number(street, 2)  # type: ignore[misc]
    assert (x, y) == pytest.approx((100.0 - 8 * rate, 0.0), abs=2.0)
    assert place_number(alone, 30) is None  # without it: no direction
    # A street inside the extract keeps no such reports.
    inside = replace(index, streets={"TEST STREET": replace(alone, leaves_extract=False)})
    kept = with_known_points(inside, [("TEST STREET", 160, 700.0, 0.0, "")])
    assert len(kept.streets["TEST STREET"].beyond) == 0
