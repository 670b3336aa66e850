from __future__ import annotations

import pytest

from geo311.db.store import Store
from geo311.errors import InputError, NotFoundError
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from routing.dispatch import DayOptions, default_graph, plan_day
from routing.itinerary import (
    Segment,
    crew_itineraries,
    crew_itinerary,
    directions,
    turn_modifier,
)

from ._dispatch_data import AT, fill


def seg(name: str, start: float, end: float | None = None, length: float = 100.0) -> Segment:
    return Segment(name, "residential", length, length / 10.0, start, start if end is None else end)


@pytest.mark.parametrize(
    ("b_in", "b_out", "expected"),
    [
        (0, 5, "straight"),
        (355, 10, "straight"),
        (0, 30, "slight right"),
        (0, 330, "slight left"),
        (0, 90, "right"),
        (90, 0, "left"),
        (0, 270, "left"),
        (270, 0, "right"),
        (0, 150, "sharp right"),
        (0, 210, "sharp left"),
        (0, 180, "uturn"),
        (45, 230, "uturn"),
    ],
)
def test_turn_modifier_from_bearings(b_in: float, b_out: float, expected: str) -> None:
    assert turn_modifier(b_in, b_out) == expected


def test_directions_merge_same_street_and_name_turns() -> None:
    path = [
        seg("Boylston Street", 90),  # east
        seg("Boylston Street", 92),  # same street: merged
        seg("Dartmouth Street", 180),  # south: right turn
        seg("Columbus Avenue", 90),  # east: left turn
        seg("Columbus Avenue", 270),  # back west on the same street: U-turn
        seg("Clarendon Street", 0, length=50),  # north: right turn
    ]
    out = directions(path, destination="stop 1")
    assert [i.kind for i in out] == ["depart", "turn", "turn", "turn", "turn", "arrive"]
    assert out[0].text == "Head east on Boylston Street"
    assert out[0].distance_m == pytest.approx(200.0)
    assert [i.modifier for i in out[1:5]] == ["right", "left", "uturn", "right"]
    assert out[1].text == "Turn right onto Dartmouth Street"
    assert out[3].text == "Make a U-turn on Columbus Avenue"
    assert out[-1].text == "Arrive at stop 1"
    assert out[-1].offset_s == pytest.approx(sum(s.travel_time_s for s in path))


def test_directions_for_an_empty_path_say_already_there() -> None:
    out = directions([], destination="stop 2")
    assert len(out) == 1 and out[0].kind == "arrive" and "same place" in out[0].text


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
        plan_id = plan_repo.save_plan(store, dp.to_dict(), plan_date=dp.plan_date)
        return plan_repo.get_plan(store, plan_id)
    finally:
        store.close()


def test_itinerary_stops_legs_and_etas(doc: dict) -> None:
    its = crew_itineraries(PlanDocument.from_dict(doc))
    assert its, "some crew has stops"
    for it in its:
        route = next(r for r in doc["routes"] if r["crew_id"] == it.crew_id)
        jobs = [s for s in route["steps"] if s["type"] == "job"]
        assert [s.job_id for s in it.stops] == [s["job_id"] for s in jobs]
        assert [s.number for s in it.stops] == list(range(1, len(jobs) + 1))
        assert len(it.legs) == len(it.stops) + 1
        for leg in it.legs:
            etas = [t.eta for t in leg.instructions]
            assert etas == sorted(etas)
            assert etas[0] >= leg.depart and etas[-1] == leg.arrive
        assert it.legs[-1].to_number is None  # back to the yard


def test_unknown_crew_names_the_crews(doc: dict) -> None:
    with pytest.raises(NotFoundError, match="crews:"):
        crew_itinerary(PlanDocument.from_dict(doc), "no-such-crew")


def test_yard_comes_from_depots_or_locations(doc: dict) -> None:
    it = crew_itineraries(PlanDocument.from_dict(doc))[0]
    route = next(r for r in doc["routes"] if r["crew_id"] == it.crew_id)
    start = route["steps"][0]["location_index"]
    lat, lon = doc["locations"][start]
    without_depots = {**doc, "depots": []}
    yard = crew_itinerary(PlanDocument.from_dict(without_depots), it.crew_id).yard
    assert (yard[1], yard[2]) == pytest.approx((lat, lon))
    with pytest.raises(InputError, match="no yard location"):
        crew_itinerary(PlanDocument.from_dict({**doc, "depots": [], "locations": []}), it.crew_id)


def _one_stop_day(*, with_stop: bool = True) -> dict[str, object]:
    """A crew's day as the solver writes it: a lunch break kept after its only stop."""
    steps: list[dict[str, object]] = [
        {"type": "start", "location_index": 0, "arrival": "2015-10-06T11:00:00+00:00",
         "departure": "2015-10-06T11:00:00+00:00"},
    ]  # fmt: skip
    legs: list[dict[str, object]] = []
    if with_stop:
        steps.append(
            {"type": "job", "job_id": "wo-1", "arrival": "2015-10-06T11:10:00+00:00",
             "departure": "2015-10-06T11:30:00+00:00", "lat": 42.35, "lon": -71.07}
        )  # fmt: skip
        legs = [{"from_step": 0, "to_step": 1}, {"from_step": 1, "to_step": 3}]
    steps += [
        {"type": "break", "break_id": "lunch", "arrival": "2015-10-06T16:00:00+00:00",
         "departure": "2015-10-06T16:30:00+00:00"},
        {"type": "end", "arrival": "2015-10-06T16:40:00+00:00"},
    ]  # fmt: skip
    return {
        "plan_date": "2015-10-06",
        "timezone": "America/New_York",
        "routes": [{"crew_id": "c1", "steps": steps, "legs": legs}],
        "crews": [{"id": "c1", "label": "Crew 1", "depot": "yard"}],
        "depots": [
            {"id": "yard", "label": "Yard", "lat": 42.34, "lon": -71.06, "location_index": 0}
        ],
    }


def test_a_one_stop_crew_takes_no_break_after_its_stop() -> None:
    it = crew_itinerary(PlanDocument.from_dict(_one_stop_day()), "c1")
    assert [s.job_id for s in it.stops] == ["wo-1"]
    assert it.breaks == []
    assert [kind for kind, _ in it.timeline] == ["leg", "stop", "leg"]
    assert it.end.isoformat() == "2015-10-06T16:10:00+00:00"  # 30 min of lunch dropped
    assert it.legs[-1].arrive == it.end


def test_an_empty_day_has_no_break() -> None:
    it = crew_itinerary(PlanDocument.from_dict(_one_stop_day(with_stop=False)), "c1")
    assert it.stops == [] and it.breaks == []
    assert it.end.isoformat() == "2015-10-06T16:10:00+00:00"
