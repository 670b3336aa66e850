"""The season replay: exact repair times on a hand-made season, clustering, determinism."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from geo311.city.profile import default_city
from geo311.errors import ConfigurationError, InputError
from maps.simulate_cli import parse_sweep
from maps.simulation_plot import plot_simulation
from routing.engine.crews import parse_crews
from routing.simulate.run import (
    GroupResult,
    ReplayScope,
    SimReport,
    SimulationParams,
    SimulationResult,
    Sweep,
    TravelMatrix,
    actual_outcomes,
    replay,
    run_simulation,
)

TZ = default_city().tz
BIG = 3000.0
# Sunday 2015-09-13, Monday 14, Tuesday 15
SUN, MON, TUE = date(2015, 9, 13), date(2015, 9, 14), date(2015, 9, 15)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)


def crew_config(capacity: float = 2, n: int = 1):
    crews = {
        f"sl{k}": {
            "skills": ["electrical"],
            "shift": ["07:00", "15:30"],
            "capacity": capacity,
            "start_yard": "yard",
            "end_yard": "yard",
        }
        for k in range(n)
    }
    return parse_crews(
        {
            "timezone": default_city().timezone,
            "yards": {"yard": {"lat": 42.34, "lon": -71.07, "open": "06:00", "close": "20:00"}},
            "crews": crews,
        }
    )


def hand_matrix() -> np.ndarray:
    # 0 yard, 1 A, 2 B, 3 C: one-way loops of 10 minutes, everything else 50 minutes
    d = np.full((4, 4), BIG)
    np.fill_diagonal(d, 0.0)
    for i, j in [(0, 1), (1, 2), (2, 0), (1, 3), (3, 0)]:
        d[i, j] = 600.0
    return d


P1 = (42.3500, -71.0800)
P1_NEAR = (42.35009, -71.0800)  # 10 m north of P1: inside the 15 m streetlight radius
P2 = (42.3550, -71.0800)
P3 = (42.3500, -71.0700)


def rep(rid, when, point, loc, due) -> SimReport:
    return SimReport(
        id=rid,
        service_code="streetlight_outage",
        requested=when,
        lat=point[0],
        lon=point[1],
        location_index=loc,
        sla_due=due,
        actual_closed=when + timedelta(days=2),
    )


def hand_season() -> list[SimReport]:
    overdue = at(SUN, 12)
    later = at(date(2015, 10, 30), 12)
    return [
        rep("A", at(SUN, 10), P1, 1, overdue),
        rep("B", at(SUN, 11), P2, 2, overdue),
        rep("C", at(SUN, 12), P3, 3, later),
        rep("A2", at(MON, 7, 30), P1_NEAR, 1, later),  # while A's work order is open
        rep("A3", at(MON, 9), P1, 1, later),  # after A was repaired at 07:50
    ]


def run_hand(**kw):
    return replay(
        hand_season(),
        travel=TravelMatrix(hand_matrix(), None, {"yard": 0}),
        crew_config=crew_config(),
        scope=ReplayScope("streetlights", SUN, TUE),
        params=SimulationParams(drain_days=0, **kw),
    )


def test_hand_season_repair_times_are_exact():
    run = run_hand()
    # Monday 07:00: A, B overdue, C later; capacity 2 -> A and B on the loop yard->A->B->yard,
    # 10 min drives and 40 min on site; C waits. A2 (07:30) joins A and is fixed with it.
    # Tuesday: A3 (new work order, A closed at 07:50) and C on the loop yard->A->C->yard.
    assert run.repaired_at == {
        "A": at(MON, 7, 50),
        "B": at(MON, 8, 40),
        "C": at(TUE, 8, 40),
        "A2": at(MON, 7, 50),
        "A3": at(TUE, 7, 50),
    }
    assert run.work_orders == 4
    assert [(d.day, d.open_work_orders, d.open_reports, d.served) for d in run.days] == [
        (MON, 3, 3, 2),
        (TUE, 2, 2, 2),
    ]
    # busy = 30 min driving + 80 min on site per day, of 8.5 h shifts
    assert run.utilisation == pytest.approx((2 * 6600.0) / (2 * 30600.0))
    days = sorted(run.simulated.days)
    expected = sorted(
        [
            (at(MON, 7, 50) - at(SUN, 10)) / timedelta(days=1),
            (at(MON, 8, 40) - at(SUN, 11)) / timedelta(days=1),
            (at(TUE, 8, 40) - at(SUN, 12)) / timedelta(days=1),
            (at(MON, 7, 50) - at(MON, 7, 30)) / timedelta(days=1),
            (at(TUE, 7, 50) - at(MON, 9)) / timedelta(days=1),
        ]
    )
    assert days == pytest.approx(expected, abs=1e-9)
    assert run.simulated.median_days == pytest.approx(expected[2])
    # A and B were due Sunday noon (missed), the others are due in October
    assert run.simulated.within_sla == pytest.approx(3 / 5)


def test_more_crews_repair_everything_on_monday():
    run = replay(
        hand_season(),
        travel=TravelMatrix(hand_matrix(), None, {"yard": 0}),
        crew_config=crew_config(),
        scope=ReplayScope("streetlights", SUN, TUE, crews=2),
        params=SimulationParams(drain_days=0),
    )
    assert run.crews == 2
    assert all(run.repaired_at[r].date() == MON for r in ("A", "B", "C", "A2"))
    assert run.repaired_at["A3"].date() == TUE


def test_unrepaired_reports_count_as_never():
    # capacity 1 and A's round trip cheapest (no tie: OR-Tools breaks exact objective ties
    # differently from one process to the next): Monday A, Tuesday B (overdue) before A3 and C
    cfg = crew_config(capacity=1)
    d = hand_matrix()
    d[1, 0] = 600.0
    run = replay(
        hand_season(),
        travel=TravelMatrix(d, None, {"yard": 0}),
        crew_config=cfg,
        scope=ReplayScope("streetlights", SUN, TUE),
        params=SimulationParams(drain_days=0),
    )
    never = sorted(r for r, when in run.repaired_at.items() if when is None)
    assert never == ["A3", "C"]
    assert run.repaired_at["A"] == at(MON, 7, 50)
    assert run.repaired_at["B"] == at(TUE, 7, 50) + timedelta(minutes=40)
    assert run.simulated.repaired == 3
    assert math.isinf(run.simulated.p90_days)
    assert run.to_dict()["simulated"]["p90_days"] is None


def synthetic_season(n: int = 40, seed: int = 3):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 3000, size=(n + 1, 2))  # metres; 0 is the yard
    d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)) / 8.0  # 8 m/s
    start = at(MON, 0)
    reports = []
    for k in range(n):
        when = start + timedelta(hours=float(rng.uniform(0, 24 * 5)))
        reports.append(
            rep(
                f"r{k}",
                when,
                (42.33 + pts[k + 1, 1] / 111_000, -71.09 + pts[k + 1, 0] / 82_000),
                k + 1,
                when + timedelta(days=2),
            )
        )
    return reports, d


def test_same_seed_same_result():
    reports, d = synthetic_season()
    kw = dict(
        travel=TravelMatrix(d, None, {"yard": 0}),
        crew_config=crew_config(capacity=4),
        scope=ReplayScope("streetlights", MON, MON + timedelta(days=6)),
        params=SimulationParams(seed=1),
    )
    a = replay(reports, **kw)
    b = replay(list(reversed(reports)), **kw)
    assert a.repaired_at == b.repaired_at
    assert a.to_dict()["backlog"] == b.to_dict()["backlog"]
    assert a.simulated.repaired > 0


def test_result_dict_table_and_plot(tmp_path):
    run = run_hand()
    season = hand_season()
    group = GroupResult(
        group="streetlights",
        actual=actual_outcomes(season),
        runs=(run,),
        target_median_days=7.0,
        smallest_crews=1,
        actual_backlog=((MON, 3), (TUE, 3)),
    )
    result = SimulationResult(start=SUN, end=TUE, groups={"streetlights": group})
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["groups"]["streetlights"]["actual"]["median_days"] == 2.0
    assert doc["groups"]["streetlights"]["runs"][0]["crews"] == 1
    assert "streetlights" in result.table()
    png = plot_simulation(result, tmp_path / "sim.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(InputError, match="crews"):
        group.run(3)


def test_bad_arguments_name_the_field():
    with pytest.raises(InputError, match="end"):
        replay(
            hand_season(),
            travel=TravelMatrix(hand_matrix(), None, {"yard": 0}),
            crew_config=crew_config(),
            scope=ReplayScope("streetlights", TUE, SUN),
        )
    with pytest.raises(ConfigurationError, match="asphalt"):
        replay(
            [],
            travel=TravelMatrix(hand_matrix(), None, {"yard": 0}),
            crew_config=crew_config(),
            scope=ReplayScope("potholes", SUN, TUE),
        )
    with pytest.raises(InputError, match="service"):
        run_simulation(start=SUN, end=TUE, sweep=Sweep(service="trees"))
    assert parse_sweep("1..6") == [1, 2, 3, 4, 5, 6]
    assert parse_sweep("1,2,4") == [1, 2, 4]
    with pytest.raises(InputError, match="--crews-sweep"):
        parse_sweep("six")


@pytest.mark.slow
def test_embedded_week_of_streetlights():
    result = run_simulation(
        start=date(2015, 10, 5),
        end=date(2015, 10, 9),
        sweep=Sweep(service="streetlights"),
        params=SimulationParams(drain_days=7),
    )
    gr = result.groups["streetlights"]
    run = gr.runs[0]
    assert run.crews == 2
    assert gr.actual.reports == run.simulated.reports > 0
    assert any("Pothole Repair (Internal)" in n for n in result.notes)
    assert 0 < run.utilisation < 1
