"""City-day benchmark: one whole day of a city's work orders through the project's solver.

A generated city street graph (the matrix benchmark's perturbed grid, ``--side`` 150 = 22,500
nodes, about 15 km across), one yard in the middle, ``--jobs`` work orders at random points
(service 5-15 min, one in ten overdue, a 2-hour window on one in five), ``--crews`` crews in
two skill groups (07:00-15:30, 30-min lunch between 11:00 and 13:00), objective driving time.
The travel-time matrix is computed with :func:`routing.engine.matrix.travel_time_matrix`.

Prints, for the default search settings (:func:`routing.engine.search.default_settings`, the settings
of ``geo311 plan``) with ``--workers`` parallel searches:

- time to the first feasible plan (model + first solution of worker 0, ``solution_limit=1``,
  no time cut-off; the plan serves what fits and drops the rest with reasons, so it is
  feasible from the start);
- jobs served, objective and driving hours after each of ``--times`` seconds, next to a
  reference run of ``--reference-time`` seconds (600 by default) of the same solver, with the
  objective's gap to the reference (dominated by the drop penalties while the served jobs
  differ) and the driving time's gap to the reference;
- peak memory (this process and the worker processes, ``ru_maxrss``) and the load average.

How a day this size is meant to be usable within 60 s: above 300 jobs the default settings
start worker 0 from savings (a complete, dispatchable plan that drops what does not fit:
3.6 s wall with the model at load 2.5, 2.8 CPU-s for the heuristic; 883 served) and worker 1 from local cheapest insertion (about 26 CPU-s, fewer urgent
jobs dropped); both then improve until the time limit and the better plan wins, so
``geo311 plan --time-limit 60`` returns the best plan found by then (at load 2.5-3.6, with
``--times 30,60 --reference-time 120``: 904 served after 30 s with 3.8 % more driving than
after 120 s, 1.8 % after 60 s). Parallel cheapest
insertion (the small-problem start) gives no plan within minutes at this size.

Run:  .venv/bin/python bench/city_day_bench.py [--times 30,120] [--reference-time 600]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from matrix_bench import generated_city, random_snaps

from routing.engine.graph import build_street_graph
from routing.engine.matrix import travel_time_matrix
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
from routing.engine.solve import Plan, solve

H = 3600.0
ORIGIN = datetime(2026, 6, 2, tzinfo=ZoneInfo("America/New_York"))
SKILLS = ("asphalt", "sidewalk")


def city_problem(side: int, n_jobs: int, n_crews: int, seed: int) -> tuple[Problem, float]:
    """Build the day's problem; return it with the matrix time (s)."""
    rng = np.random.default_rng(seed)
    graph = build_street_graph(generated_city(side, seed), source=f"generated {side}x{side}")
    snaps = random_snaps(graph, n_jobs, seed)
    yard = graph.snap_to_node(int(graph.node_ids[len(graph.node_ids) // 2]))
    started = time.perf_counter()
    matrix = travel_time_matrix(graph, [yard, *snaps])
    matrix_s = time.perf_counter() - started
    jobs = []
    for k in range(n_jobs):
        windows: tuple[TimeWindow, ...] = ()
        if k % 5 == 0:
            start = float(rng.uniform(7 * H, 13.5 * H))
            windows = (TimeWindow(start, start + 2 * H),)
        jobs.append(
            Job(
                f"wo{k}",
                k + 1,
                float(rng.uniform(300, 900)),
                SKILLS[k % 2],
                windows=windows,
                priority=PRIORITY_OVERDUE if k % 10 == 3 else PRIORITY_LATER,
            )
        )
    lunch = (Break(1800.0, (TimeWindow(11 * H, 13 * H),), "lunch"),)
    crews = tuple(
        Crew(
            f"crew{c}",
            frozenset({SKILLS[c % 2]}),
            TimeWindow(7 * H, 15.5 * H),
            1000.0,
            "yard",
            "yard",
            breaks=lunch,
        )
        for c in range(n_crews)
    )
    problem = Problem(
        (Depot("yard", 0),),
        crews,
        tuple(jobs),
        matrix.durations_s,
        matrix.distances_m,
        ORIGIN,
    )
    return problem.validate(), matrix_s


def row(label: str, plan: Plan, wall_s: float, reference: Plan | None) -> str:
    s = plan.summary
    gap = drive = ""
    if reference is not None and reference.summary.objective:
        gap = f"{(s.objective - reference.summary.objective) / reference.summary.objective:+.2%}"
    if reference is not None and reference.summary.travel_s:
        drive = f"{(s.travel_s - reference.summary.travel_s) / reference.summary.travel_s:+.2%}"
    return (
        f"{label:<22}{wall_s:>8.1f}{s.jobs_served:>7}{s.jobs_unassigned:>8}"
        f"{s.routes:>6}{s.travel_s / H:>9.2f}{s.objective:>16.0f} {gap:>9} {drive:>9}"
    )


def peak_mb() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=150, help="grid side (side^2 nodes)")
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--crews", type=int, default=25)
    ap.add_argument("--times", default="30,120", help="comma-separated time limits (s)")
    ap.add_argument("--reference-time", type=float, default=600.0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} cores", flush=True)
    t = time.perf_counter()
    problem, matrix_s = city_problem(args.side, args.jobs, args.crews, args.seed)
    print(
        f"graph + problem {time.perf_counter() - t:.1f} s (matrix {matrix_s:.1f} s): "
        f"{len(problem.jobs)} jobs, {len(problem.crews)} crews, "
        f"{sum(1 for j in problem.jobs if j.windows)} with windows",
        flush=True,
    )
    head = (
        f"{'run':<22}{'wall s':>8}{'served':>7}{'dropped':>8}{'crews':>6}{'drive h':>9}"
        f"{'objective':>16} {'vs ref':>9} {'drive vs':>9}"
    )
    t = time.perf_counter()
    # no cut-off: the time the first plan takes, however long (one worker, worker 0's start)
    first = solve(problem, time_limit_s=3600, workers=1, solution_limit=1)
    first_s = time.perf_counter() - t
    runs: list[tuple[str, Plan, float]] = [("first feasible plan", first, first_s)]
    for limit in [float(x) for x in args.times.split(",") if x]:
        t = time.perf_counter()
        plan = solve(problem, time_limit_s=limit, workers=args.workers)
        runs.append((f"after {limit:g} s", plan, time.perf_counter() - t))
        print(f"  {runs[-1][0]} done", flush=True)
    t = time.perf_counter()
    ref = solve(problem, time_limit_s=args.reference_time, workers=args.workers)
    runs.append((f"reference {args.reference_time:g} s", ref, time.perf_counter() - t))
    print(head)
    for label, plan, wall in runs:
        print(row(label, plan, wall, ref))
    me, kids = peak_mb()
    print(f"settings: {ref.meta['search']['name']}, workers {ref.meta['workers']}")
    print(f"time to first feasible plan: {first_s:.1f} s")
    print(f"peak memory: {me:.0f} MB (this process), {kids:.0f} MB (largest worker)")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
