"""A large day's skill groups shared out among the workers and merged (routing.engine.groupsplit).

The solves are real (PyVRP and OR-Tools) on the small city day of test_decompose.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from routing.engine import groupsplit, pyvrp_backend, relaxed
from routing.engine import or_model as _ortools
from routing.engine.checks import check_routes
from routing.engine.problem import TimeWindow
from routing.engine.search import SearchSettings, WorkerSettings
from routing.engine.solve import SolveParams, build_plan, solve

from .test_decompose import H, _day, _served

pytest.importorskip("pyvrp")

RELAXED = WorkerSettings(decompose_jobs=40, decompose_fraction=0.5, relaxed_fraction=0.8)


def _specs(n: int, jobs: list[int], worker: WorkerSettings = RELAXED) -> list[_ortools.Spec]:
    return [_ortools.Spec(jobs, 3.0, worker=replace(worker, relaxed_seed=k)) for k in range(n)]


def test_each_worker_gets_its_own_groups_with_the_day_size() -> None:
    p = _day()
    jobs = list(range(len(p.jobs)))
    split = groupsplit.parts(p, _specs(2, jobs))
    assert split is not None and len(split) == 2
    assert not set(split[0].crews) & set(split[1].crews)
    assert sorted(split[0].crews + split[1].crews) == list(range(len(p.crews)))
    for part in split:
        assert part.spec.day_jobs == len(jobs) and part.spec.day_size == len(jobs)
        held = {s for v in part.crews for s in p.crews[v].skills}
        assert all(p.jobs[j].skill in held for j in part.spec.job_indices)
    assert sorted(split[0].spec.job_indices + split[1].spec.job_indices) == jobs
    # more workers than groups: the third solves the largest part again with its own seed
    three = groupsplit.parts(p, _specs(3, jobs))
    assert three is not None and three[2].key == three[0].key
    assert three[2].spec.worker.relaxed_seed != three[0].spec.worker.relaxed_seed


def test_no_split_for_one_worker_a_small_day_or_shared_skills() -> None:
    p = _day()
    jobs = list(range(len(p.jobs)))
    assert groupsplit.parts(p, _specs(1, jobs)) is None
    small = replace(RELAXED, decompose_jobs=len(jobs))
    assert groupsplit.parts(p, _specs(2, jobs, small)) is None
    no_relax = replace(RELAXED, relaxed_fraction=0.0)
    assert groupsplit.parts(p, _specs(2, jobs, no_relax)) is None
    both = replace(p.crews[0], skills=frozenset({"asphalt", "sidewalk"}))
    assert groupsplit.parts(replace(p, crews=(both, *p.crews[1:])), _specs(2, jobs)) is None


def test_parts_merge_into_a_day_priced_by_the_whole_model() -> None:
    p = _day()
    jobs = list(range(len(p.jobs)))
    specs = _specs(3, jobs)
    split = groupsplit.parts(p, specs)
    assert split is not None
    results = [groupsplit.run_part(p, part) for part in split]
    assert all(r["found"] and r["strategy"] == "pyvrp-relaxed" for r in results)
    raw = groupsplit.merge(p, specs[0], split, results)
    assert raw is not None
    # of the two workers on the same part, the lower objective is kept
    twins = [0, 2]
    kept = min(twins, key=lambda k: results[k]["objective"])
    assert kept in raw["parts"] and 1 in raw["parts"] and len(raw["parts"]) == 2
    whole = _ortools.Model(p, specs[0])
    day_routes = [[j for j, _, _ in r if j >= 0] for r in raw["routes"]]
    assert raw["objective"] == whole.objective_of(day_routes)
    for local, v in enumerate(split[kept].crews):
        assert day_routes[v] == [j for j, _, _ in results[kept]["routes"][local] if j >= 0]
    plan = build_plan(p, raw, {}, jobs, solve_time_s=1.0, meta={})
    assert check_routes(p, list(plan.routes)) == []
    assert plan.summary.jobs_served == len(_served(raw))
    assert all(
        sum(s.type == "break" for s in r.steps) == 1
        for r in plan.routes
        if any(s.type == "job" for s in r.steps)
    )


def test_solve_with_two_workers_splits_the_groups() -> None:
    p = _day()
    settings = SearchSettings("t", (RELAXED, replace(RELAXED, relaxed_seed=1)))
    plan = solve(p, SolveParams(time_limit_s=4.0, workers=2, settings=settings))
    assert plan.summary.is_feasible and plan.meta["winner"] == "pyvrp-groups"
    assert len(plan.meta["split"]["crews"]) == 2
    assert plan.summary.jobs_served + plan.summary.jobs_unassigned == len(p.jobs)
    assert all(u.reason for u in plan.unassigned)
    served_by = {s.job_id: r.crew_id for r in plan.routes for s in r.steps if s.type == "job"}
    crews = {c.id: c for c in p.crews}
    jobs = {j.id: j for j in p.jobs}
    assert all(jobs[j].skill in crews[c].skills for j, c in served_by.items())


def test_group_search_passes_its_neighbourhood_and_history_to_pyvrp() -> None:
    p = _day()
    parts = relaxed.groups(p, list(range(len(p.jobs))))
    assert parts is not None and 0 < relaxed.NEIGHBOURS < 50 and relaxed.HISTORY_LENGTH > 0
    sub = relaxed.relaxed_problem(p, parts[0])
    sub = replace(sub, crews=tuple(replace(c, shift=TimeWindow(0, 24 * H)) for c in sub.crews))
    spec = pyvrp_backend.PyvrpSpec(
        parts[0].jobs, 10.0, max_iterations=50, neighbours=5, history_length=10
    )
    out = pyvrp_backend.run_search(sub, spec)
    assert out["found"] and out["mode"] == "all jobs"
    with pytest.raises(ValueError, match="num_neighbours"):
        pyvrp_backend.run_search(sub, replace(spec, neighbours=0))
    # the history is the prize-collecting search's: the all-jobs search keeps PyVRP's own
    assert pyvrp_backend.run_search(sub, replace(spec, history_length=0))["found"]
    short = tuple(replace(c, shift=TimeWindow(7 * H, 9 * H)) for c in sub.crews)
    tight = replace(sub, crews=short)
    out = pyvrp_backend.run_search(tight, spec)
    assert out["found"] and out["mode"] == "prize-collecting"
    with pytest.raises(ValueError, match="history_length"):
        pyvrp_backend.run_search(tight, replace(spec, history_length=0))


def test_the_tightest_part_goes_to_worker_zero() -> None:
    p = _day()
    jobs = list(range(len(p.jobs)))
    groups = relaxed.groups(p, jobs)
    assert groups is not None
    # the crews of the group of job 1 (sidewalk) work 3 h less: their part is the tightest
    late = {v for g in groups if 1 in g.jobs for v in g.crews}
    crews = tuple(
        replace(c, shift=TimeWindow(10 * H, c.shift.end_s)) if v in late else c
        for v, c in enumerate(p.crews)
    )
    shorter = replace(p, crews=crews)
    split = groupsplit.parts(shorter, _specs(2, jobs))
    assert split is not None and set(split[0].crews) == late
    by_part = [[g for g in groups if set(g.crews) <= set(part.crews)] for part in split]
    assert groupsplit.tightness(shorter, by_part[0]) > groupsplit.tightness(shorter, by_part[1])
