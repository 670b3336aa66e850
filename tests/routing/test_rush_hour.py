"""Rush hour: time-dependent leg times, the hour-banded matrix and the re-timed ETAs."""

from __future__ import annotations

import numpy as np
import pytest

from geo311.errors import RoutingError
from routing.engine.graph import load_speed_settings
from routing.engine.problem import Job, TimeWindow
from routing.engine.rush_hour import (
    banded_problem,
    leg_time_s,
    row_times_s,
    solve_rush_hour,
    timed_etas,
)
from routing.engine.solve import SolveParams, solve

from ._line_problems import H, crew, problem

FACTORS = load_speed_settings().congestion  # data/speeds.toml: 7h 1.40, 8h 1.55, 12h 1.25


def test_leg_inside_one_hour_takes_that_hours_factor() -> None:
    assert leg_time_s(1000.0, 7 * H, FACTORS, offset_s=0.0) == pytest.approx(1000 * FACTORS[7])
    assert leg_time_s(1000.0, 2 * H, FACTORS, offset_s=0.0) == pytest.approx(1000 * FACTORS[2])


def test_leg_across_an_hour_is_driven_in_both_bands() -> None:
    # leaves 07:50: 600 s of 07h cover 600 / 1.40 free-flow seconds, the rest at 08h's 1.55
    rest = 1000.0 - 600.0 / FACTORS[7]
    expect = 600.0 + rest * FACTORS[8]
    assert leg_time_s(1000.0, 7 * H + 3000, FACTORS, offset_s=0.0) == pytest.approx(expect)
    # the origin's clock time counts: 07:50 is 50 min after an origin at 07:00
    assert leg_time_s(1000.0, 3000.0, FACTORS, offset_s=7 * H) == pytest.approx(expect)


def test_leaving_later_never_arrives_earlier() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        free, t = float(rng.uniform(1, 5000)), float(rng.uniform(0, 20 * H))
        dt = float(rng.uniform(0, 900))
        arrive = t + leg_time_s(free, t, FACTORS, offset_s=0.0)
        later = t + dt + leg_time_s(free, t + dt, FACTORS, offset_s=0.0)
        assert later >= arrive - 1e-6


def _one_crew() -> object:
    # yard at 0, jobs 10 km and 20 km out (1000 s and 1000 s of free-flow driving); a first
    return problem(
        [crew("c1", {"asphalt"})],
        [
            Job("a", 1, 3600.0, "asphalt", (TimeWindow(7 * H, 7.5 * H),)),
            Job("b", 2, 600.0, "asphalt"),
        ],
        [0.0, 10_000.0, 20_000.0],
    )


def test_etas_of_a_free_flow_plan_move_by_the_hours_factors() -> None:
    p = _one_crew()
    plan = solve(p, SolveParams(time_limit_s=2, workers=1, solution_limit=20))
    etas = {e.job_id: e for e in timed_etas(p, plan, FACTORS)}
    # leaves 07:00: 1000 s free flow at 07h's factor; then an hour on site, leaves 08:23:20
    assert etas["a"].planned_s == pytest.approx(7 * H + 1000)
    assert etas["a"].shift_s == pytest.approx(1000 * (FACTORS[7] - 1))
    leave_a = 7 * H + 1000 * FACTORS[7] + 3600
    assert etas["b"].timed_s == pytest.approx(leave_a + 1000 * FACTORS[8])
    assert etas["b"].shift_s == pytest.approx(1000 * (FACTORS[7] - 1) + 1000 * (FACTORS[8] - 1))


def test_banded_matrix_times_each_row_at_its_departure_hour() -> None:
    p = _one_crew()
    b = banded_problem(p, {1: 12 * H}, FACTORS)
    assert b.durations_s[0, 1] == pytest.approx(1000 * FACTORS[7])  # the yard: shift start
    assert b.durations_s[1, 2] == pytest.approx(1000 * FACTORS[12])
    assert b.durations_s[2, 1] == pytest.approx(1000 * FACTORS[7])  # not given: shift start
    assert p.durations_s[0, 1] == pytest.approx(1000)  # the input is not changed


def test_solve_rush_hour_plans_on_the_hours_it_drives() -> None:
    p = _one_crew()
    plan = solve_rush_hour(p, time_limit_s=4, factors=FACTORS, workers=1, solution_limit=20)
    arrivals = {s.job_id: s.arrival_s for r in plan.routes for s in r.steps if s.type == "job"}
    assert arrivals["a"] == pytest.approx(7 * H + 1000 * FACTORS[7], abs=0.01)
    assert arrivals["b"] == pytest.approx(
        7 * H + 1000 * FACTORS[7] + 3600 + 1000 * FACTORS[8], abs=0.01
    )
    assert abs(plan.meta["rush_hour"]["max_eta_shift_s"]) < 0.01


@pytest.mark.parametrize("bad", [(1.0,) * 23, (1.0,) * 23 + (0.0,), (1.0,) * 23 + (float("nan"),)])
def test_bad_factors_are_refused(bad: tuple[float, ...]) -> None:
    with pytest.raises(RoutingError, match="congestion factors"):
        banded_problem(_one_crew(), {}, bad)


def test_row_times_equal_the_leg_by_leg_times() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        free = rng.uniform(0, 9000, size=50)
        t, offset = float(rng.uniform(0, 30 * H)), float(rng.uniform(0, 12 * H))
        rows = row_times_s(free, t, FACTORS, offset_s=offset)
        legs = [leg_time_s(x, t, FACTORS, offset_s=offset) for x in free]
        assert rows == pytest.approx(legs, abs=1e-6)
