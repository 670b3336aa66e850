"""The PyVRP backend of the solver portfolio: which problems it gets, and the same plan shape.

Every test solves for real (PyVRP and OR-Tools), on small problems on one straight street.
"""

from __future__ import annotations

import numpy as np
import pytest

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
from routing.engine.solve import (
    CAPACITY_FULL,
    NO_SKILL,
    NO_TIME,
    NOT_FITTED,
    SolveParams,
    choose_backend,
    solve,
)

from ._line_problems import ORIGIN, H, crew, problem

pytest.importorskip("pyvrp")


def _both(p: Problem, **kw):
    """The plan of each backend (one worker, a short limit)."""
    kw.setdefault("time_limit_s", 1.0)
    return {b: solve(p, SolveParams(workers=1, backend=b, **kw)) for b in ("pyvrp", "ortools")}


def _city(seed: int, n: int = 12, capacity: float = 5) -> Problem:
    rng = np.random.default_rng(seed)
    xs = [0.0, *rng.uniform(-8000, 8000, n)]
    jobs = [Job(f"j{k}", k, 600, "asphalt", demand=1.0) for k in range(1, n + 1)]
    crews = [crew(c, {"asphalt"}, capacity=capacity) for c in ("a", "b", "c")]
    return problem(crews, jobs, xs)


def test_auto_gives_pyvrp_what_it_can_express_and_ortools_the_rest() -> None:
    plain = _city(1, n=6)
    plan = solve(plain, SolveParams(time_limit_s=1, workers=1))
    assert plan.meta["backend"] == "pyvrp" and plan.is_feasible() and not plan.unassigned
    jobs = [Job("j1", 1, 600, "asphalt")]
    lunch = problem([crew("a", {"asphalt"}, lunch=True)], jobs, [0, 1000])
    assert choose_backend(lunch, [0]) == ("ortools", "crews ['a'] have breaks")
    skills = problem([crew("a", {"asphalt"}), crew("b", {"electrical"})], jobs, [0, 1000])
    use, why = choose_backend(skills, [0])
    assert use == "ortools" and "'asphalt', which not every crew has" in why
    two = Job(
        "j1", 1, 60, "asphalt", windows=(TimeWindow(8 * H, 9 * H), TimeWindow(10 * H, 11 * H))
    )
    windows = problem([crew("a", {"asphalt"})], [two], [0, 1000])
    assert choose_backend(windows, [0]) == ("ortools", "job 'j1' has 2 time windows")
    # OR-Tools options and solution limits keep OR-Tools; a re-plan too
    assert choose_backend(plain, [0], ortools_options=True)[0] == "ortools"
    assert choose_backend(plain, [0], solution_limit=10)[0] == "ortools"
    assert choose_backend(plain, [0], replan=True)[0] == "ortools"
    assert choose_backend(plain, [0], backend="ortools") == ("ortools", "asked for")
    with_lunch = solve(lunch, SolveParams(time_limit_s=1, workers=1))
    assert with_lunch.meta["backend"] == "ortools"
    assert [s.type for s in with_lunch.route("a").steps].count("break") == 1


def test_pyvrp_refuses_what_it_cannot_express() -> None:
    jobs = [Job("j1", 1, 600, "asphalt")]
    lunch = problem([crew("a", {"asphalt"}, lunch=True)], jobs, [0, 1000])
    with pytest.raises(RoutingError, match="backend 'pyvrp' cannot solve this problem: crews"):
        solve(lunch, SolveParams(time_limit_s=1, workers=1, backend="pyvrp"))
    with pytest.raises(RoutingError, match="backend 'gurobi' is unknown"):
        solve(lunch, SolveParams(time_limit_s=1, workers=1, backend="gurobi"))


def test_same_plan_shape_and_times_from_either_backend() -> None:
    # one crew: the far job opens at 9:00, the near one at 10:00, so far goes first; the crew
    # leaves at 7:00 and waits at both, and both backends report the same float times
    jobs = [
        Job("near", 1, 600, "asphalt", windows=(TimeWindow(10 * H, 11 * H),)),
        Job("far", 2, 900, "asphalt", windows=(TimeWindow(9 * H, 10 * H),)),
    ]
    p = problem([crew("c", {"asphalt"})], jobs, [0, 1000, 3000])
    plans = _both(p)
    for plan in plans.values():
        assert plan.is_feasible() and not plan.unassigned
        steps = plan.route("c").steps
        assert [s.type for s in steps] == ["start", "job", "job", "end"]
        assert plan.route("c").job_ids == ["far", "near"]
        assert steps[0].departure_s == 7 * H
        assert steps[1].arrival_s == pytest.approx(7 * H + 300)
        assert steps[1].waiting_s == pytest.approx(2 * H - 300)
        assert steps[1].departure_s == pytest.approx(9 * H + 900)
        assert steps[2].arrival_s == pytest.approx(9 * H + 900 + 200)
        assert steps[2].departure_s == pytest.approx(10 * H + 600)
        assert steps[3].arrival_s == pytest.approx(10 * H + 600 + 100)
    a, b = plans["pyvrp"].to_dict(), plans["ortools"].to_dict()
    for d in (a, b):
        d.pop("meta")
        d["summary"].pop("solve_time_s")
        d["summary"].pop("objective")
    assert a == b


