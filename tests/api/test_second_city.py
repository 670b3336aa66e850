"""A second city end to end: `geo311 city init` on San Francisco's Mission streets, then import,
work orders, `plan --all-districts`, maps and the Open311 API, all with GEO311_CITY_DIR."""

from __future__ import annotations

import bz2
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from geo311.city.profile import CITY_DIR_ENV, load_city
from geo311.cli.app import _register_plugins, app
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.requests import repo as request_repo
from geo311.settings import REPO_DATA_DIR, Settings, get_settings
from routing.city_init import CityInit, InitOptions, init_city

PACIFIC = ZoneInfo("America/Los_Angeles")
AT = "2017-10-24T07:00"


def _sf_file() -> Path:
    for folder in (REPO_DATA_DIR / "osm", REPO_DATA_DIR.parent.parent / "shared" / "data" / "osm"):
        if (folder / "sf_mission_streets.osm.bz2").is_file():
            return folder / "sf_mission_streets.osm.bz2"
    pytest.skip("sf_mission_streets.osm.bz2 is in neither data/osm nor ../shared/data/osm")


BOX = (37.750, -122.432, 37.770, -122.405)  # south, west, north, east: the Mission's core


def _cut(source: Path, out: Path) -> Path:
    """Keep the nodes inside BOX and the ways all of whose nodes are kept (a faster test)."""
    south, west, north, east = BOX
    with bz2.open(source) as fh:
        root = ET.parse(fh).getroot()
    keep = {
        n.get("id")
        for n in root.iter("node")
        if south <= float(n.get("lat", 0)) <= north and west <= float(n.get("lon", 0)) <= east
    }
    for el in list(root):
        if (
            el.tag == "node"
            and el.get("id") not in keep
            or el.tag == "way"
            and any(nd.get("ref") not in keep for nd in el.iter("nd"))
            or el.tag == "relation"
        ):
            root.remove(el)
    with bz2.open(out, "wb") as fh:
        ET.ElementTree(root).write(fh, encoding="utf-8", xml_declaration=True)
    return out


def _two_districts(path: Path) -> Path:
    """West and east of Mission St's longitude: two districts covering the extract."""
    west, east, cut = -122.45, -122.38, -122.4185
    south, north = 37.73, 37.79
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[a, south], [b, south], [b, north], [a, north], [a, south]]],
                },
            }
            for name, a, b in (("Mission West", west, cut), ("Mission East", cut, east))
        ],
    }
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(scope="module")
def sf(tmp_path_factory: pytest.TempPathFactory) -> CityInit:
    folder = tmp_path_factory.mktemp("sf")
    return init_city(
        folder / "city",
        name="San Francisco",
        osm=_cut(_sf_file(), folder / "sf_mission_streets.osm.bz2"),
        timezone="America/Los_Angeles",
        options=InitOptions(
            districts=_two_districts(folder / "districts.geojson"), jurisdiction="sfgov.example"
        ),
    )


