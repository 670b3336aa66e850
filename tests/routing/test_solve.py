from __future__ import annotations

import json

import numpy as np
import pytest

from routing.engine.problem import (
    PRIORITY_LATER,
    PRIORITY_OVERDUE,
    Job,
    TimeWindow,
)
from routing.engine.solve import (
    NO_SKILL,
    NO_TIME,
    OVER_CAPACITY,
    UNREACHABLE,
    Plan,
    SolveParams,
    solve,
)

from ._line_problems import H, crew, problem


def fast(p, **kw):
    return solve(p, SolveParams(**{"time_limit_s": 1.0, "workers": 1, **kw}))


def test_skills_respected_and_route_times() -> None:
    p = problem(
        [crew("pot", {"asphalt"}), crew("light", {"electrical"})],
        [Job("a", 1, 600, "asphalt"), Job("e", 2, 900, "electrical")],
        [0, 1000, 2000],
    )
    plan = fast(p)
    assert plan.is_feasible() and not plan.unassigned
    assert plan.route("pot").job_ids == ["a"]
    assert plan.route("light").job_ids == ["e"]
    steps = plan.route("light").steps
    assert [s.type for s in steps] == ["start", "job", "end"]
    assert steps[0].departure_s == 7 * H
    assert steps[1].arrival_s == pytest.approx(7 * H + 200)
    assert steps[2].arrival_s == pytest.approx(7 * H + 200 + 900 + 200)
    assert plan.summary.travel_s == pytest.approx(200 + 400)
    assert plan.summary.distance_m == pytest.approx(2000 + 4000)
    assert plan.summary.service_s == pytest.approx(1500)


def test_windows_respected_with_waiting_and_two_windows() -> None:
    # the far job opens at 9:00; the near one has two windows, the first already missed
    p = problem(
        [crew("c", {"asphalt"})],
        [
            Job("late", 2, 600, "asphalt", windows=(TimeWindow(9 * H, 10 * H),)),
            Job(
                "two",
                1,
                600,
                "asphalt",
                windows=(TimeWindow(6 * H, 6.5 * H), TimeWindow(10 * H, 10.5 * H)),
            ),
        ],
        [0, 1000, 2000],
    )
    plan = fast(p)
    assert plan.is_feasible() and not plan.unassigned
    by_job = {s.job_id: s for s in plan.route("c").steps if s.type == "job"}
    assert 9 * H <= by_job["late"].service_start_s <= 10 * H
    assert 10 * H <= by_job["two"].service_start_s <= 10.5 * H
    assert plan.route("c").job_ids == ["late", "two"]
    assert by_job["late"].waiting_s > 0


def test_break_taken_within_window() -> None:
    jobs = [Job(f"j{k}", 1, 1.5 * H, "asphalt") for k in range(4)]  # 6 h of work on site
    p = problem([crew("c", {"asphalt"}, lunch=True)], jobs, [0, 500])
    plan = fast(p)
    assert plan.is_feasible() and not plan.unassigned
    brk = [s for s in plan.route("c").steps if s.type == "break"]
    assert len(brk) == 1 and brk[0].break_id == "lunch"
    assert 11 * H <= brk[0].arrival_s <= 13 * H
    assert brk[0].departure_s - brk[0].arrival_s == pytest.approx(1800)
    for s in plan.route("c").steps:  # no job overlaps the break
        if s.type == "job":
            assert (
                s.departure_s <= brk[0].arrival_s + 1e-6
                or s.service_start_s >= brk[0].departure_s - 1e-6
            )


def test_capacity_respected() -> None:
    p = problem(
        [crew("c1", {"asphalt"}, capacity=1.0), crew("c2", {"asphalt"}, capacity=1.0)],
        [Job(f"j{k}", 1, 300, "asphalt", demand=0.5) for k in range(4)],
        [0, 1000],
    )
    plan = fast(p)
    assert plan.is_feasible() and not plan.unassigned
    assert sorted(len(r.job_ids) for r in plan.routes) == [2, 2]
    assert all(r.steps[-1].load <= 1.0 for r in plan.routes)


def test_unassigned_reasons_found_by_checks() -> None:
    p = problem(
        [crew("c1", {"asphalt"}, capacity=3.0, end=9 * H)],
        [
            Job("sewer", 1, 300, "sewer"),
            Job("heavy", 1, 300, "asphalt", demand=5.0),
            # 1 h each way + 30 min on site: cannot fit a 07:00-09:00 shift even alone
            Job("far", 2, 1800, "asphalt"),
            Job("closed", 1, 300, "asphalt", windows=(TimeWindow(12 * H, 13 * H),)),
            Job("ok", 1, 300, "asphalt"),
        ],
        [0, 100, 36000],
    )
    plan = fast(p)
    reasons = {u.job_id: u for u in plan.unassigned}
    assert set(reasons) == {"sewer", "heavy", "far", "closed"}
    assert reasons["sewer"].code == NO_SKILL and "'sewer'" in reasons["sewer"].reason
    assert reasons["heavy"].code == OVER_CAPACITY and "c1=3" in reasons["heavy"].reason
    assert reasons["far"].code == UNREACHABLE and "60.0 min there" in reasons["far"].reason
    assert reasons["closed"].code == UNREACHABLE
    assert plan.route("c1").job_ids == ["ok"]


