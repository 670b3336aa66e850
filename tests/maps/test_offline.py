"""Every map `geo311 map` writes, and every map page the API serves, work with no network.

Chromium runs with every request that would leave the machine aborted (tile requests answered
with a grey tile): the maps must draw all their markers and routes, load their fonts, and log
no JavaScript error and no failed load. The written maps carry their streets
(:mod:`maps.streetlayer`): no map asks for an online tile when it opens, and the streets
show (``tests/maps/test_demo_maps_offline.py`` checks the demo's files pixel by pixel).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from geo311.city.catalogue import Catalogue
from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.settings import REPO_DATA_DIR, Settings
from geo311.workorders.grouping import rebuild_work_orders
from geo311.workorders.open_view import open_work_orders_at
from maps.assets import embed_html, vendor_file
from maps.cli import register
from maps.hotspots import gi_star_hexagons, hex_counts, located_requests_frame
from maps.openwork import open_work_map
from tests.maps.synthetic import synthetic_work_orders

REPO = Path(__file__).resolve().parents[2]
TZ = default_city().tz
AT = datetime(2015, 10, 6, 7, 0, tzinfo=TZ)
YARD = (42.3445, -71.0755)
AXE = vendor_file("axe-core", "axe.min.js")
TOKEN = "plan-token"
GRID = [(42.3450 + 0.0025 * r, -71.0900 + 0.0035 * c) for r in range(4) for c in range(6)]

JS_COUNTS = """() => {
  let map = null, clustered = 0, markers = 0, lines = 0;
  for (const k of Object.keys(window)) {
    let v; try { v = window[k]; } catch (e) { continue; }
    if (v instanceof L.Map) map = v;
    if (L.MarkerClusterGroup && v instanceof L.MarkerClusterGroup) clustered += v.getLayers().length;
  }
  map.eachLayer((layer) => {
    if (layer instanceof L.Marker) markers += 1;
    if (layer instanceof L.Polyline && !(layer instanceof L.Polygon)
        && layer.options.className !== 'g311-street') lines += 1;
  });
  return {clustered: clustered, markers: markers, lines: lines,
          stops: document.querySelectorAll('.g311-stop').length,
          routes: document.querySelectorAll('path.g311-route').length,
          gi: document.querySelectorAll('path.g311-hex-gi').length,
          fonts: [...document.fonts].filter((f) => f.status === 'loaded').map((f) => f.family)};
}"""


@dataclass
class Seeded:
    """A store with open work, a stored two-crew plan, and what the maps must show."""

    url: str
    open_work: int
    gi_cells: int
    plan_id: int
    crew_stops: dict[str, int]


def _plan(points: list[tuple[float, float]]) -> dict[str, Any]:
    locations = [YARD, *points]
    routes = []
    for crew, indices in (("A", [1, 2, 3]), ("B", [4, 5])):
        steps = [{"type": "start", "arrival": AT.isoformat(), "location_index": 0}]
        for n, i in enumerate(indices, start=1):
            when = AT + timedelta(minutes=30 * n)
            steps.append(
                {
                    "type": "job",
                    "arrival": when.isoformat(),
                    "location_index": i,
                    "job_id": f"j{i}",
                    "ref": str(i),
                }
            )
        steps.append({"type": "end", "arrival": None, "location_index": 0})
        routes.append({"crew_id": crew, "steps": steps})
    labels = {f"j{i}": f"Pothole repair, {i} Boylston St" for i in range(1, 6)}
    return {"routes": routes, "unassigned": [], "locations": locations, "labels": labels}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, catalogue: Catalogue) -> Seeded:
    url = f"sqlite:///{tmp_path_factory.mktemp('offline') / 'g.db'}"
    with Store(url) as store:
        for i, (lat, lon) in enumerate(GRID):
            code = ("pothole", "streetlight_outage")[i % 2]
            opened = AT - timedelta(days=1 + i % 5)
            request_repo.add_request(
                store,
                ServiceRequest(f"s{i}", code, "open", opened, "boston", f"b{i}", lat=lat, long=lon),
            )
        rebuild_work_orders(store, catalogue)
        open_now = open_work_orders_at(store, AT, catalogue=catalogue)
        assert len(open_now) == len(GRID)  # 200+ m apart: no two reports merge
        gi = gi_star_hexagons(hex_counts(located_requests_frame(store)))
        plan_id = plan_repo.save_plan(store, _plan(GRID[:5]), plan_date="2015-10-06")
    return Seeded(url, len(open_now), len(gi), plan_id, {"A": 3, "B": 2})


@pytest.fixture(scope="module")
def written(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """geo311 test app."""

    register(app)
    out = tmp_path_factory.mktemp("out")
    runner = CliRunner()
    common = ["--out", str(out), "--database-url", seeded.url]
    for args in (["open", "--at", "2015-10-06T07:00"], ["hotspots"], ["routes"]):
        res = runner.invoke(app, ["map", *args, *common])
        assert res.exit_code == 0, res.output
    return out


def _check_open_work(mp: Any, expected: int) -> None:
    mp.page.wait_for_selector(".g311-pin, .marker-cluster")
    got = mp.page.evaluate(JS_COUNTS)
    assert got["clustered"] == expected > 20
    assert any("Font Awesome" in f for f in got["fonts"]), got["fonts"]
    mp.assert_clean()


def _check_hotspots(mp: Any, expected: int) -> None:
    mp.page.wait_for_selector("path.g311-hex-gi")
    got = mp.page.evaluate(JS_COUNTS)
    assert got["gi"] == expected > 0
    assert mp.page.locator(".timecontrol-slider").count() >= 1
    # the time slider's play/pause glyphs: the stylesheet's font, pointed at the shipped one
    mp.page.wait_for_function(
        "() => [...document.fonts].some((f) => f.family.includes('Glyphicons') && f.status === 'loaded')"
    )
    mp.assert_clean()


def _check_routes(mp: Any, stops: int, crews: int) -> None:
    mp.page.wait_for_selector(".g311-stop")
    got = mp.page.evaluate(JS_COUNTS)
    assert got["lines"] == got["routes"] == crews
    assert got["stops"] == stops and got["markers"] == stops + 1  # and the yard
    mp.assert_clean()


@pytest.mark.browser
def test_every_map_geo311_map_writes_works_offline(seeded: Seeded, written: Path, open_map) -> None:
    names = sorted(p.name for p in written.glob("*.html"))
    assert names == [
        "hotspots.html",
        "open_work.html",
        "route_A.html",
        "route_B.html",
        "routes.html",
    ]
    _check_open_work(open_map(written / "open_work.html"), seeded.open_work)
    hot = open_map(written / "hotspots.html")
    _check_hotspots(hot, seeded.gi_cells)
    assert not hot.tiles, "the online tiles are an optional layer, off when the page opens"
    total = sum(seeded.crew_stops.values())
    _check_routes(open_map(written / "routes.html"), total, len(seeded.crew_stops))
    for crew, stops in seeded.crew_stops.items():
        _check_routes(open_map(written / f"route_{crew}.html"), stops, 1)


@pytest.fixture(scope="module")
def served(written: Path, static_server: Any) -> str:
    shutil.copytree(written, static_server.root / "served_out", dirs_exist_ok=True)
    return f"{static_server.url}/served_out"


@pytest.mark.browser
def test_written_maps_work_from_a_web_server_too(served: str, open_map) -> None:
    mp = open_map(f"{served}/routes.html")
    mp.page.wait_for_selector(".g311-stop")
    assert any("/served_out/assets/leaflet-1.9.3/" in u for u in mp.local)
    mp.assert_clean()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api_url(seeded: Seeded) -> Iterator[str]:
    import httpx
    import uvicorn

    from api.app import create_app

    settings = Settings(
        database_url=seeded.url, data_dir=REPO_DATA_DIR, staff_tokens={TOKEN: "planner"}
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.1)
    assert httpx.get(f"{base}/static/vendor/leaflet-1.9.3/dist/leaflet.css").status_code == 200
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.mark.browser
def test_every_map_page_the_api_serves_works_offline(
    seeded: Seeded, api_url: str, open_page
) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # The API's open-work map shows what is open now: every seeded work order still is.
    _check_open_work(open_page(f"{api_url}/maps/open-work", headers=auth), seeded.open_work)
    _check_hotspots(open_page(f"{api_url}/maps/hotspots", headers=auth), seeded.gi_cells)
    plan = open_page(f"{api_url}/maps/plan?plan_id={seeded.plan_id}", headers=auth)
    _check_routes(plan, sum(seeded.crew_stops.values()), len(seeded.crew_stops))
    assert any("/static/vendor/leaflet-1.9.3/dist/leaflet.js" in u for u in plan.local)


@pytest.mark.browser
def test_vendored_axe_core_runs_offline_on_a_written_map(served: str, open_map) -> None:
    # over HTTP: axe-core reads the page's stylesheets, which file:// pages may not
    mp = open_map(f"{served}/route_A.html")
    mp.page.wait_for_selector(".g311-stop")
    mp.page.add_script_tag(path=str(AXE))
    result = mp.page.evaluate("async () => await axe.run(document)")
    assert result["testEngine"]["name"] == "axe-core"
    assert result["passes"], "axe-core ran no check"
    mp.assert_clean()


@pytest.mark.browser
def test_a_map_embedded_in_a_written_page_works_offline(
    catalogue, tmp_path: Path, open_map
) -> None:
    # e.g. a crew's itinerary in out/itineraries/ showing the crew's route
    orders = synthetic_work_orders(12, catalogue, at=AT, seed=4)
    frame = embed_html(open_work_map(orders, catalogue, at=AT), tmp_path / "itineraries")
    page = tmp_path / "itineraries" / "itinerary_A.html"
    page.write_text(
        f"<!doctype html><html lang='en'><head><title>Crew A</title></head><body>"
        f"<h1>Crew A</h1>{frame}<p>1. 145 Ipswich St</p></body></html>"
    )
    mp = open_map(page)
    mp.page.wait_for_timeout(300)
    inner = mp.page.frames[1]
    inner.wait_for_selector(".g311-pin, .marker-cluster")
    assert inner.evaluate(JS_COUNTS)["clustered"] == len(orders)
    assert mp.page.locator("h1").inner_text() == "Crew A"  # the host page keeps its layout
    mp.assert_clean()
