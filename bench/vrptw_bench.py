"""Solomon VRPTW benchmark of the project's solver, next to plain OR-Tools defaults.

Usage: ``python bench/vrptw_bench.py DIR [--time-limit S] [--workers N]``

Every ``*.txt`` in DIR (Solomon format) is built through :mod:`routing.problem` (customers ->
jobs with demand, window, service time; vehicles -> crews with capacity; Euclidean distance =
travel time, unrounded), solved with :func:`routing.solve.solve` (objective: total distance,
fleet size free up to the instance's vehicle count), and again with the baseline: plain OR-Tools
defaults (PATH_CHEAPEST_ARC, no metaheuristic, same time limit, one worker). Prints distance,
vehicles, gap to ``best_known_distance`` and seconds, and last ``mean gap X.XX% over N instances``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from routing.problem import Crew, Depot, Job, Problem, TimeWindow
from routing.solve import Plan, solve

ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


def read_solomon(path: Path) -> Problem:
    lines = [ln.split() for ln in path.read_text().splitlines()]
    rows = [ln for ln in lines if ln]
    i = next(k for k, r in enumerate(rows) if r[0].upper() == "VEHICLE")
    n_veh, cap = int(rows[i + 2][0]), float(rows[i + 2][1])
    cust = [r for r in rows if len(r) == 7 and r[0].isdigit()]
    data = np.array([[float(x) for x in r] for r in cust])
    xy = data[:, 1:3]
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    depot_row = data[0]
    depot = Depot("depot", 0, open_s=depot_row[4], close_s=depot_row[5])
    crews = tuple(
        Crew(
            f"v{k}",
            frozenset({"any"}),
            TimeWindow(depot_row[4], depot_row[5]),
            cap,
            "depot",
            "depot",
        )
        for k in range(n_veh)
    )
    jobs = tuple(
        Job(
            str(int(r[0])),
            k,
            float(r[6]),
            "any",
            windows=(TimeWindow(float(r[4]), float(r[5])),),
            demand=float(r[3]),
        )
        for k, r in enumerate(data[1:], start=1)
    )
    return Problem((depot,), crews, jobs, dist, dist, ORIGIN, objective="distance")


def describe(plan: Plan) -> tuple[float, int, bool]:
    feasible = plan.is_feasible() and not plan.unassigned
    return plan.summary.distance_m, plan.summary.routes, feasible


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--only", default="", help="comma-separated instance names")
    args = ap.parse_args(argv)
    best = json.loads((args.dir / "best_known.json").read_text())
    files = sorted(args.dir.glob("*.txt"))
    if args.only:
        keep = set(args.only.split(","))
        files = [f for f in files if f.stem in keep]
    print(
        f"{'instance':9} {'ours dist':>10} {'veh':>4} {'gap':>7} {'s':>6} {'ok':>3}   "
        f"{'base dist':>10} {'veh':>4} {'gap':>8} {'s':>6} {'ok':>3}  winner"
    )
    gaps, base_gaps, n_bad = [], [], 0
    for f in files:
        problem = read_solomon(f).validate()
        bk = best[f.stem]["best_known_distance"]
        ours = solve(problem, time_limit_s=args.time_limit, workers=args.workers)
        base = solve(
            problem,
            time_limit_s=args.time_limit,
            workers=1,
            strategy="PATH_CHEAPEST_ARC",
            metaheuristic="NONE",
        )
        d, v, ok = describe(ours)
        bd, bv, bok = describe(base)
        gap = (d - bk) / bk * 100
        bgap = (bd - bk) / bk * 100 if bok else math.nan
        gaps.append(gap)
        if bok:
            base_gaps.append(bgap)
        n_bad += not ok
        print(
            f"{f.stem:9} {d:10.2f} {v:4d} {gap:6.2f}% {ours.summary.solve_time_s:6.1f} "
            f"{'y' if ok else 'NO':>3}   {bd:10.2f} {bv:4d} {bgap:7.2f}% "
            f"{base.summary.solve_time_s:6.1f} {'y' if bok else 'NO':>3}  {ours.meta['winner']}"
            + ("" if bok else f" (baseline: {base.summary.jobs_unassigned} unserved)"),
            flush=True,
        )
    print(
        f"baseline (PATH_CHEAPEST_ARC, no metaheuristic): feasible on {len(base_gaps)}/"
        f"{len(files)}, mean gap of the feasible "
        f"{(sum(base_gaps) / len(base_gaps)) if base_gaps else math.nan:.2f}%"
    )
    print(f"infeasible (ours): {n_bad}")
    print(f"mean gap {sum(gaps) / max(1, len(gaps)):.2f}% over {len(gaps)} instances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
