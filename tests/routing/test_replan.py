from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

from geo311.city.profile import default_city
from geo311.errors import RoutingError
from routing.engine.problem import (
    PRIORITY_LATER,
    PRIORITY_OVERDUE,
    Crew,
    Depot,
    Job,
    Problem,
    TimeWindow,
)
from routing.engine.replan import locked_from_time, replan
from routing.engine.solve import SolveParams, solve

H = 3600.0
ORIGIN = datetime(2015, 10, 6, tzinfo=default_city().tz)


def make_problem(jobs):
    # yard at 0, jobs along a street every 1 km, urgent job at location 6
    xs = np.array([0, 1000, 2000, 3000, 4000, 5000, 2500], dtype=float)
    dist = np.abs(xs[:, None] - xs[None, :])
    crews = tuple(
        Crew(c, frozenset({"asphalt"}), TimeWindow(7 * H, 15.5 * H), 10.0, "yard", "yard")
        for c in ("a", "b")
    )
    return Problem((Depot("yard", 0),), crews, tuple(jobs), dist / 10, dist, ORIGIN)


BASE = [Job(f"j{k}", k, 1800, "asphalt", demand=1.0, priority=PRIORITY_LATER) for k in range(1, 6)]


def test_replan_keeps_locked_stops_and_inserts_urgent_job() -> None:
    first = solve(make_problem(BASE), SolveParams(time_limit_s=1, workers=1))
    assert first.is_feasible() and not first.unassigned
    now = 8.2 * H
    locked = locked_from_time(first, now)
    assert sum(len(v) for v in locked.values()) >= 1
    urgent = Job("urgent", 6, 900, "asphalt", demand=1.0, priority=PRIORITY_OVERDUE)
    new = replan(
        make_problem([*BASE, urgent]), first, now_s=now, params=SolveParams(time_limit_s=1)
    )
    assert new.is_feasible(), new.violations
    assert not new.unassigned
    for crew_id, ids in locked.items():
        old_steps = [s for s in first.route(crew_id).steps if s.job_id in ids]
        new_steps = [s for s in new.route(crew_id).steps if s.job_id in ids]
        assert new_steps == old_steps  # same times, same order
        assert new.route(crew_id).job_ids[: len(ids)] == ids
    served = {j for r in new.routes for j in r.job_ids}
    assert served == {j.id for j in BASE} | {"urgent"}
    urgent_step = next(s for r in new.routes for s in r.steps if s.job_id == "urgent")
    assert urgent_step.arrival_s >= now
    # nothing else moved to another crew
    for r in first.routes:
        moved = [j for j in r.job_ids if j not in new.route(r.crew_id).job_ids]
        assert moved == []


def test_replan_rejects_non_prefix_lock() -> None:
    first = solve(make_problem(BASE), SolveParams(time_limit_s=1, workers=1))
    route = next(r for r in first.routes if len(r.job_ids) >= 2)
    with pytest.raises(RoutingError, match="not the start of its previous route"):
        replan(
            make_problem(BASE),
            first,
            now_s=9 * H,
            locked={route.crew_id: [route.job_ids[1]]},
            params=SolveParams(time_limit_s=1),
        )


def test_replan_without_changes_keeps_routes() -> None:
    first = solve(make_problem(BASE), SolveParams(time_limit_s=1, workers=1))
    again = replan(
        make_problem(BASE), first, now_s=7 * H, locked={}, params=SolveParams(time_limit_s=1)
    )
    assert [r.job_ids for r in again.routes] == [r.job_ids for r in first.routes]
    assert replace(again.summary, solve_time_s=0, objective=0).distance_m == pytest.approx(
        first.summary.distance_m
    )
