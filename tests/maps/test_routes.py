from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from geo311.errors import InputError
from geo311.plans.document import PlanDocument
from maps.routes import CrewRoute, RouteStop, route_drawings_from_plan, write_route_maps

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("America/New_York")
T0 = datetime(2015, 10, 6, 7, 0, tzinfo=TZ)
YARD = (42.3445, -71.0755)
# Screenshots go to GEO311_SCREENSHOT_DIR (e.g. docs/img to refresh the README) or a temp dir.
IMG = Path(
    os.environ.get("GEO311_SCREENSHOT_DIR", Path(tempfile.gettempdir()) / "geo311-screenshots")
)
IMG.mkdir(parents=True, exist_ok=True)


def _crew(crew_id: str, color: str, points: list[tuple[float, float]]) -> CrewRoute:
    stops = tuple(
        RouteStop(
            n,
            lat,
            lon,
            T0 + timedelta(minutes=25 * n),
            f"Pothole repair, {n} Main St",
            f"j{crew_id}{n}",
        )
        for n, (lat, lon) in enumerate(points, start=1)
    )
    path = [YARD]
    for lat, lon in points + [YARD]:
        path.append((path[-1][0], lon))  # an L-shaped leg, as along a street grid
        path.append((lat, lon))
    return CrewRoute(
        crew_id,
        color,
        tuple(path),
        stops,
        YARD,
        itinerary_href=f"itinerary_{crew_id}.html",
        gpx_href=f"route_{crew_id}.gpx",
    )


CREWS = [
    _crew("A", "#1c7ed6", [(42.3480, -71.0850), (42.3510, -71.0810), (42.3500, -71.0760)]),
    _crew(
        "B",
        "#e8590c",
        [(42.3470, -71.0720), (42.3520, -71.0700), (42.3535, -71.0745), (42.3490, -71.0790)],
    ),
]

PLAN = {
    "origin": T0.isoformat(),
    "routes": [
        {
            "crew_id": "c1",
            "steps": [
                {"type": "start", "arrival": T0.isoformat(), "location_index": 0},
                {
                    "type": "job",
                    "arrival": (T0 + timedelta(minutes=12)).isoformat(),
                    "location_index": 2,
                    "job_id": "j2",
                    "ref": "17",
                },
                {"type": "break", "arrival": None, "location_index": None, "break_id": "lunch"},
                {
                    "type": "job",
                    "arrival": (T0 + timedelta(minutes=50)).isoformat(),
                    "location_index": 1,
                    "job_id": "j1",
                    "ref": "12",
                },
                {
                    "type": "end",
                    "arrival": (T0 + timedelta(minutes=70)).isoformat(),
                    "location_index": 0,
                },
            ],
        },
        {
            "crew_id": "c2",
            "steps": [
                {"type": "start", "arrival": T0.isoformat(), "location_index": 0},
                {"type": "end", "arrival": T0.isoformat(), "location_index": 0},
            ],
        },
    ],
    "unassigned": [],
}
LOCATIONS = [YARD, (42.35, -71.08), (42.349, -71.075)]


def test_plan_converter_orders_stops_and_follows_street_paths() -> None:
    calls = []

    def path_between(a: int, b: int) -> list[tuple[float, float]]:
        calls.append((a, b))
        mid = ((LOCATIONS[a][0] + LOCATIONS[b][0]) / 2, LOCATIONS[a][1])
        return [LOCATIONS[a], mid, LOCATIONS[b]]

    routes = route_drawings_from_plan(
        PlanDocument.from_dict(PLAN),
        locations=LOCATIONS,
        path_between=path_between,
        labels={"j1": "Street light outage, 1 Dartmouth St"},
        links=lambda c: (f"itinerary_{c}.html", None),
    )
    assert [r.crew_id for r in routes] == ["c1"]  # the empty crew is left out
    r = routes[0]
    assert [(s.number, s.job_id) for s in r.stops] == [(1, "j2"), (2, "j1")]
    assert r.stops[0].label == "work order 17"
    assert r.stops[1].label == "Street light outage, 1 Dartmouth St"
    assert r.stops[0].eta == T0 + timedelta(minutes=12)
    assert calls == [(0, 2), (2, 1), (1, 0)]
    assert len(r.polyline) == 7 and r.polyline[0] == YARD and r.polyline[-1] == YARD
    assert r.yard == YARD and r.itinerary_href == "itinerary_c1.html"


def test_plan_converter_rejects_unknown_location() -> None:
    with pytest.raises(InputError, match="location_index 2 is outside locations"):
        route_drawings_from_plan(PlanDocument.from_dict(PLAN), locations=LOCATIONS[:2])


def test_vroom_style_locations_are_lon_lat() -> None:
    plan = {
        "routes": [
            {
                "vehicle": 3,
                "steps": [
                    {"type": "start", "location": [-71.07, 42.34]},
                    {"type": "job", "location": [-71.08, 42.35], "job": 5},
                    {"type": "end", "location": [-71.07, 42.34]},
                ],
            }
        ]
    }
    (r,) = route_drawings_from_plan(PlanDocument.from_dict(plan), locations=[])
    assert r.crew_id == "3" and (r.stops[0].lat, r.stops[0].lon) == (42.35, -71.08)
    assert r.stops[0].job_id == "5"


