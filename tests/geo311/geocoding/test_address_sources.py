"""The address files cities have (OpenAddresses, TIGER/Line ADDRFEAT, a city's own CSV), read
by hand-written tiny files, and ``geo311 city init --addresses`` with them and with a PBF."""

from __future__ import annotations

import gzip
import json
import math
import tomllib
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import LineString

from geo311.errors import InputError
from geo311.geocoding.extracts import load_extract
from geo311.geocoding.geocoder import Geocoder
from geo311.geocoding.sources import (
    AddressFile,
    detect_format,
    parse_columns,
    read_mapped_csv,
    read_openaddresses,
    read_tiger,
)
from routing.city_init import InitOptions, init_city
from tests.geo311.geocoding._grid_city import house, lonlat, write_city

HELSINKI = Path("/work/shared/data/osm/helsinki_center.osm.pbf")


def metres_to(result: object, x: float, y: float) -> float:
    lon, lat = lonlat(x, y)
    r_lat, r_lon = result.lat, result.lon  # type: ignore[attr-defined]
    dx = (r_lon - lon) * 111_320.0 * math.cos(math.radians(lat))
    return math.hypot(dx, (r_lat - lat) * 111_320.0)


def _openaddresses_csv(path: Path) -> Path:
    rows = ["LON,LAT,NUMBER,STREET,UNIT,CITY,DISTRICT,REGION,POSTCODE"]
    for n in (212, 640, 1015):
        lon, lat = lonlat(*house("Lombard", n))
        rows.append(f"{lon},{lat},{n},E LOMBARD ST,,BALTIMORE,,MD,21231")
    rows.append(",,99,E LOMBARD ST,,,,,")  # no point: left out
    path.write_text("\n".join(rows) + "\n")
    return path


def _openaddresses_geojsonl(path: Path) -> Path:
    lines = []
    for n in (305, 902):
        lon, lat = lonlat(*house("Pratt", n))
        props = {"number": str(n), "street": "E PRATT ST", "postcode": "21202", "unit": ""}
        feature = {"type": "Feature", "properties": props}
        feature["geometry"] = {"type": "Point", "coordinates": [lon, lat]}
        lines.append(json.dumps(feature))
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def _tiger(path: Path) -> Path:
    """ADDRFEAT of Fleet Street's blocks 100-199 and 300-399 (left = north = odd)."""
    rows, lines = [], []
    for start in (100, 300):
        lines.append(LineString([lonlat(start, -200.0), lonlat(start + 100, -200.0)]))
        rows.append(
            {
                "FULLNAME": "Fleet St",
                "LFROMHN": str(start + 1),
                "LTOHN": str(start + 99),
                "RFROMHN": str(start),
                "RTOHN": str(start + 98),
                "ZIPL": "21231",
                "ZIPR": "21231",
            }
        )
    gpd.GeoDataFrame(rows, geometry=lines, crs="EPSG:4269").to_file(path, driver="GPKG")
    return path


def _city_csv(path: Path) -> Path:
    rows = ["ID;HOUSE;ST_NAME;Y;X"]  # written by a city's system: its own column names
    for n in (410, 1120):
        lon, lat = lonlat(*house("Aliceanna", n))
        rows.append(f"{n};{n};E ALICEANNA ST;{lat};{lon}")
    path.write_text("\n".join(rows).replace(";", ",") + "\n")
    return path


def test_openaddresses_csv_and_geojson_lines(tmp_path: Path) -> None:
    csv_points = read_openaddresses(_openaddresses_csv(tmp_path / "oa.csv"))
    assert [(p.number, p.street, p.postcode) for p in csv_points] == [
        ("212", "E LOMBARD ST", "21231"),
        ("640", "E LOMBARD ST", "21231"),
        ("1015", "E LOMBARD ST", "21231"),
    ]
    lines = read_openaddresses(_openaddresses_geojsonl(tmp_path / "oa.geojson.gz"))
    assert [(p.number, p.street) for p in lines] == [("305", "E PRATT ST"), ("902", "E PRATT ST")]
    assert (lines[0].lon, lines[0].lat) == pytest.approx(lonlat(*house("Pratt", 305)))
    assert detect_format(tmp_path / "oa.csv") == "openaddresses"
    assert detect_format(tmp_path / "oa.geojson.gz") == "openaddresses"


def test_tiger_ranges_become_side_points(tmp_path: Path) -> None:
    points = read_tiger(_tiger(tmp_path / "addrfeat.gpkg"))
    by_number = {int(p.number): p for p in points}
    assert sorted(by_number) == [100, 101, 198, 199, 300, 301, 398, 399]
    lon, lat = lonlat(100.0, -190.0)  # 101: the line's start, 10 m to the left (north)
    assert (by_number[101].lon, by_number[101].lat) == pytest.approx((lon, lat), abs=1e-6)
    lon, lat = lonlat(200.0, -210.0)  # 198: the line's end, 10 m to the right (south)
    assert (by_number[198].lon, by_number[198].lat) == pytest.approx((lon, lat), abs=1e-6)
    assert detect_format(tmp_path / "addrfeat.gpkg") == "tiger"


