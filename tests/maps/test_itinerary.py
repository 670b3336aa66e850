"""Rendering crew itineraries (HTML, text, GPX, files) of a real plan of the test data."""

from __future__ import annotations

import re

import gpxpy
import pytest

from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans.document import PlanDocument
from maps.itinerary import itinerary_gpx, itinerary_html, itinerary_text, write_itineraries
from routing.dispatch import DayOptions, default_graph, plan_day, save_day_plan
from routing.itinerary import crew_itineraries, format_distance

from ..routing._dispatch_data import AT, fill


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory, catalogue) -> dict:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('it') / 's.db'}")
    try:
        fill(store, catalogue)
        dp = plan_day(
            store,
            catalogue,
            at=AT,
            options=DayOptions(graph=default_graph(), time_limit_s=1, workers=1),
        )
        return save_day_plan(store, dp).to_dict()
    finally:
        store.close()


def test_html_contains_every_stop(doc: dict) -> None:
    for it in crew_itineraries(PlanDocument.from_dict(doc)):
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
    for it in crew_itineraries(PlanDocument.from_dict(doc)):
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
    paths = write_itineraries(PlanDocument.from_dict(doc), tmp_path / "it")
    crews = crew_itineraries(PlanDocument.from_dict(doc))
    assert len(paths) == 3 * len(crews)
    assert {p.suffix for p in paths} == {".html", ".gpx", ".txt"}


def test_format_distance_in_either_units() -> None:
    assert format_distance(80.0) == "80 m" and format_distance(1234.0) == "1.2 km"
    assert format_distance(76.2, units="imperial") == "250 ft"
    assert format_distance(150.0, units="imperial") == "490 ft"  # under 0.1 mi: feet
    assert format_distance(500.0, units="imperial") == "0.3 mi"
    assert format_distance(1609.344 * 1.24, units="imperial") == "1.2 mi"
    with pytest.raises(InputError, match="units 'yards'"):
        format_distance(1.0, units="yards")


def test_itineraries_show_distances_in_the_city_units(doc: dict) -> None:
    # The default city (Boston) is imperial; a metric city gets metres and kilometres.
    for it in crew_itineraries(PlanDocument.from_dict(doc)):
        assert it.units == "imperial"
        text, page = itinerary_text(it), itinerary_html(it)
        total = format_distance(it.distance_m, units="imperial")
        assert total.endswith((" mi", " ft")) and f"{total} driving" in text
        assert f"{total} driving" in page
        for leg in it.legs:
            assert f"({format_distance(leg.distance_m, units='imperial')}, " in text
        assert not re.search(r"\d k?m\b", text + page)
    for it in crew_itineraries(PlanDocument.from_dict(doc), units="metric"):
        assert it.units == "metric"
        total = format_distance(it.distance_m)
        assert total.endswith((" m", " km")) and f"{total} driving" in itinerary_text(it)
        assert not re.search(r"\d (mi|ft)\b", itinerary_text(it) + itinerary_html(it))


def test_text_and_html_share_one_header(doc: dict) -> None:
    import html

    for it in crew_itineraries(PlanDocument.from_dict(doc)):
        first, second = itinerary_text(it).splitlines()[:2]
        page = html.unescape(itinerary_html(it))
        crew, plan = first.split(" - ", 1)
        day, totals = second.split("; ", 1)
        assert f"{it.crew_label} ({it.crew_id})" == crew and plan.startswith(it.plan_date)
        assert f"{plan}. {day}. {totals}. Times are {it.timezone}." in page


def test_the_selected_city_units_are_the_default(
    doc: dict, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo311.city.profile import CITY_DIR_ENV
    from geo311.settings import REPO_DATA_DIR

    city = (REPO_DATA_DIR / "city.toml").read_text(encoding="utf-8")
    assert 'units = "imperial"' in city
    (tmp_path / "city.toml").write_text(city.replace('units = "imperial"', 'units = "metric"'))
    monkeypatch.setenv(CITY_DIR_ENV, str(tmp_path))
    its = crew_itineraries(PlanDocument.from_dict(doc))
    assert its and all(it.units == "metric" for it in its)
    assert f"{format_distance(its[0].distance_m)} driving" in itinerary_text(its[0])


def test_itineraries_in_spanish(doc: dict) -> None:
    from geo311.i18n import localizer

    es = localizer("es", city_locale="en_US", timezone="America/New_York", units="imperial")
    for it in crew_itineraries(PlanDocument.from_dict(doc)):
        text, page = itinerary_text(it, i18n=es), itinerary_html(it, i18n=es)
        assert f"Salida de {it.yard[0]} a las {it.hm(it.start)}" in text
        assert "orden de trabajo" in text and "Conducir hasta" in text
        assert page.startswith("<!doctype html>\n<html lang='es'>")
        assert "<th>Llegada</th><th>Dirección</th>" in page and "regreso a la base" in page
        for s in it.stops:
            assert f"<b>{s.work_order_id}</b>" in page  # still the work order, in bold
        gpx = gpxpy.parse(itinerary_gpx(it, i18n=es))
        assert gpx.routes[0].points[0].name == "Base"
        assert all("orden de trabajo" in (w.description or "") for w in gpx.waypoints)


def test_turn_by_turn_directions_are_said_in_the_readers_language(doc: dict) -> None:
    from geo311.i18n import localizer
    from maps.itinerary import instruction_text

    en = localizer("en", city_locale="en_US", timezone="America/New_York", units="imperial")
    es = localizer("es", city_locale="en_US", timezone="America/New_York", units="imperial")
    legs = [leg for it in crew_itineraries(PlanDocument.from_dict(doc)) for leg in it.legs]
    lines = [(t.instruction, leg.destination) for leg in legs for t in leg.instructions]
    kinds = {ins.kind for ins, _dest in lines}
    assert {"depart", "turn", "arrive"} <= kinds
    for ins, dest in lines:
        # In English the sentence is the router's own; in Spanish no English verb is left.
        assert instruction_text(ins, en, destination=dest) == ins.text
        said = instruction_text(ins, es, destination=dest)
        assert not re.match(r"(Head|Turn|Continue|Make|Arrive)\b", said), said
        assert (ins.street if ins.kind != "arrive" else dest) in said
    (depart, dest) = next((i, d) for i, d in lines if i.kind == "depart")
    assert instruction_text(depart, es, destination=dest).startswith("Diríjase al ")
    text = itinerary_text(crew_itineraries(PlanDocument.from_dict(doc))[0], i18n=es)
    assert "Diríjase al " in text and "Llegada a " in text