def test_write_route_maps_writes_all_crews_and_one_per_crew(tmp_path) -> None:
    paths = write_route_maps(CREWS, tmp_path)
    assert [p.name for p in paths] == ["routes.html", "route_A.html", "route_B.html"]
    text = paths[1].read_text()
    assert "itinerary_A.html" in text and "route_A.gpx" in text


JS_ROUTES = """() => {
  let lines = 0, markers = 0;
  for (const k of Object.keys(window)) {
    let v; try { v = window[k]; } catch (e) { continue; }
    if (v instanceof L.Polyline && !(v instanceof L.Polygon)) lines += 1;
    if (v instanceof L.Marker) markers += 1;
  }
  return {lines: lines, markers: markers,
          paths: document.querySelectorAll('path.g311-route').length,
          stops: document.querySelectorAll('.g311-stop').length};
}"""


@pytest.mark.browser
def test_routes_maps_in_browser(site_dir: Path, open_map) -> None:
    paths = write_route_maps(
        CREWS, site_dir, boundary=REPO / "data/osm/boston_backbay_boundary.geojson"
    )
    n_stops = sum(len(c.stops) for c in CREWS)
    mp = open_map(paths[0])
    page = mp.page
    page.wait_for_selector(".g311-stop")
    got = page.evaluate(JS_ROUTES)
    assert got["lines"] == len(CREWS) and got["paths"] == len(CREWS)
    assert got["stops"] == n_stops and got["markers"] == n_stops + 1  # + the yard
    texts = page.locator(".g311-stop").all_inner_texts()
    assert sorted(texts) == sorted(str(s.number) for c in CREWS for s in c.stops)
    IMG.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMG / "routes.png"))
    page.locator(".g311-stop", has_text="3").first.click()
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for(state="visible", timeout=5000)
    assert "ETA" in popup.inner_text() and "stop 3" in popup.inner_text()
    mp.assert_clean()

    crew = open_map(paths[2])
    crew.page.wait_for_selector(".g311-stop")
    got = crew.page.evaluate(JS_ROUTES)
    assert got["lines"] == 1 and got["stops"] == len(CREWS[1].stops)
    link = crew.page.locator("a", has_text="printable itinerary")
    assert link.get_attribute("href") == "itinerary_B.html"
    crew.page.set_viewport_size({"width": 1024, "height": 768})  # a tablet
    crew.page.screenshot(path=str(IMG / "route_crew.png"))
    crew.assert_clean()


def test_plan_map_draws_the_crews_with_stops_or_an_empty_map() -> None:
    from geo311.plans.document import PlanDocument
    from maps.routes import plan_map

    doc = PlanDocument.from_dict({**PLAN, "plan_id": 4, "locations": [list(p) for p in LOCATIONS]})
    page = plan_map(PlanDocument.from_dict(doc)).get_root().render()
    assert "Plan 4" in page and "crew c1: 2 stops" in page and "crew c2" not in page
    empty = plan_map(
        PlanDocument.from_dict({"routes": [PLAN["routes"][1]], "locations": [list(YARD)]})
    )
    assert "crew c" not in empty.get_root().render()  # no route, no legend


def test_route_maps_show_distances_in_the_city_units(tmp_path) -> None:
    from dataclasses import replace

    from maps.routes import plan_map

    crew = replace(
        CREWS[0],
        distance_m=5150.0,
        stops=tuple(replace(s, distance_m=400.0 * s.number) for s in CREWS[0].stops),
    )
    # Boston's profile (the default city) is imperial: miles in the legend, feet and miles
    # in the stop popups (400 m = 1,312 ft, 0.2 mi at stop 1 is 800 m = 0.5 mi at stop 2).
    page = write_route_maps([crew], tmp_path / "us")[1].read_text()
    assert "3 stops, 3.2 mi" in page and "0.5 mi from the yard</td>" in page
    assert not re.search(r"\d k?m\b", page)
    metric = write_route_maps([crew], tmp_path / "eu", units="metric")[0].read_text()
    assert "crew A: 3 stops, 5.2 km" in metric and "800 m from the yard" in metric
    with pytest.raises(InputError, match="units 'furlongs'"):
        write_route_maps([crew], tmp_path / "x", units="furlongs")
    # A stored plan's route and step distances (metres) come through the converter.
    plan = {**PLAN, "plan_id": 5, "locations": [list(p) for p in LOCATIONS]}
    plan["routes"] = [dict(PLAN["routes"][0], distance_m=1609.344)]
    plan["routes"][0]["steps"] = [
        dict(s, distance_m=d)
        for s, d in zip(PLAN["routes"][0]["steps"], (0, 150, 150, 900, 1609.344), strict=True)
    ]
    drawn = plan_map(PlanDocument.from_dict(plan)).get_root().render()
    assert "crew c1: 2 stops, 1.0 mi" in drawn and "490 ft from the yard" in drawn
