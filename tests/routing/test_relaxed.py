"""A large day's first plan from PyVRP on its break-free relaxation (routing.engine.relaxed).

Every test solves for real (PyVRP and OR-Tools) on the small city day of test_decompose.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from routing.engine import decompose, relaxed
from routing.engine import or_model as _ortools
from routing.engine.checks import check_routes
from routing.engine.problem import (
    PRIORITY_LATER,
    PRIORITY_OVERDUE,
    Break,
    Crew,
    Depot,
    Job,
    Problem,
    TimeWindow,
)
from routing.engine.search import SearchSettings, WorkerSettings, default_settings
from routing.engine.solve import SolveParams, build_plan, solve

from ._line_problems import ORIGIN
from .test_decompose import H, _day, _served

pytest.importorskip("pyvrp")

RELAXED = WorkerSettings(decompose_jobs=40, decompose_fraction=0.5, relaxed_fraction=0.5)


def test_groups_split_the_day_by_the_crews_skills() -> None:
    p = _day()
    parts = relaxed.groups(p, list(range(len(p.jobs))))
    assert parts is not None and len(parts) == 2
    for g in parts:
        skills = {p.crews[v].skills for v in g.crews}
        assert len(skills) == 1
        (held,) = skills
        assert all(p.jobs[j].skill in held for j in g.jobs)
    assert sorted(j for g in parts for j in g.jobs) == list(range(len(p.jobs)))


def test_no_groups_when_a_skill_is_shared_or_a_job_has_two_windows() -> None:
    p = _day()
    both = replace(p.crews[0], skills=frozenset({"asphalt", "sidewalk"}))
    shared = replace(p, crews=(both, *p.crews[1:]))
    assert relaxed.groups(shared, list(range(len(p.jobs)))) is None
    two = replace(p.jobs[1], windows=(TimeWindow(7 * H, 8 * H), TimeWindow(9 * H, 10 * H)))
    windows = replace(p, jobs=(p.jobs[0], two, *p.jobs[2:]))
    assert relaxed.groups(windows, list(range(len(p.jobs)))) is None


def test_relaxed_crew_has_no_break_and_ends_earlier_by_its_length() -> None:
    crew = _day().crews[0]
    out = relaxed.relaxed_crew(crew)
    assert out.breaks == () and out.shift.start_s == crew.shift.start_s
    assert out.shift.end_s == crew.shift.end_s - 1800.0


def _street(services: list[float], windows: list[tuple[float, float] | None]) -> Problem:
    """One crew on a street (jobs 1 km apart, 2 min each way), lunch 30 min from 11 to 12."""
    n = len(services)
    xs = [0.0, *(1000.0 * (k + 1) for k in range(n))]
    dist = [[abs(a - b) for b in xs] for a in xs]
    jobs = tuple(
        Job(
            f"j{k}",
            k + 1,
            services[k],
            "asphalt",
            windows=() if windows[k] is None else (TimeWindow(*windows[k]),),
            priority=PRIORITY_OVERDUE if k == 0 else PRIORITY_LATER,
        )
        for k in range(n)
    )
    lunch = (Break(1800.0, (TimeWindow(11 * H, 12 * H),), "lunch"),)
    crew = Crew("c", frozenset({"asphalt"}), TimeWindow(8 * H, 16 * H), 10.0, "y", "y", lunch)
    d = np.array(dist)
    return Problem((Depot("y", 0),), (crew,), jobs, d / 8.33, d, ORIGIN).validate()


def test_break_fits_between_jobs_or_drops_the_least_urgent_job() -> None:
    # two 3-h jobs from 8:00: the break fits after the first (11:02 is in its window)
    p = _street([3 * H, 3 * H], [None, None])
    assert relaxed.fits(p, 0, [0, 1])
    # a 3.5-h job (8:02-11:32) then a 30-min job that must start by 11:45: lunch (start
    # 11:00-12:00) cannot go before the second job (11:32 + 30 min > 11:45) nor after it
    # (it ends 12:04)
    p = _street([3.5 * H, 0.5 * H, 1.0 * H], [None, (11 * H, 11.75 * H), None])
    assert relaxed.fits(p, 0, [0, 2])
    assert not relaxed.fits(p, 0, [0, 1, 2])
    kept = relaxed.place_breaks(p, 0, [0, 1, 2])
    assert 0 in kept and relaxed.fits(p, 0, kept)  # the overdue job stays
    assert len(kept) == 2


def test_day_built_from_the_relaxation_is_feasible_with_every_break() -> None:
    p = _day()
    spec = _ortools.Spec(list(range(len(p.jobs))), 4.0, worker=RELAXED)
    model = _ortools.Model(p, spec)
    raw = model.solve()
    assert raw["found"] and raw["strategy"] == "pyvrp-relaxed"
    assert "neighbourhoods_improved" in raw
    assert raw["objective"] == decompose.day_objective(model, decompose.DaySolution(raw))
    assert raw["objective"] <= raw["phase_objectives"][0]
    plan = build_plan(p, raw, {}, list(range(len(p.jobs))), solve_time_s=1.0, meta={})
    assert check_routes(p, plan.routes) == []
    assert len(_served(raw)) == plan.summary.jobs_served
    assert all(
        sum(s.type == "break" for s in r.steps) == 1
        for r in plan.routes
        if any(s.type == "job" for s in r.steps)
    )


def test_day_that_does_not_split_runs_the_ortools_search() -> None:
    p = _day()
    both = replace(p.crews[0], skills=frozenset({"asphalt", "sidewalk"}))
    shared = replace(p, crews=(both, *p.crews[1:]))
    spec = _ortools.Spec(list(range(len(p.jobs))), 3.0, worker=RELAXED)
    raw = _ortools.Model(shared, spec).solve()
    assert raw["found"] and raw["strategy"] != "pyvrp-relaxed"


def test_solve_through_the_portfolio_gives_a_checked_plan() -> None:
    p = _day()
    plan = solve(
        p, SolveParams(time_limit_s=4.0, workers=1, settings=SearchSettings("t", (RELAXED,)))
    )
    assert plan.summary.is_feasible and plan.meta["winner"] == "pyvrp-relaxed"
    assert plan.summary.jobs_served + plan.summary.jobs_unassigned == len(p.jobs)
    assert all(u.reason for u in plan.unassigned)


def test_default_settings_use_the_relaxation_on_large_days_only() -> None:
    for w in default_settings().portfolio:
        assert w.relaxed_fraction > 0 and w.decompose_jobs > 0
    seeds = {w.relaxed_seed for w in default_settings().portfolio}
    assert len(seeds) == len(default_settings().portfolio)
    with pytest.raises(Exception, match="relaxed_fraction"):
        replace(WorkerSettings(), relaxed_fraction=1.0).check()


def test_relaxed_windows_keep_every_route_feasible_with_its_break() -> None:
    p = _day()
    parts = relaxed.groups(p, list(range(len(p.jobs))))
    assert parts is not None
    sub = relaxed.relaxed_problem(p, parts[0])
    assert all(not c.breaks for c in sub.crews)
    for j in parts[0].jobs:
        (w,) = p.jobs[j].windows or (None,)
        if w is None:
            continue
        (r,) = sub.jobs[j].windows
        if w.start_s <= 11 * H:  # before the break's earliest start: unchanged
            assert r.start_s == w.start_s
        else:
            assert r.start_s == max(11 * H, w.start_s - 1800.0)
        assert r.end_s == (w.end_s if w.end_s <= 11 * H else max(w.end_s - 1800.0, 11 * H))
    routes = relaxed.solve_groups(p, parts, time_limit_s=2.0)
    assert routes is not None
    # PyVRP's routes of the relaxation need no job dropped to fit their lunch
    assert all(relaxed.fits(p, v, r) for v, r in enumerate(routes))
