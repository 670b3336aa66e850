"""Solomon VRPTW benchmark of the project's solver, next to its previous settings.

Usage: ``python bench/vrptw_bench.py DIR [--time-limit S] [--workers N] [--baseline NAME]
[--crew-fixed-cost C] [--only A,B]``

Every ``*.txt`` in DIR (Solomon format) is built through :mod:`routing.engine.problem` (customers ->
jobs with demand, window, service time; vehicles -> crews with capacity; Euclidean distance =
travel time, unrounded; the model scales distances to 1/1000 and rounds travel times up, the
gap uses the plan's unrounded distance), solved with :func:`routing.engine.solve.solve` and its
default settings (:func:`routing.engine.search.default_settings`, the settings of ``geo311 plan``;
objective: total distance, fleet size free up to the instance's vehicle count), and again in
the same run with the baseline: ``classic`` = the previous settings (guided local search from
five first-solution strategies, same workers and time limit), ``plain`` = OR-Tools without a
metaheuristic (PATH_CHEAPEST_ARC, one worker), ``none`` = skip. Prints distance, vehicles used
next to the best-known solution's vehicles and the fewest known, the gap to
``best_known_distance``, seconds, and last ``mean gap X.XX% over N instances``.

``--solution-limit N`` stops each of our searches after N solutions instead of at the time
limit (give a generous ``--time-limit``): the result no longer depends on the machine's load
(about 3,500 solutions per worker take 30 s on an idle core of the reference machine).

``--crew-fixed-cost C`` adds a cost of C distance units per vehicle used (fleet minimisation:
Solomon's best-known results rank fewest vehicles first); the gap is then also shown against
``best_known_distance_with_fewest_vehicles``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from routing.engine.problem import Crew, Depot, Job, Problem, TimeWindow
from routing.engine.search import classic_settings
from routing.engine.solve import Plan, solve

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


def run_baseline(problem: Problem, args: argparse.Namespace) -> Plan | None:
    """Solve with the baseline the run compares with (None for ``--baseline none``)."""
    if args.baseline == "none":
        return None
    if args.baseline == "plain":
        return solve(
            problem,
            time_limit_s=args.time_limit,
            workers=1,
            strategy="PATH_CHEAPEST_ARC",
            metaheuristic="NONE",
        )
    return solve(
        problem,
        time_limit_s=args.time_limit,
        workers=args.workers,
        settings=classic_settings("GUIDED_LOCAL_SEARCH"),
        crew_fixed_cost=args.crew_fixed_cost,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--only", default="", help="comma-separated instance names")
    ap.add_argument("--baseline", choices=("classic", "plain", "none"), default="classic")
    ap.add_argument(
        "--solution-limit",
        type=int,
        default=None,
        help="stop our searches after N solutions (load-independent, reproducible runs)",
    )
    ap.add_argument(
        "--crew-fixed-cost", type=float, default=0.0, help="cost per vehicle used (distance)"
    )
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    best = json.loads((args.dir / "best_known.json").read_text())
    files = sorted(args.dir.glob("*.txt"))
    if args.only:
        keep = set(args.only.split(","))
        files = [f for f in files if f.stem in keep]
    print(f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} cores", flush=True)
    print(
        f"{'instance':9} {'ours dist':>10} {'veh':>4} {'bk veh':>6} {'min veh':>7} {'gap':>7} "
        f"{'s':>5} {'ok':>3}   {'base dist':>10} {'veh':>4} {'gap':>7} {'s':>5} {'ok':>3}  "
        "winner"
    )
    gaps, fewest_gaps, base_gaps, n_bad, n_base = [], [], [], 0, 0
    for f in files:
        problem = read_solomon(f).validate()
        ref = best[f.stem]
        bk = ref["best_known_distance"]
        ours = solve(
            problem,
            time_limit_s=args.time_limit,
            workers=args.workers,
            solution_limit=args.solution_limit,
            crew_fixed_cost=args.crew_fixed_cost,
        )
        base = run_baseline(problem, args)
        d, v, ok = describe(ours)
        gap = (d - bk) / bk * 100
        gaps.append(gap)
        fewest = ref["best_known_distance_with_fewest_vehicles"]
        fewest_gaps.append((d - fewest) / fewest * 100)
        n_bad += not ok
        line = (
            f"{f.stem:9} {d:10.2f} {v:4d} {ref['vehicles_in_that_solution']:6d} "
            f"{ref['fewest_vehicles']:7d} {gap:6.2f}% {ours.summary.solve_time_s:5.1f} "
            f"{'y' if ok else 'NO':>3}   "
        )
        if base is not None:
            bd, bv, bok = describe(base)
            bgap = (bd - bk) / bk * 100
            if bok:
                base_gaps.append(bgap)
            n_base += 1
            line += (
                f"{bd:10.2f} {bv:4d} {bgap:6.2f}% {base.summary.solve_time_s:5.1f} "
                f"{'y' if bok else 'NO':>3}  "
            )
        print(line + f"w{ours.meta['winner_worker']}", flush=True)
    if n_base:
        print(
            f"baseline ({args.baseline}): feasible on {len(base_gaps)}/{n_base}, mean gap of "
            f"the feasible {(sum(base_gaps) / len(base_gaps)) if base_gaps else math.nan:.2f}%"
        )
    print(f"settings: {ours.meta['search']['name']}; load after: {os.getloadavg()[0]:.2f}")
    if args.crew_fixed_cost:
        print(f"mean gap to the fewest-vehicle best known {sum(fewest_gaps) / len(gaps):.2f}%")
    print(f"infeasible (ours): {n_bad}; worst gap {max(gaps, default=math.nan):.2f}%")
    print(f"mean gap {sum(gaps) / max(1, len(gaps)):.2f}% over {len(gaps)} instances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