@pytest.fixture()
def sf_env(sf: CityInit, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(CITY_DIR_ENV, str(sf.folder))
    get_settings.cache_clear()
    yield sf.folder
    monkeypatch.delenv(CITY_DIR_ENV)
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(getattr(c, "name", None) == "plan" for c in app.registered_commands):
        _register_plugins()
    return CliRunner()


def _requests(sf: CityInit, path: Path) -> Path:
    """Open311 JSON: reports on street nodes of both districts, opened before 07:00."""
    rng = np.random.default_rng(7)
    graph = sf.graph
    picks = rng.choice(len(graph.node_ids), size=24, replace=False)
    opened = datetime(2017, 10, 23, 9, 0, tzinfo=PACIFIC)
    codes = ["pothole", "streetlight_outage"]
    records = [
        {
            "service_request_id": f"sf-{k}",
            "service_code": codes[k % 2],
            "requested_datetime": (opened + timedelta(minutes=20 * k)).isoformat(),
            "status": "open",
            "lat": float(graph.node_lat[i]),
            "long": float(graph.node_lon[i]),
            "address": "",
        }
        for k, i in enumerate(picks)
    ]
    # One by address only: an intersection the geocoder places without address points.
    records.append(
        {
            "service_request_id": "sf-addr",
            "service_code": "pothole",
            "requested_datetime": "2017-10-23T10:00:00",
            "status": "open",
            "address": "16th St & Valencia St",
        }
    )
    path.write_text(json.dumps(records))
    return path


def test_city_init_writes_a_profile_that_plans_at_once(sf: CityInit) -> None:
    city = load_city(sf.folder)
    assert city.name == "San Francisco" and city.timezone == "America/Los_Angeles"
    assert city.jurisdiction_id == "sfgov.example" and city.metric_crs == "EPSG:32610"
    assert sf.districts == ["Mission West", "Mission East"]
    crews = (sf.folder / "crews.toml").read_text()
    assert crews.count("assumed = true") == 2 and 'district = "Mission East"' in crews
    for name in ("city.toml", "services.toml", "crews.toml", "districts.geojson"):
        assert (sf.folder / name).is_file()
    assert any("ASSUMED" in step for step in sf.next_steps)
    settings = Settings(city_dir=sf.folder)
    assert settings.osm_drive_file == sf.folder / "osm" / "sf_mission_streets.osm.bz2"
    assert settings.data_dir == sf.folder and settings.timezone == "America/Los_Angeles"


def test_the_second_city_end_to_end(
    sf: CityInit, sf_env: Path, runner: CliRunner, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'sf.db'}"
    data = _requests(sf, tmp_path / "requests.json")
    result = runner.invoke(app, ["import", str(data), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "new 25" in result.output
    with Store(url) as store:
        placed = request_repo.query_requests(store, request_repo.RequestFilters(ids=["sf-addr"]))[0]
    assert placed.lat is not None and 37.76 < placed.lat < 37.77  # 16th & Valencia

    result = runner.invoke(
        app, ["workorders", "--at", AT, "--rebuild", "--database-url", url, "--limit", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "PDT" in result.output

    out = tmp_path / "plans"
    args = ["plan", "--all-districts", "--at", AT, "--time-limit", "1", "--out", str(out)]
    result = runner.invoke(app, [*args, "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "== district Mission West" in result.output
    assert "== district Mission East" in result.output
    docs = [
        json.loads((out / d / "plan.json").read_text()) for d in ("mission-west", "mission-east")
    ]
    assert docs[0]["day"] == docs[1]["day"] and docs[0]["day"].startswith("2017-10-24/")
    assert [d["district"] for d in docs] == ["Mission West", "Mission East"]
    served = sum(d["summary"]["jobs_served"] for d in docs)
    assert served >= 20  # 25 reports on its streets, two districts with four crews each
    assert all(d["timezone"] == "America/Los_Angeles" for d in docs)
    assert docs[0]["routes"][0]["steps"][0]["arrival"].endswith("-07:00")
    assert not any(u["code"] == "outside_street_graph" for d in docs for u in d["unassigned"])

    # the same night as tasks on a local Dask cluster: both districts planned and stored
    out2 = tmp_path / "plans-cluster"
    args2 = ["plan", "--all-districts", "--at", AT, "--time-limit", "1", "--out", str(out2)]
    result = runner.invoke(app, [*args2, "--cluster", "local", "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "NOT PLANNED" not in result.output
    again = [
        json.loads((out2 / d / "plan.json").read_text()) for d in ("mission-west", "mission-east")
    ]
    assert [d["district"] for d in again] == ["Mission West", "Mission East"]
    assert again[0]["day"] == again[1]["day"] != docs[0]["day"]
    assert sum(d["summary"]["jobs_served"] for d in again) >= 20

    result = runner.invoke(
        app, ["map", "routes", "--out", str(tmp_path / "maps"), "--database-url", url]
    )
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "maps").glob("*.html"))

    settings = Settings(database_url=url)
    with TestClient(create_app(settings)) as client:
        disc = client.get("/open311/v2/discovery.json").json()
        assert "San Francisco" in disc["contact"]
        window = {"start_date": "2017-10-23T00:00:00Z", "end_date": "2017-10-25T00:00:00Z"}
        got = client.get(
            "/open311/v2/requests.json", params={"jurisdiction_id": "sfgov.example", **window}
        )
        assert got.status_code == 200, got.text
        assert got.json() and all(r["requested_datetime"].endswith("-07:00") for r in got.json())
        other = client.get("/open311/v2/requests.json", params={"jurisdiction_id": "boston.gov"})
        assert other.status_code == 404 and "sfgov.example" in other.text


def test_city_init_refuses_bad_input_naming_the_argument(sf: CityInit, tmp_path: Path) -> None:
    osm = sf.folder / "osm" / "sf_mission_streets.osm.bz2"
    with pytest.raises(InputError, match="--timezone 'Mars/Olympus'"):
        init_city(tmp_path / "a", name="X", osm=osm, timezone="Mars/Olympus")
    not_osm = tmp_path / "streets.osm"
    not_osm.write_text("name,lat\nfoo,1\n")
    with pytest.raises(InputError, match="--osm .* is not OSM XML"):
        init_city(tmp_path / "b", name="X", osm=not_osm, timezone="UTC")
    csv_file = tmp_path / "streets.csv"
    csv_file.write_text("x")
    with pytest.raises(InputError, match="--osm .* is not an OSM file"):
        init_city(tmp_path / "c", name="X", osm=csv_file, timezone="UTC")
    empty = tmp_path / "empty.osm"
    empty.write_text('<?xml version="1.0"?>\n<osm version="0.6"></osm>\n')
    with pytest.raises(InputError, match="empty extract"):
        init_city(tmp_path / "d", name="X", osm=empty, timezone="UTC")
    far = _two_districts(tmp_path / "far.geojson")
    far.write_text(far.read_text().replace("-122.", "-71.").replace("37.7", "42.3"))
    with pytest.raises(InputError, match=r"--districts .*\(outside the streets\)"):
        # (in the profile's own folder: the street graph is read from its cache)
        init_city(sf.folder, name="X", osm=osm, timezone="UTC", options=InitOptions(districts=far))


def test_address_points_in_the_streets_file_are_found() -> None:
    from routing.city_init import _has_addresses

    assert _has_addresses(REPO_DATA_DIR / "osm" / "boston_backbay_addresses.osm.bz2")
    assert not _has_addresses(_sf_file())