def test_drops_follow_priority_with_the_same_reasons() -> None:
    # capacity 2 for three jobs: the overdue far job stays, a near "later" job is dropped as
    # capacity_full; a job no crew has the skill for is left out before either search
    jobs = [
        Job("near1", 1, 60, "asphalt", demand=1.0, priority=PRIORITY_LATER),
        Job("near2", 2, 60, "asphalt", demand=1.0, priority=PRIORITY_LATER),
        Job("far", 3, 60, "asphalt", demand=1.0, priority=PRIORITY_OVERDUE),
    ]
    p = problem([crew("c", {"asphalt"}, capacity=2)], jobs, [0, 100, 200, 9000])
    plans = _both(p)
    # not every job fits: PyVRP's all-jobs search finds nothing, its prize-collecting one does
    assert plans["pyvrp"].meta["modes"] == ["prize-collecting"]
    for backend, plan in plans.items():
        assert plan.meta["backend"] == backend
        assert "far" in plan.route("c").job_ids
        assert [u.code for u in plan.unassigned] == [CAPACITY_FULL]
        assert plan.unassigned[0].job_id in {"near1", "near2"}
        assert plan.is_feasible()
    crews = [crew("c", {"asphalt"})]
    p2 = problem(crews, [*jobs, Job("lamp", 4, 60, "electrical")], [0, 100, 200, 9000, 50])
    # 'electrical' no crew has: precheck drops it, the rest still goes to PyVRP
    plan = solve(p2, SolveParams(time_limit_s=1, workers=1))
    assert plan.meta["backend"] == "pyvrp"
    assert [(u.job_id, u.code) for u in plan.unassigned] == [("lamp", NO_SKILL)]


def test_time_limited_drop_has_the_same_reason() -> None:
    # one crew, two jobs at opposite ends in the same 10-minute window: one is dropped
    w = (TimeWindow(8 * H, 8 * H + 600),)
    jobs = [
        Job("west", 1, 300, "asphalt", windows=w, priority=PRIORITY_OVERDUE),
        Job("east", 2, 300, "asphalt", windows=w),
    ]
    p = problem([crew("c", {"asphalt"})], jobs, [0, -3000, 3000])
    plans = _both(p)
    for plan in plans.values():
        assert plan.route("c").job_ids == ["west"]
        assert [u.job_id for u in plan.unassigned] == ["east"]
        assert plan.unassigned[0].code in {NO_TIME, NOT_FITTED}
        assert plan.is_feasible()
    assert plans["pyvrp"].unassigned == plans["ortools"].unassigned


def test_several_depots_and_crew_hours() -> None:
    # crew n starts and ends at the north yard, s at the south yard, s only from 9:00;
    # each yard's jobs go to its own crew
    xs = np.array([0.0, 10000.0, 100.0, 200.0, 9900.0, 9800.0])
    dist = np.abs(xs[:, None] - xs[None, :])
    depots = (Depot("north", 0), Depot("south", 1, open_s=9 * H))
    crews = (
        Crew("n", frozenset({"asphalt"}), TimeWindow(7 * H, 15 * H), 10.0, "north", "north"),
        Crew("s", frozenset({"asphalt"}), TimeWindow(7 * H, 15 * H), 10.0, "south", "south"),
    )
    jobs = tuple(Job(f"j{k}", k, 600, "asphalt", demand=1.0) for k in range(2, 6))
    p = Problem(depots, crews, jobs, dist / 10, dist, ORIGIN)
    plans = _both(p)
    for plan in plans.values():
        assert sorted(plan.route("n").job_ids) == ["j2", "j3"]
        assert sorted(plan.route("s").job_ids) == ["j4", "j5"]
        south = plan.route("s").steps
        assert south[0].departure_s == 9 * H
        assert south[0].location_index == south[-1].location_index == 1
        assert plan.is_feasible()
    assert plans["pyvrp"].summary.distance_m == pytest.approx(plans["ortools"].summary.distance_m)


def test_crew_fixed_cost_sends_fewer_crews_with_pyvrp() -> None:
    t0 = 7 * H
    jobs = [
        Job("L1", 1, 60, "asphalt", windows=(TimeWindow(t0, t0 + 200),)),
        Job("R1", 2, 60, "asphalt", windows=(TimeWindow(t0 + 300, t0 + 450),)),
        Job("L2", 3, 60, "asphalt", windows=(TimeWindow(t0 + 600, t0 + 800),)),
    ]
    p = problem([crew("a", {"asphalt"}), crew("b", {"asphalt"})], jobs, [0, -1000, 1000, -1000])
    free = solve(p, SolveParams(time_limit_s=1, workers=1, backend="pyvrp"))
    fixed = solve(p, SolveParams(time_limit_s=1, workers=1, backend="pyvrp", crew_fixed_cost=500))
    assert free.summary.routes == 2 and free.summary.distance_m == pytest.approx(4000)
    assert fixed.summary.routes == 1 and fixed.summary.distance_m == pytest.approx(6000)
    assert not fixed.unassigned and fixed.is_feasible()


def test_iteration_limit_is_reproducible_and_workers_keep_the_best() -> None:
    p = _city(7, n=20, capacity=8)
    runs = [
        solve(p, SolveParams(time_limit_s=60, workers=1, backend="pyvrp", solution_limit=300))
        for _ in range(2)
    ]
    assert [r.job_ids for r in runs[0].routes] == [r.job_ids for r in runs[1].routes]
    assert runs[0].meta["iterations"] == [300] and runs[0].meta["modes"] == ["all jobs"]
    pair = solve(p, SolveParams(time_limit_s=2, workers=2))
    assert pair.meta["backend"] == "pyvrp" and pair.meta["search"]["workers"] == [0, 1]
    objectives = pair.meta["objectives"]
    assert len(objectives) == 2 and None not in objectives
    assert pair.summary.objective == min(objectives)
    assert pair.meta["winner_worker"] == objectives.index(min(objectives))
    assert pair.is_feasible() and not pair.unassigned
