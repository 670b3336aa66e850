from __future__ import annotations

import json

import numpy as np
import pytest
from ortools.util.optional_boolean_pb2 import BOOL_FALSE

from geo311.errors import RoutingError
from routing.engine.problem import Job, TimeWindow
from routing.engine.search import (
    FSS,
    ILS,
    LSM,
    SearchSettings,
    WorkerSettings,
    classic_settings,
    default_settings,
    routing_parameters,
)
from routing.engine.solve import SolveParams, solve

from ._line_problems import H, crew, problem


def _city(seed: int, n: int = 12):
    rng = np.random.default_rng(seed)
    xs = [0.0, *rng.uniform(-8000, 8000, n)]
    jobs = [Job(f"j{k}", k, 600, "asphalt", demand=1.0) for k in range(1, n + 1)]
    crews = [crew(c, {"asphalt"}, capacity=5) for c in ("a", "b", "c")]
    return problem(crews, jobs, xs)


def _routes(plan):
    return [r.job_ids for r in plan.routes]


def test_ils_with_solution_limit_gives_the_same_plan_twice() -> None:
    p = _city(11)
    runs = [
        solve(p, SolveParams(time_limit_s=60, workers=1, solution_limit=150, seed=s))
        for s in (0, 0, 1, 1)
    ]
    assert runs[0].meta["search"]["workers"][0]["metaheuristic"] == ILS
    assert _routes(runs[0]) == _routes(runs[1])
    assert runs[0].summary.objective == runs[1].summary.objective
    assert _routes(runs[2]) == _routes(runs[3])
    for plan in runs:
        assert plan.is_feasible() and not plan.unassigned
        assert plan.summary.solve_time_s < 60


def test_portfolio_keeps_the_best_worker_and_is_reproducible() -> None:
    p = _city(12)
    mixed = SearchSettings(
        name="mixed",
        portfolio=(
            WorkerSettings(strategy="PATH_CHEAPEST_ARC", metaheuristic="NONE"),
            WorkerSettings(strategy="PARALLEL_CHEAPEST_INSERTION", ruin_avg_removed=5),
        ),
    )
    a = solve(p, SolveParams(time_limit_s=60, workers=2, solution_limit=150, settings=mixed))
    b = solve(p, SolveParams(time_limit_s=60, workers=2, solution_limit=150, settings=mixed))
    objectives = a.meta["objectives"]
    assert len(objectives) == 2 and None not in objectives
    assert a.summary.objective == min(objectives)
    assert a.meta["winner_worker"] == objectives.index(min(objectives))
    assert [w["metaheuristic"] for w in a.meta["search"]["workers"]] == ["NONE", ILS]
    assert _routes(a) == _routes(b) and a.meta["objectives"] == b.meta["objectives"]


def test_plan_states_its_settings_as_json() -> None:
    p = _city(13, n=6)
    # the default OR-Tools settings (auto would give this problem to PyVRP)
    plan = solve(p, SolveParams(time_limit_s=1, workers=1, backend="ortools"))
    data = json.loads(json.dumps(plan.to_dict()))
    search = data["meta"]["search"]
    assert search["name"] == default_settings().name
    worker = search["workers"][0]
    assert worker["metaheuristic"] == ILS and worker["ruin_avg_removed"] >= 1
    classic = solve(p, SolveParams(time_limit_s=1, workers=1, metaheuristic="GUIDED_LOCAL_SEARCH"))
    assert classic.meta["search"]["workers"] == [
        {
            "strategy": "PARALLEL_CHEAPEST_INSERTION",
            "metaheuristic": "GUIDED_LOCAL_SEARCH",
            "large_strategy": "PARALLEL_CHEAPEST_INSERTION",
            "large_jobs": 300,
        }
    ]


def test_crew_fixed_cost_sends_fewer_crews() -> None:
    # L1 early and L2 late on the west side, R1 in between on the east side: two crews drive
    # 4 km (one waits in the west), one crew zig-zags 6 km
    t0 = 7 * H
    jobs = [
        Job("L1", 1, 60, "asphalt", windows=(TimeWindow(t0, t0 + 200),)),
        Job("R1", 2, 60, "asphalt", windows=(TimeWindow(t0 + 300, t0 + 450),)),
        Job("L2", 3, 60, "asphalt", windows=(TimeWindow(t0 + 600, t0 + 800),)),
    ]
    p = problem([crew("a", {"asphalt"}), crew("b", {"asphalt"})], jobs, [0, -1000, 1000, -1000])
    free = solve(p, SolveParams(time_limit_s=5, workers=1, solution_limit=100))
    fixed = solve(
        p, SolveParams(time_limit_s=5, workers=1, solution_limit=100, crew_fixed_cost=500)
    )
    assert free.summary.routes == 2 and free.summary.distance_m == pytest.approx(4000)
    assert fixed.summary.routes == 1 and fixed.summary.distance_m == pytest.approx(6000)
    assert not fixed.unassigned and fixed.is_feasible()
    assert fixed.meta["crew_fixed_cost"] == 500


def test_ils_parameters_scale_the_temperatures_and_use_greedy_descent() -> None:
    w = WorkerSettings(temperatures=(2.0, 0.02), ruin_avg_removed=7, ruin_max_sequence=4)
    params = routing_parameters(w, time_limit_s=3, solution_limit=50, mean_arc_cost=1000.0)
    assert params.use_iterated_local_search
    assert params.local_search_metaheuristic == LSM.GREEDY_DESCENT
    assert params.time_limit.seconds == 3 and params.solution_limit == 50
    ils = params.iterated_local_search_parameters
    sisr = ils.ruin_recreate_parameters.ruin_strategies[0].sisr
    assert (sisr.avg_num_removed_visits, sisr.max_removed_sequence_size) == (7, 4)
    sa = ils.reference_solution_acceptance_strategy.simulated_annealing
    assert sa.initial_temperature == pytest.approx(2000.0)
    assert sa.final_temperature == pytest.approx(20.0)
    assert params.local_search_operators.use_global_cheapest_insertion_path_lns == BOOL_FALSE
    big = routing_parameters(w, time_limit_s=3, mean_arc_cost=1000.0, n_jobs=w.large_jobs + 1)
    assert big.first_solution_strategy == FSS.LOCAL_CHEAPEST_INSERTION
    assert params.first_solution_strategy == FSS.PARALLEL_CHEAPEST_INSERTION
    classic = routing_parameters(classic_settings().worker(0), time_limit_s=3, mean_arc_cost=1000.0)
    assert not classic.use_iterated_local_search


@pytest.mark.parametrize(
    ("kw", "word"),
    [
        ({"strategy": "FASTEST"}, "strategy"),
        ({"metaheuristic": "MAGIC"}, "metaheuristic"),
        ({"temperatures": (0.1, 1.0)}, "temperatures"),
        ({"polish_fraction": 1.0}, "polish_fraction"),
        ({"bypass_factor": 2.0}, "bypass_factor"),
    ],
)
def test_invalid_settings_name_the_field(kw: dict, word: str) -> None:
    with pytest.raises(RoutingError, match=word):
        SearchSettings(name="bad", portfolio=(WorkerSettings(**kw),))


def test_solve_rejects_settings_and_metaheuristic_together() -> None:
    p = _city(14, n=3)
    with pytest.raises(RoutingError, match="either settings or metaheuristic"):
        solve(p, SolveParams(time_limit_s=1, settings=default_settings(), metaheuristic="NONE"))
    with pytest.raises(RoutingError, match="crew_fixed_cost"):
        solve(p, SolveParams(time_limit_s=1, crew_fixed_cost=-1))
