"""District plans and crew sweeps on a real local Dask cluster: same results as in-process,
retried after a worker dies, failures reported, a clear error when no scheduler answers."""

from __future__ import annotations

import logging
import os
import socket
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import cloudpickle
import networkx as nx
import numpy as np
import pytest
from typer.testing import CliRunner

from geo311.city.profile import default_city
from geo311.cli.app import _register_plugins, app
from geo311.errors import ConfigurationError
from routing.distributed import (
    ENV_VAR,
    TaskEvent,
    TaskFailure,
    TaskOptions,
    TaskRunner,
    run_tasks,
    simulate_sweep,
    solve_district_problems,
)
from routing.engine.graph import build_street_graph
from routing.engine.matrix import travel_time_matrix
from routing.engine.plan import Plan
from routing.engine.problem import Break, Crew, Depot, Job, Problem, TimeWindow
from routing.engine.solve import SolveParams, solve
from routing.simulate.run import (
    Season,
    SimulationInputs,
    SimulationParams,
    Sweep,
    run_simulation,
)

from .test_simulate import hand_matrix, hand_season

distributed = pytest.importorskip("distributed")

# The workers unpickle this module's task functions by value (it is not importable there).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

H = 3600.0
ORIGIN = datetime(2015, 10, 6, tzinfo=default_city().tz)
LAT0, LON0 = 42.34, -71.08


def district_graph(k: int, side: int = 6) -> nx.MultiDiGraph:
    """A side x side street grid (two-way, jittered), shifted east per district."""
    rng = np.random.default_rng(100 + k)
    g = nx.MultiDiGraph(crs="epsg:4326")
    for r in range(side):
        for c in range(side):
            jitter = rng.normal(0, 0.1, 2)
            g.add_node(
                r * side + c,
                y=LAT0 + (r + jitter[0]) * 0.0009,
                x=LON0 + 0.02 * k + (c + jitter[1]) * 0.0012,
            )
    for r in range(side):
        for c in range(side):
            n = r * side + c
            for m in ([n + 1] if c + 1 < side else []) + ([n + side] if r + 1 < side else []):
                length = float(90 + rng.uniform(0, 40))
                speed = "25 mph" if (r + c) % 3 else "30 mph"
                for u, v in ((n, m), (m, n)):
                    g.add_edge(u, v, length=length, highway="residential", maxspeed=speed)
    return g


def district_problem(k: int, n_jobs: int = 14) -> Problem:
    """A district: a tiny street graph, a yard, two crews (lunch break), jobs with windows."""
    graph = build_street_graph(district_graph(k), source=f"district-{k}")
    rng = np.random.default_rng(k)
    s, w, n, e = graph.summary.bbox
    snaps = graph.snap_many(rng.uniform(s, n, n_jobs + 1), rng.uniform(w, e, n_jobs + 1))
    m = travel_time_matrix(graph, snaps, workers=1)
    lunch = Break(30 * 60, (TimeWindow(11 * H, 13 * H),), id="lunch")
    crews = tuple(
        Crew(
            f"d{k}-c{i}",
            frozenset({"asphalt"}),
            TimeWindow(7 * H, 15.5 * H),
            10.0,
            "yard",
            "yard",
            breaks=(lunch,),
        )
        for i in range(2)
    )
    jobs = tuple(
        Job(
            f"d{k}-j{j}",
            j + 1,
            float(rng.uniform(600, 1800)),
            "asphalt",
            windows=((TimeWindow(8 * H, 12 * H),) if j % 4 == 0 else ()),
            demand=1.0,
            priority=int(rng.integers(0, 4)),
        )
        for j in range(n_jobs)
    )
    return Problem((Depot("yard", 0),), crews, jobs, m.durations_s, m.distances_m, ORIGIN)


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    return {f"district-{k}": district_problem(k) for k in range(4)}


@pytest.fixture(scope="module")
def scheduler() -> Any:
    """A real local cluster (2 worker processes) reached by its address, like a remote one."""
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    )
    yield cluster.scheduler_address
    cluster.close()


def same_plan(plan: Plan) -> dict[str, Any]:
    """The plan without its wall-clock solve time."""
    d = plan.to_dict()
    d["summary"].pop("solve_time_s")
    return d


def test_district_plans_on_the_cluster_equal_the_in_process_plans(problems, scheduler) -> None:
    budget = SolveParams(time_limit_s=30)
    here = solve_district_problems(
        problems, budget, deterministic=True, tasks=TaskOptions(workers=1)
    )
    events: list[TaskEvent] = []
    there = solve_district_problems(
        problems,
        budget,
        deterministic=True,
        tasks=TaskOptions(cluster=scheduler, progress=events.append),
    )
    assert list(there) == list(problems)  # the districts' order, whatever finished first
    assert sorted(e.key for e in events) == sorted(problems)
    assert [e.done for e in events] == [1, 2, 3, 4] and {e.total for e in events} == {4}
    for name, problem in problems.items():
        plan = there[name]
        assert isinstance(plan, Plan) and isinstance(here[name], Plan)
        assert same_plan(plan) == same_plan(here[name])
        assert plan.summary.jobs_served > 0 and plan.is_feasible
        # and the same as the plain solve of the problem in this process
        direct = solve(problem, SolveParams(time_limit_s=30, workers=1, metaheuristic="NONE"))
        assert same_plan(direct) == same_plan(plan)


