"""`geo311 city init` for the geocoder and the city's units: a city's own located reports as
known addresses (``--located-reports``) and feet/miles or metres/km (``--units``)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from geo311.city.profile import load_city
from geo311.cli.app import _register_plugins, app
from geo311.errors import InputError
from geo311.geocoding.extracts import load_extract
from geo311.geocoding.geocoder import Geocoder
from geo311.settings import REPO_DATA_DIR
from routing.city_init import InitOptions, default_units, init_city

SF = REPO_DATA_DIR / "osm" / "sf_mission_streets.osm.bz2"


def _along(geocoder: Geocoder, key: str, *metres: float) -> list[tuple[float, float]]:
    """(lat, lon) of points along the longest piece of a street, from its start."""
    geom = geocoder.index.streets[key].geom
    assert geom is not None
    part = max(geom.geoms, key=lambda g: g.length)  # type: ignore[attr-defined]
    return [geocoder._wgs(part.interpolate(m).x, part.interpolate(m).y) for m in metres]


def test_units_by_country_of_the_time_zone() -> None:
    assert default_units("America/Los_Angeles") == "imperial"  # United States
    assert default_units("Pacific/Honolulu") == "imperial"
    assert default_units("America/Toronto") == "metric"  # Canada
    assert default_units("America/Mexico_City") == "metric"
    assert default_units("Europe/Paris") == "metric"
    assert default_units("UTC") == "metric"


def test_city_init_with_the_city_located_reports(tmp_path: Path) -> None:
    sf = Geocoder.from_data_dir(REPO_DATA_DIR, extract="sf_mission", use_cache=False)
    (lat1, lon1), (lat2, lon2) = _along(sf, "VALENCIA STREET", 100.0, 300.0)
    located = tmp_path / "export.csv"
    located.write_text(
        "Case,Full_Address,Latitude,Longitude\n"
        f"1,100 Valencia St San Francisco CA 94103,{lat1},{lon1}\n"
        f"2,200 Valencia St San Francisco CA 94103,{lat2},{lon2}\n"
        "3,300 Valencia St San Francisco CA 94103,,\n"
    )
    done = init_city(
        tmp_path / "city",
        name="San Francisco",
        osm=SF,
        timezone="America/Los_Angeles",
        options=InitOptions(located_reports=located),
    )
    assert load_city(done.folder).units == "imperial"
    raw = tomllib.loads((done.folder / "osm" / "extracts.toml").read_text())
    assert raw["san_francisco"]["known_addresses"] == {
        "file": "../export.csv",
        "address": "Full_Address",
        "lat": "Latitude",
        "lon": "Longitude",
    }
    spec = load_extract(done.folder).known_addresses
    assert spec is not None and spec.file.resolve() == (done.folder / "export.csv").resolve()
    geocoder = Geocoder.from_data_dir(done.folder, cache_dir=done.folder / "cache")
    exact = geocoder.geocode("100 Valencia St, San Francisco, CA 94103")
    assert exact.match_type == "address_point" and "earlier located report" in exact.reason
    r = geocoder.geocode("150 VALENCIA ST SAN FRANCISCO CA")
    assert r.match_type == "interpolated"
    mid = ((lat1 + lat2) / 2, (lon1 + lon2) / 2)
    dy = (r.lat - mid[0]) * 111_320.0  # type: ignore[operator]
    dx = (r.lon - mid[1]) * 111_320.0 * math.cos(math.radians(mid[0]))  # type: ignore[operator]
    assert math.hypot(dx, dy) < 10.0
    # Without the known reports the streets file has no address point to place it from.
    bare = Geocoder.from_data_dir(
        done.folder, cache_dir=done.folder / "cache", known_addresses=False
    )
    assert bare.geocode("150 VALENCIA ST SAN FRANCISCO CA").match_type != "interpolated"


def test_city_init_refuses_bad_units_and_located_reports(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--units 'furlongs'"):
        init_city(
            tmp_path / "a", name="X", osm=SF, timezone="UTC", options=InitOptions(units="furlongs")
        )
    with pytest.raises(InputError, match="--located-reports .* does not exist"):
        init_city(
            tmp_path / "b",
            name="X",
            osm=SF,
            timezone="UTC",
            options=InitOptions(located_reports="no.csv"),
        )
    bad = tmp_path / "bad.csv"
    bad.write_text("id,where,lat,lon\n1,100 Valencia St,37.76,-122.42\n")
    with pytest.raises(InputError, match="bad.csv has no address column"):
        init_city(
            tmp_path / "c",
            name="X",
            osm=SF,
            timezone="UTC",
            options=InitOptions(located_reports=bad),
        )


def test_city_init_command_takes_units_and_located_reports(tmp_path: Path) -> None:
    if not any(getattr(c, "name", None) == "plan" for c in app.registered_commands):
        _register_plugins()
    runner = CliRunner()
    base = ["city", "init", str(tmp_path / "c"), "--name", "X", "--osm", str(SF)]
    result = runner.invoke(app, [*base, "--timezone", "Europe/Paris", "--units", "yards"])
    assert result.exit_code != 0 and "--units 'yards'" in f"{result.output}{result.exception}"
    missing = ["--timezone", "UTC", "--located-reports", str(tmp_path / "none.csv")]
    result = runner.invoke(app, [*base, *missing])
    assert result.exit_code != 0 and "--located-reports" in f"{result.output}{result.exception}"
