"""Benchmark: a nightly plan of a many-district city, one process vs a local Dask cluster.

A generated city of ``--districts`` districts (default 40), each a generated street graph
(``bench/matrix_bench.py``'s perturbed grid, ``--side``^2 nodes, one-ways, speed classes) with
``--jobs`` open work orders (random street points, 10-45 min on site, pothole or streetlight
skill, SLA priorities, some morning windows) and ``--crews`` crews with a lunch break at one yard.
The driver builds each district's problem (graph, snapping, travel matrix: the "prepare" time);
the night's plan is then solved

1. in one process, district after district (``TaskRunner(workers=1)``: the in-process path), and
2. on a local Dask cluster with one worker process per core (``routing.distributed``),

each district with ONE search worker (``solve(workers=1)``) so that both sides do the same work,
and with the deterministic search (greedy descent, stops by itself; ``--time-limit`` is only a
safety net): the two runs must return identical plans, which is checked. The two runs are
interleaved in ``--rounds`` rounds (one, cluster, one, cluster ...) so that the load of a shared
machine hits both alike; the load average (``uptime``) is printed with every figure.

Printed: prepare time, single-process and cluster wall times (median over rounds), speed-up and
efficiency, cluster start-up time and memory per worker, and a model of the same night on N
machines (``--cores-per-machine`` worker processes each) from the measured per-district times
(longest-first scheduling plus the measured per-task overhead), for this city and for an
NYC-size night (``--nyc-districts`` district plans of the same size).

Run:  .venv/bin/python bench/scale_bench.py [--districts 40] [--side 50] [--jobs 200]
      [--crews 5] [--time-limit 120] [--rounds 1]
"""

from __future__ import annotations

import argparse
import heapq
import os
import resource
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matrix_bench import generated_city, random_snaps  # noqa: E402

from geo311.city.profile import default_city  # noqa: E402
from routing.distributed import (  # noqa: E402
    TaskFailure,
    TaskOptions,
    TaskRunner,
    local_cores,
    solve_district_problems,
)
from routing.engine.graph import build_street_graph  # noqa: E402
from routing.engine.matrix import travel_time_matrix  # noqa: E402
from routing.engine.plan import Plan  # noqa: E402
from routing.engine.problem import Break, Crew, Depot, Job, Problem, TimeWindow  # noqa: E402
from routing.engine.solve import SolveParams  # noqa: E402

H = 3600.0


def load() -> str:
    return "load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def district_problem(k: int, *, side: int, n_jobs: int, n_crews: int) -> Problem:
    """District ``k``: its street graph, a yard, crews and open work orders (seeded by k)."""
    graph = build_street_graph(generated_city(side, seed=1000 + k), source=f"district-{k}")
    snaps = random_snaps(graph, n_jobs + 1, seed=k)
    m = travel_time_matrix(graph, snaps)
    rng = np.random.default_rng(k)
    lunch = Break(30 * 60, (TimeWindow(11 * H, 13 * H),), id="lunch")
    skills = ("asphalt", "electrical")
    crews = tuple(
        Crew(
            f"d{k}-crew{i}",
            frozenset({skills[i % 2]}),
            TimeWindow(7 * H, 15.5 * H),
            3.0 if i % 2 == 0 else 40.0,
            "yard",
            "yard",
            breaks=(lunch,),
            cost_per_hour=180.0,
        )
        for i in range(n_crews)
    )
    jobs = tuple(
        Job(
            f"d{k}-wo{j}",
            j + 1,
            float(rng.uniform(10, 45) * 60),
            skills[j % 2],
            windows=((TimeWindow(8 * H, 12 * H),) if j % 7 == 0 else ()),
            demand=float(rng.uniform(0.1, 0.4)) if j % 2 == 0 else 1.0,
            priority=int(rng.integers(0, 4)),
        )
        for j in range(n_jobs)
    )
    origin = datetime(2015, 10, 6, tzinfo=default_city().tz)
    return Problem((Depot("yard", 0),), crews, jobs, m.durations_s, m.distances_m, origin)


def plan_night(
    runner: TaskRunner, problems: dict[str, Problem], time_limit_s: float
) -> tuple[float, dict[str, Plan]]:
    started = time.perf_counter()
    out = solve_district_problems(
        problems,
        SolveParams(time_limit_s=time_limit_s),
        deterministic=True,
        tasks=TaskOptions(runner=runner, retries=0),
    )
    wall = time.perf_counter() - started
    failed = [str(v) for v in out.values() if isinstance(v, TaskFailure)]
    if failed:
        raise SystemExit("failed districts: " + "; ".join(failed))
    return wall, {k: v for k, v in out.items() if isinstance(v, Plan)}


def comparable(plan: Plan) -> dict[str, Any]:
    d = plan.to_dict()
    d["summary"].pop("solve_time_s")
    return d


def makespan(times: list[float], slots: int, overhead_s: float) -> float:
    """Longest-first list scheduling of the tasks on ``slots`` identical workers."""
    heap = [0.0] * slots
    for t in sorted(times, reverse=True):
        heapq.heappush(heap, heapq.heappop(heap) + t + overhead_s)
    return max(heap)