def test_city_csv_through_a_column_mapping(tmp_path: Path) -> None:
    path = _city_csv(tmp_path / "points.csv")
    columns = parse_columns("number=HOUSE,street=ST_NAME,lat=Y,lon=X")
    points = read_mapped_csv(path, columns)
    assert [(p.number, p.street) for p in points] == [
        ("410", "E ALICEANNA ST"),
        ("1120", "E ALICEANNA ST"),
    ]
    with pytest.raises(InputError, match="has no column 'LAT'"):
        read_mapped_csv(path, {"number": "HOUSE", "street": "ST_NAME", "lat": "LAT", "lon": "X"})
    with pytest.raises(InputError, match="name the columns"):
        parse_columns("number=HOUSE,lat=Y,lon=X")
    with pytest.raises(InputError, match="--address-columns"):
        detect_format(path)  # a CSV that is not OpenAddresses needs its columns named
    text = tmp_path / "text.csv"
    lon, lat = lonlat(*house("Aliceanna", 410))
    text.write_text(f"addr,y,x\n410 E Aliceanna St Baltimore MD 21231,{lat},{lon}\n")
    whole = read_mapped_csv(text, {"address": "addr", "lat": "y", "lon": "x"})
    assert [(p.number, p.street, p.postcode) for p in whole] == [("410", "E Aliceanna St", "21231")]


def test_city_init_with_every_address_format(tmp_path: Path) -> None:
    streets = write_city(tmp_path / "streets.osm", [])
    done = init_city(
        tmp_path / "city",
        name="Grid Town",
        osm=streets,
        timezone="America/New_York",
        options=InitOptions(
            addresses=[
                _openaddresses_csv(tmp_path / "oa.csv"),
                _openaddresses_geojsonl(tmp_path / "oa.geojson.gz"),
                _tiger(tmp_path / "addrfeat.gpkg"),
                _city_csv(tmp_path / "points.csv"),
            ],
            address_columns="number=HOUSE,street=ST_NAME,lat=Y,lon=X",
        ),
    )
    raw = tomllib.loads((done.folder / "osm" / "extracts.toml").read_text())
    files = raw["grid_town"]["address_files"]
    assert [(f["file"], f["format"]) for f in files] == [
        ("oa.csv", "openaddresses"),
        ("oa.geojson.gz", "openaddresses"),
        ("addrfeat.gpkg", "tiger"),
        ("points.csv", "csv"),
    ]
    assert files[3]["columns"] == {"number": "HOUSE", "street": "ST_NAME", "lat": "Y", "lon": "X"}
    assert load_extract(done.folder).address_files[2] == AddressFile(
        done.folder / "osm" / "addrfeat.gpkg", "tiger", {}
    )
    g = Geocoder.from_data_dir(done.folder, cache_dir=done.folder / "cache")
    assert g.geocode("640 E Lombard St Baltimore MD 21231").match_type == "address_point"
    # TIGER: between the range's ends, on its side.
    t = g.geocode("151 Fleet St")
    assert t.match_type == "interpolated" and metres_to(t, 150.0, -190.0) < 5.0
    # The city's CSV (upper case, abbreviated) names the OSM street East Aliceanna Street.
    c = g.geocode("410 East Aliceanna Street")
    assert c.match_type == "address_point" and metres_to(c, *house("Aliceanna", 410)) < 1.0
    # Numbers without any address point on the grid: the grid learned from these files.
    p = g.geocode("700 E Pratt St")
    assert p.match_type == "interpolated" and metres_to(p, *house("Pratt", 700)) < 20.0


@pytest.mark.skipif(not HELSINKI.is_file(), reason="the shared Helsinki extract is absent")
def test_city_init_of_helsinki_indexes_the_pbf_address_points(tmp_path: Path) -> None:
    done = init_city(tmp_path / "hki", name="Helsinki", osm=HELSINKI, timezone="Europe/Helsinki")
    raw = tomllib.loads((done.folder / "osm" / "extracts.toml").read_text())
    assert raw["helsinki"]["addresses"] == HELSINKI.name
    assert not any("address points" in s for s in done.next_steps)
    g = Geocoder.from_data_dir(done.folder, cache_dir=done.folder / "cache")
    assert len(g.index.addr_xy) > 1400
    r = g.geocode("Kaivokatu 1, 00100 Helsinki")
    assert r.match_type == "address_point"
    # Several features carry Kaivokatu 1 (the station building, an entrance): their mean.
    dy = (r.lat - 60.1713198) * 111_320.0  # type: ignore[operator]
    dx = (r.lon - 24.9414566) * 111_320.0 * math.cos(math.radians(60.17))  # type: ignore[operator]
    assert math.hypot(dx, dy) < 50.0
    assert g.geocode("Kaivokatu 1, 99999 Helsinki").match_type == "address_point"  # no ZIP list
    sv = g.geocode("Brunnsgatan 1, 00100 Helsingfors")  # Swedish name:sv of Kaivokatu
    assert sv.match_type == "address_point" and sv.matched_address.startswith("1 Kaivokatu")