def test_overdue_job_kept_low_priority_dropped() -> None:
    # 2 h shift; each job takes 1.5 h on site: only one fits. The low-priority one is next
    # door, the overdue one far away: the overdue job must still win.
    p = problem(
        [crew("c", {"asphalt"}, end=9 * H)],
        [
            Job("cheap-low", 1, 1.5 * H, "asphalt", priority=PRIORITY_LATER, sla_due_s=20 * H),
            Job("far-overdue", 2, 1.5 * H, "asphalt", priority=PRIORITY_OVERDUE, sla_due_s=0.0),
        ],
        [0, 10, 9000],
    )
    plan = fast(p)
    assert plan.route("c").job_ids == ["far-overdue"]
    (u,) = plan.unassigned
    assert u.job_id == "cheap-low" and u.code == NO_TIME
    assert "not enough crew time today; lower priority than the work scheduled" in u.reason
    assert "120 crew-min" in u.reason and "90 min on site" in u.reason
    # due before the next shift (07:00 next day) -> an SLA breach the plan implies
    assert [b.job_id for b in plan.sla_breaches()] == ["cheap-low"]
    assert plan.sla_breaches(next_shift_start_s=10 * H) == []


def test_reproducible_with_fixed_seed() -> None:
    rng = np.random.default_rng(3)
    xs = [0.0, *rng.uniform(0, 8000, 12)]
    jobs = [Job(f"j{k}", k, 600, "asphalt", demand=1.0) for k in range(1, 13)]
    p = problem([crew("a", {"asphalt"}, capacity=6), crew("b", {"asphalt"}, capacity=6)], jobs, xs)
    a = solve(p, SolveParams(time_limit_s=30, seed=1, workers=1, solution_limit=200))
    b = solve(p, SolveParams(time_limit_s=30, seed=1, workers=1, solution_limit=200))
    assert [r.job_ids for r in a.routes] == [r.job_ids for r in b.routes]
    assert a.summary.objective == b.summary.objective


def test_two_workers_keep_the_best() -> None:
    rng = np.random.default_rng(5)
    xs = [0.0, *rng.uniform(0, 8000, 8)]
    jobs = [Job(f"j{k}", k, 600, "asphalt") for k in range(1, 9)]
    p = problem([crew("a", {"asphalt"}), crew("b", {"asphalt"})], jobs, xs)
    plan = solve(p, SolveParams(time_limit_s=1, workers=2))
    assert len(plan.meta["objectives"]) == 2
    assert plan.summary.objective == min(plan.meta["objectives"])
    assert plan.is_feasible() and not plan.unassigned


def test_json_round_trip() -> None:
    p = problem(
        [crew("c", {"asphalt"}, lunch=True)],
        [Job("j1", 1, 4 * H, "asphalt", ref="wo-17", sla_due_s=30 * H), Job("x", 1, 60, "sewer")],
        [0, 1000],
    )
    plan = fast(p)
    data = json.loads(json.dumps(plan.to_dict()))
    assert data["routes"][0]["steps"][0]["departure"] == "2015-10-06T07:00:00-04:00"
    assert data["unassigned"][0]["job_id"] == "x"
    back = Plan.from_dict(data)
    assert back == plan
    assert back.to_dict() == plan.to_dict()


def test_the_time_limit_bounds_the_whole_solve_through_a_deadline() -> None:
    from routing.engine.or_model import MIN_SEARCH_SHARE, Spec

    free = Spec(job_indices=[0], time_limit_s=10.0)
    assert free.search_time_s(now=1e9) == 10.0  # no deadline: the search runs its limit
    due = Spec(job_indices=[0], time_limit_s=10.0, deadline=1000.0)
    assert due.search_time_s(now=990.0) == 10.0  # started at once: all of it
    assert due.search_time_s(now=992.5) == 7.5  # start-up and model took 2.5 s
    assert due.search_time_s(now=999.0) == MIN_SEARCH_SHARE * 10.0  # never starved


def test_a_solution_limit_run_is_not_cut_by_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    import routing.engine.or_model as ortools_mod

    seen: list[float | None] = []
    real = ortools_mod.run_search

    def spy(problem_, spec):  # type: ignore[no-untyped-def]
        seen.append(spec.deadline)
        return real(problem_, spec)

    monkeypatch.setattr(ortools_mod, "run_search", spy)
    rng = np.random.default_rng(3)
    xs = [0.0, *rng.uniform(0, 8000, 6)]
    jobs = [Job(f"j{k}", k, 600, "asphalt") for k in range(1, 7)]
    p = problem([crew("a", {"asphalt"})], jobs, xs)
    solve(p, SolveParams(time_limit_s=30, seed=1, workers=1, solution_limit=50))
    solve(p, SolveParams(time_limit_s=2, seed=1, workers=1, backend="ortools"))  # auto: PyVRP here
    assert seen[0] is None and seen[1] is not None