def model_table(per_task: list[float], overhead_s: float, args: argparse.Namespace) -> None:
    nyc = [per_task[i % len(per_task)] for i in range(args.nyc_districts)]
    c = args.cores_per_machine
    print(
        f"\nmodel: N machines x {c} worker processes, longest district first, "
        f"+{overhead_s:.2f} s per task (measured); per-district times measured single-process"
    )
    print(f"{'machines':>8} {f'this city ({len(per_task)})':>18} {f'NYC-size ({len(nyc)})':>16}")
    for n in (1, 2, 4, 8, 16, 32):
        a, b = makespan(per_task, n * c, overhead_s), makespan(nyc, n * c, overhead_s)
        print(f"{n:>8} {a:>16.1f} s {b:>14.1f} s")
    print(
        f"(one process: {sum(per_task):.1f} s for this city, {sum(nyc):.1f} s for NYC-size; "
        f"longest district {max(per_task):.1f} s bounds every cluster)"
    )


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--districts", type=int, default=40)
    ap.add_argument("--side", type=int, default=50, help="grid side: side^2 street nodes")
    ap.add_argument("--jobs", type=int, default=200, help="open work orders per district")
    ap.add_argument("--crews", type=int, default=5, help="crews per district")
    ap.add_argument("--time-limit", type=float, default=120.0, help="safety limit per district")
    ap.add_argument("--workers", type=int, default=None, help="cluster processes (default cores)")
    ap.add_argument("--rounds", type=int, default=1, help="interleaved rounds (median)")
    ap.add_argument("--cores-per-machine", type=int, default=8)
    ap.add_argument("--nyc-districts", type=int, default=120)
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    workers = args.workers or local_cores()
    print(
        f"{args.districts} districts, {args.side**2} nodes, {args.jobs} work orders, "
        f"{args.crews} crews each; {workers} cluster workers; {load()}"
    )
    t = time.perf_counter()
    problems = {
        f"district-{k:02d}": district_problem(
            k, side=args.side, n_jobs=args.jobs, n_crews=args.crews
        )
        for k in range(args.districts)
    }
    print(
        f"prepare (graphs, snapping, matrices, in the driver): "
        f"{time.perf_counter() - t:.1f} s; {load()}"
    )
    t = time.perf_counter()
    cluster = TaskRunner(workers=workers).__enter__()
    startup = time.perf_counter() - t
    print(
        f"local cluster start-up: {startup:.1f} s; worker memory at start "
        f"{_mb(cluster.worker_memory_mb())}; {load()}"
    )
    single: list[float] = []
    multi: list[float] = []
    try:
        for r in range(args.rounds):
            with TaskRunner(workers=1) as here:
                wall, plans_here = plan_night(here, problems, args.time_limit)
            single.append(wall)
            print(f"round {r + 1}: one process {wall:.1f} s; {load()}")
            wall, plans_there = plan_night(cluster, problems, args.time_limit)
            multi.append(wall)
            print(f"round {r + 1}: local cluster ({workers} processes) {wall:.1f} s; {load()}")
            same = sum(comparable(plans_here[k]) == comparable(plans_there[k]) for k in problems)
            same_obj = sum(
                plans_here[k].summary.objective == plans_there[k].summary.objective
                for k in problems
            )
            print(
                f"round {r + 1}: identical plans {same}/{len(problems)}, same objective "
                f"{same_obj}/{len(problems)}"
            )
            for k in problems:
                a, b = plans_here[k].summary, plans_there[k].summary
                if comparable(plans_here[k]) != comparable(plans_there[k]):
                    print(
                        f"  {k}: objective {a.objective} vs {b.objective}, served "
                        f"{a.jobs_served} vs {b.jobs_served}, travel {a.travel_s:.0f} vs "
                        f"{b.travel_s:.0f} s"
                    )
        memory = cluster.worker_memory_mb()
    finally:
        cluster.__exit__(None, None, None)
    report(args, workers, single, multi, plans_here, memory, startup)


def _mb(memory: dict[str, float]) -> str:
    return ", ".join(f"{v:.0f} MB" for v in memory.values())


def report(
    args: argparse.Namespace,
    workers: int,
    single: list[float],
    multi: list[float],
    plans: dict[str, Plan],
    memory: dict[str, float],
    startup: float,
) -> None:
    one, many = statistics.median(single), statistics.median(multi)
    per_task = [p.summary.solve_time_s for p in plans.values()]
    served = sum(p.summary.jobs_served for p in plans.values())
    speedup = one / many
    print(
        f"\nnightly plan of {len(plans)} districts ({served} work orders served), "
        f"1 search worker per district, deterministic search; {load()}"
    )
    print(f"{'':<28}{'wall s':>9}{'speed-up':>10}{'efficiency':>12}")
    print(f"{'one process':<28}{one:>9.1f}{1.0:>10.2f}{1.0:>12.0%}")
    print(
        f"{f'local cluster ({workers} proc)':<28}{many:>9.1f}{speedup:>10.2f}"
        f"{speedup / workers:>12.0%}"
    )
    with_start = one / (many + startup)
    print(
        f"{'  + cluster start-up':<28}{many + startup:>9.1f}{with_start:>10.2f}"
        f"{with_start / workers:>12.0%}"
    )
    print(
        f"memory per worker after the night: {_mb(memory)}; driver peak "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    print(
        f"per-district solve: median {statistics.median(per_task):.2f} s, "
        f"max {max(per_task):.2f} s, sum {sum(per_task):.1f} s"
    )
    overhead = max(0.0, (many * workers - sum(per_task)) / len(per_task))
    model_table(per_task, overhead, args)
    verdict = "PASS" if speedup >= 1.7 else "FAIL"
    print(f"\nacceptance (cluster >= 1.7x one process on this machine): {speedup:.2f}x {verdict}")


if __name__ == "__main__":
    main()
