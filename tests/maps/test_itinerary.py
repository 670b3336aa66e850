"""Rendering crew itineraries (HTML, text, GPX, files) of a real plan of the test data."""

from __future__ import annotations

import gpxpy
import pytest

from geo311.store import Store
from maps.itinerary import itinerary_gpx, itinerary_html, itinerary_text, write_itineraries
from routing.dispatch import default_graph, plan_day, save_day_plan
from routing.itinerary import crew_itineraries

from ..routing._dispatch_data import AT, fill


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory, catalogue) -> dict:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('it') / 's.db'}")
    try:
        fill(store, catalogue)
        dp = plan_day(store, catalogue, at=AT, graph=default_graph(), time_limit_s=1, workers=1)
        return save_day_plan(store, dp).to_dict()
    finally:
        store.close()


def test_html_contains_every_stop(doc: dict) -> None:
    for it in crew_itineraries(doc):
        page = itinerary_html(it)
        assert page.startswith("<!doctype html>") and "@media print" in page
        assert "<script" not in page and "http" not in page.split("</style>")[0]
        for s in it.stops:
            assert f"id='stop-{s.number}'" in page
            assert s.address in page
            assert f"<b>{s.work_order_id}</b>" in page
            assert it.hm(s.arrival) in page
        text = itinerary_text(it)
        for s in it.stops:
            assert f"{s.number}. {it.hm(s.arrival)}  {s.address}" in text


def test_gpx_parses_back_with_waypoints_in_order(doc: dict) -> None:
    for it in crew_itineraries(doc):
        gpx = gpxpy.parse(itinerary_gpx(it))
        names = [w.name for w in gpx.waypoints]
        assert names == [f"{s.number}. {s.address}" for s in it.stops]
        for w, s in zip(gpx.waypoints, it.stops, strict=True):
            assert (w.latitude, w.longitude) == pytest.approx((s.lat, s.lon), abs=1e-6)
        track = gpx.tracks[0].segments[0].points
        assert len(track) >= len(it.stops) + 1
        route = gpx.routes[0].points
        assert route[0].name == "Yard" and route[-1].name == "Yard"
        assert [p.name for p in route[1:-1]] == names


def test_write_itineraries(doc: dict, tmp_path) -> None:
    paths = write_itineraries(doc, tmp_path / "it")
    crews = crew_itineraries(doc)
    assert len(paths) == 3 * len(crews)
    assert {p.suffix for p in paths} == {".html", ".gpx", ".txt"}