def die_on_first_attempt(item: tuple[str, Problem]) -> tuple[int, Plan]:
    """Kill the worker process the first time (a marker file says it happened), then solve."""
    marker, problem = item
    if not os.path.exists(marker):
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
        os._exit(1)
    return os.getpid(), solve(
        problem, SolveParams(time_limit_s=30, workers=1, metaheuristic="NONE")
    )


def test_a_killed_worker_task_is_retried_and_the_job_finishes(problems, scheduler, tmp_path):
    marker = tmp_path / "died"
    items: dict[str, Any] = {"district-0": (str(marker), problems["district-0"])}
    out = run_tasks(die_on_first_attempt, items, cluster=scheduler)
    result = out["district-0"]
    assert not isinstance(result, TaskFailure), result
    pid, plan = result
    assert marker.exists() and int(marker.read_text()) != pid  # another worker process
    expected = solve(
        problems["district-0"], SolveParams(time_limit_s=30, workers=1, metaheuristic="NONE")
    )
    assert same_plan(plan) == same_plan(expected)


def test_a_failing_district_is_reported_while_the_others_come_back(problems, scheduler) -> None:
    broken = problems["district-1"]
    bad_job = Job("d1-bad", 999, 600.0, "asphalt")
    bad = Problem(
        broken.depots,
        broken.crews,
        (*broken.jobs, bad_job),
        broken.durations_s,
        broken.distances_m,
        ORIGIN,
    )
    mixed = {
        "district-0": problems["district-0"],
        "district-1": bad,
        "district-2": problems["district-2"],
    }
    for where in ({"workers": 1}, {"cluster": scheduler}):
        lines: list[str] = []
        out = solve_district_problems(
            mixed,
            SolveParams(time_limit_s=30),
            deterministic=True,
            tasks=TaskOptions(
                retries=0, progress=lambda e, lines=lines: lines.append(e.line()), **where
            ),
        )
        failure = out["district-1"]
        assert isinstance(failure, TaskFailure) and failure.key == "district-1"
        assert failure.error == "RoutingError" and "d1-bad" in failure.message
        assert isinstance(out["district-0"], Plan) and isinstance(out["district-2"], Plan)
        assert any("district-1 FAILED RoutingError" in line for line in lines)


def test_crew_sweep_on_the_cluster_equals_the_in_process_sweep(scheduler, tmp_path) -> None:
    crews = tmp_path / "crews.toml"
    crews.write_text(
        f'timezone = "{default_city().timezone}"\n'
        '[yards.yard]\nlat = 42.34\nlon = -71.07\nopen = "06:00"\nclose = "20:00"\n'
        '[crews.sl]\nskills = ["electrical"]\nshift = ["07:00", "15:30"]\ncapacity = 2\n'
        'start_yard = "yard"\nend_yard = "yard"\n',
        encoding="utf-8",
    )
    season = Season(tuple(hand_season()), hand_matrix(), hand_matrix(), {"yard": 0})
    args: dict[str, Any] = dict(
        start=date(2015, 9, 13),
        end=date(2015, 9, 15),
        sweep=Sweep(service="streetlights", crews_sweep=[1, 2, 3]),
        params=SimulationParams(drain_days=0),
        inputs=SimulationInputs(crews_file=crews, season=season),
    )
    keys: list[str] = []
    there = simulate_sweep(cluster=scheduler, progress=lambda e: keys.append(e.key), **args)
    here = run_simulation(**args)
    assert sorted(keys) == ["streetlights x1", "streetlights x2", "streetlights x3"]

    def timeless(d: Any) -> Any:
        if isinstance(d, dict):
            return {
                k: timeless(v) for k, v in d.items() if k not in ("wall_time_s", "solve_time_s")
            }
        return [timeless(v) for v in d] if isinstance(d, list) else d

    assert [r.crews for r in there.groups["streetlights"].runs] == [1, 2, 3]
    assert timeless(there.to_dict()) == timeless(here.to_dict())


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cluster_pointing_at_nothing_is_a_clear_error() -> None:
    address = f"tcp://127.0.0.1:{unused_port()}"
    with pytest.raises(ConfigurationError, match=ENV_VAR) as err:
        TaskRunner(cluster=address, connect_timeout_s=1.0).__enter__()
    assert "--cluster" in str(err.value) and address in str(err.value)
    with pytest.raises(ConfigurationError, match="not a Dask scheduler address"):
        TaskRunner(cluster="ray://head:10001")
    if not any(getattr(c, "name", None) == "simulate" for c in app.registered_commands):
        _register_plugins()
    result = CliRunner().invoke(
        app, ["simulate", "--from", "2015-10-05", "--to", "2015-10-06", "--cluster", address]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigurationError)
    assert ENV_VAR in str(result.exception) and "--cluster" in str(result.exception)
