"""Neighbourhood re-solves of a large day (routing.engine.decompose) and the polish that uses them."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from geo311.errors import RoutingError
from routing.engine import decompose
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
from routing.engine.search import SearchSettings, WorkerSettings
from routing.engine.solve import SolveParams, build_plan, solve

from ._line_problems import ORIGIN

H = 3600.0
SKILLS = ("asphalt", "sidewalk")


def _day(n_jobs: int = 90, n_crews: int = 6, seed: int = 3) -> Problem:
    """A small city day on a plane: lunch breaks, windows on one job in five, two skills."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 8000, size=(n_jobs + 1, 2))
    xy[0] = 4000
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    jobs = []
    for k in range(n_jobs):
        windows: tuple[TimeWindow, ...] = ()
        if k % 5 == 0:
            start = float(rng.uniform(7 * H, 12 * H))
            windows = (TimeWindow(start, start + 2 * H),)
        prio = PRIORITY_OVERDUE if k % 10 == 3 else PRIORITY_LATER
        jobs.append(
            Job(f"wo{k}", k + 1, float(rng.uniform(1200, 2400)), SKILLS[k % 2], windows, prio)
        )
    lunch = (Break(1800.0, (TimeWindow(11 * H, 13 * H),), "lunch"),)
    crews = tuple(
        Crew(
            f"c{c}",
            frozenset({SKILLS[c % 2]}),
            TimeWindow(7 * H, 15.5 * H),
            1000.0,
            "yard",
            "yard",
            breaks=lunch,
        )
        for c in range(n_crews)
    )
    return Problem((Depot("yard", 0),), crews, tuple(jobs), dist / 8, dist, ORIGIN).validate()


def _served(raw: dict) -> set[int]:
    return {j for steps in raw["routes"] for j, _, _ in steps if j >= 0}


def test_objective_of_matches_the_solver_objective() -> None:
    p = _day()
    spec = _ortools.Spec(list(range(len(p.jobs))), 5.0, worker=WorkerSettings(), solution_limit=50)
    model = _ortools.Model(p, spec)
    raw = model.solve()
    assert raw["found"]
    assert len(_served(raw)) < len(p.jobs)  # some dropped: penalties are part of the sum
    day = decompose.DaySolution(raw)
    assert decompose.day_objective(model, day) == raw["objective"]
    assert model.objective_of([[len(p.jobs) + 5]]) is None


def test_neighbourhood_takes_the_seed_and_crews_of_its_skill_first() -> None:
    p = _day()
    spec = _ortools.Spec(list(range(len(p.jobs))), 5.0, worker=WorkerSettings(), solution_limit=50)
    model = _ortools.Model(p, spec)
    day = decompose.DaySolution(model.solve())
    crews, dropped = decompose.neighbourhood(model, day, 2)
    assert crews[0] == 2
    assert len(crews) == decompose.GROUP_ROUTES
    same = [v for v in range(len(p.crews)) if p.crews[v].skills == p.crews[2].skills]
    assert crews[: len(same)] == sorted(crews[: len(same)], key=lambda v: v not in same)
    assert set(crews[: len(same)]) == set(same)
    served = _served(day.raw)
    assert dropped and not set(dropped) & served
    can = {s for v in crews for s in p.crews[v].skills}
    assert all(p.jobs[j].skill in can for j in dropped)


def test_improve_a_first_solution_keeps_breaks_and_windows() -> None:
    p = _day()
    first = WorkerSettings(metaheuristic="NONE")
    spec = _ortools.Spec(list(range(len(p.jobs))), 30.0, worker=first, solution_limit=1)
    model = _ortools.Model(p, spec)
    raw = model.solve()
    before = raw["objective"]
    out, improved = decompose.improve(model, raw, deadline=time.perf_counter() + 6.0)
    assert improved >= 1
    assert out["objective"] < before
    assert out["objective"] == decompose.day_objective(model, decompose.DaySolution(out))
    assert len(_served(out)) >= len(_served(raw))
    plan = build_plan(p, out, [], list(range(len(p.jobs))), solve_time_s=1.0, meta={})
    assert check_routes(p, plan.routes) == []
    assert all(
        sum(s.type == "break" for s in r.steps) == 1
        for r in plan.routes
        if any(s.type == "job" for s in r.steps)
    )


def test_large_day_ends_in_neighbourhoods() -> None:
    p = _day()
    worker = WorkerSettings(
        temperatures=(0.5, 0.005), decompose_jobs=40, decompose_fraction=0.5, polish_fraction=0.1
    )
    assert worker.decomposes(len(p.jobs)) and not replace(worker, decompose_jobs=0).decomposes(90)
    spec = _ortools.Spec(list(range(len(p.jobs))), 4.0, worker=worker)
    model = _ortools.Model(p, spec)
    started = time.perf_counter()
    raw = model.solve()
    wall = time.perf_counter() - started
    assert raw["found"] and "neighbourhoods_improved" in raw
    assert 3.5 < wall < 6.0  # the neighbourhoods use the time the ILS left
    assert raw["objective"] <= raw["phase_objectives"][0]
    assert raw["objective"] == decompose.day_objective(model, decompose.DaySolution(raw))
    settings = SearchSettings("t", (worker,))
    plan = solve(p, SolveParams(time_limit_s=4.0, workers=1, settings=settings))
    assert check_routes(p, plan.routes) == []


@pytest.mark.parametrize(
    "field, value",
    [("decompose_fraction", 1.0), ("decompose_fraction", -0.1), ("decompose_jobs", -1)],
)
def test_decompose_settings_are_checked(field: str, value: float) -> None:
    with pytest.raises(RoutingError, match=field):
        replace(WorkerSettings(), **{field: value}).check()


def test_solution_limit_bounds_the_neighbourhoods_and_repeats() -> None:
    p = _day()
    worker = WorkerSettings(decompose_jobs=40, decompose_fraction=0.5)
    runs = []
    for _ in range(2):
        spec = _ortools.Spec(list(range(len(p.jobs))), 600.0, worker=worker, solution_limit=10)
        started = time.perf_counter()
        raw = _ortools.Model(p, spec).solve()
        assert time.perf_counter() - started < 300  # one round, not the 600-s limit
        runs.append((raw["objective"], raw["routes"]))
    assert runs[0] == runs[1]
