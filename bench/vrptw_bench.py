"""Solomon VRPTW benchmark of the project's solver, next to its previous settings.

Usage: ``python bench/vrptw_bench.py DIR [--time-limit S] [--workers N] [--baseline NAME]
[--peer pyvrp|none] [--crew-fixed-cost C] [--only A,B]``

Every ``*.txt`` in DIR (Solomon format) is built through :mod:`routing.engine.problem` (customers ->
jobs with demand, window, service time; vehicles -> crews with capacity; Euclidean distance =
travel time, unrounded; the model scales distances to 1/1000 and rounds travel times up, the
gap uses the plan's unrounded distance), solved with :func:`routing.engine.solve.solve` and its
default settings (:func:`routing.engine.search.default_settings`, the settings of ``geo311 plan``;
objective: total distance, fleet size free up to the instance's vehicle count), and again in
the same run with the baseline: ``classic`` = the previous settings (guided local search from
five first-solution strategies, same workers and time limit), ``plain`` = OR-Tools without a
metaheuristic (PATH_CHEAPEST_ARC, one worker), ``ortools`` = the default OR-Tools search
(``backend="ortools"``: what the solver does for problems PyVRP cannot express), ``none`` =
skip. Prints distance, vehicles used
next to the best-known solution's vehicles and the fewest known, the gap to
``best_known_distance``, seconds, and last ``mean gap X.XX% over N instances``.

``--solution-limit N`` stops each of our searches after N solutions instead of at the time
limit (give a generous ``--time-limit``): the result no longer depends on the machine's load
(about 3,500 solutions per worker take 30 s on an idle core of the reference machine).

``--crew-fixed-cost C`` adds a cost of C distance units per vehicle used (fleet minimisation:
Solomon's best-known results rank fewest vehicles first); the gap is then also shown against
``best_known_distance_with_fewest_vehicles``.

``--peer pyvrp`` (the default when PyVRP is installed) adds PyVRP itself in the same run, at
equal wall time and cores: the instance in PyVRP's own model, ``--workers`` processes (one per
core, seeds 0, 1, ...), the cheapest feasible solution (``bench/_pyvrp_peer.py``). The last
lines then compare the mean gaps and count the instances where ours is above 1.0 %. Our column
names the backend geo311's portfolio chose (``plan.meta['backend']``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from routing.engine import pyvrp_backend
from routing.engine.problem import Crew, Depot, Job, Problem, TimeWindow
from routing.engine.search import classic_settings
from routing.engine.solve import Plan, SolveParams, default_workers, solve

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _pyvrp_peer import PeerResult, solve_peer  # noqa: E402

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
    if args.baseline == "ortools":
        return solve(
            problem,
            SolveParams(
                time_limit_s=args.time_limit,
                workers=args.workers,
                crew_fixed_cost=args.crew_fixed_cost,
                backend="ortools",
            ),
        )
    if args.baseline == "plain":
        return solve(
            problem,
            SolveParams(
                time_limit_s=args.time_limit,
                workers=1,
                strategy="PATH_CHEAPEST_ARC",
                metaheuristic="NONE",
            ),
        )
    return solve(
        problem,
        SolveParams(
            time_limit_s=args.time_limit,
            workers=args.workers,
            settings=classic_settings("GUIDED_LOCAL_SEARCH"),
            crew_fixed_cost=args.crew_fixed_cost,
        ),
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--only", default="", help="comma-separated instance names")
    ap.add_argument(
        "--baseline", choices=("classic", "ortools", "plain", "none"), default="classic"
    )
    ap.add_argument(
        "--solution-limit",
        type=int,
        default=None,
        help="stop our searches after N solutions (load-independent, reproducible runs)",
    )
    ap.add_argument(
        "--crew-fixed-cost", type=float, default=0.0, help="cost per vehicle used (distance)"
    )
    ap.add_argument(
        "--peer",
        choices=("pyvrp", "none"),
        default="pyvrp" if pyvrp_backend.available() else "none",
        help="run PyVRP itself in the same run, same wall time and cores",
    )
    args = ap.parse_args(argv)
    if args.workers is None:
        args.workers = default_workers()
    return args


@dataclass
class Tally:
    """The gaps of a run: ours, the baseline's and the peer's (feasible ones)."""

    gaps: list[float] = field(default_factory=list)
    fewest_gaps: list[float] = field(default_factory=list)
    base_gaps: list[float] = field(default_factory=list)
    peer_gaps: list[float] = field(default_factory=list)
    pairs: list[tuple[float, float]] = field(default_factory=list)
    n_bad: int = 0
    n_base: int = 0
    n_peer: int = 0


def header(args: argparse.Namespace) -> str:
    line = (
        f"{'instance':9} {'ours dist':>10} {'veh':>4} {'bk veh':>6} {'min veh':>7} {'gap':>7} "
        f"{'s':>5} {'ok':>3} {'backend':>7}"
    )
    if args.baseline != "none":
        line += f"   {'base dist':>10} {'veh':>4} {'gap':>7} {'s':>5} {'ok':>3}"
    if args.peer != "none":
        line += f"   {'pyvrp dist':>10} {'veh':>4} {'gap':>7} {'s':>5} {'ok':>3}"
    return line + "  winner"


def peer_cell(peer: PeerResult, bk: float, gap: float, t: Tally) -> str:
    """The peer's columns; its feasible gap is tallied (and paired with ours)."""
    pgap = (peer.distance - bk) / bk * 100
    t.n_peer += 1
    if peer.feasible:
        t.peer_gaps.append(pgap)
        t.pairs.append((gap, pgap))
    ok = "y" if peer.feasible else "NO"
    return f"   {peer.distance:10.2f} {peer.routes:4d} {pgap:6.2f}% {peer.seconds:5.1f} {ok:>3}"


def run_instance(f: Path, ref: dict[str, Any], args: argparse.Namespace, t: Tally) -> str:
    """Solve one instance (ours, baseline, peer) and return its line."""
    problem = read_solomon(f).validate()
    bk = ref["best_known_distance"]
    ours = solve(
        problem,
        SolveParams(
            time_limit_s=args.time_limit,
            workers=args.workers,
            solution_limit=args.solution_limit,
            crew_fixed_cost=args.crew_fixed_cost,
        ),
    )
    d, v, ok = describe(ours)
    gap = (d - bk) / bk * 100
    t.gaps.append(gap)
    fewest = ref["best_known_distance_with_fewest_vehicles"]
    t.fewest_gaps.append((d - fewest) / fewest * 100)
    t.n_bad += not ok
    line = (
        f"{f.stem:9} {d:10.2f} {v:4d} {ref['vehicles_in_that_solution']:6d} "
        f"{ref['fewest_vehicles']:7d} {gap:6.2f}% {ours.summary.solve_time_s:5.1f} "
        f"{'y' if ok else 'NO':>3} {ours.meta['backend']:>7}"
    )
    base = run_baseline(problem, args)
    if base is not None:
        bd, bv, bok = describe(base)
        bgap = (bd - bk) / bk * 100
        if bok:
            t.base_gaps.append(bgap)
        t.n_base += 1
        line += (
            f"   {bd:10.2f} {bv:4d} {bgap:6.2f}% {base.summary.solve_time_s:5.1f} "
            f"{'y' if bok else 'NO':>3}"
        )
    if args.peer == "pyvrp":
        peer = solve_peer(f, time_limit_s=args.time_limit, workers=args.workers)
        line += peer_cell(peer, bk, gap, t)
    return line + f"  w{ours.meta['winner_worker']}"


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else math.nan


def summary(args: argparse.Namespace, t: Tally, settings: str) -> list[str]:
    """The closing lines: baseline, peer, ours (mean and worst gaps)."""
    out = []
    if t.n_base:
        out.append(
            f"baseline ({args.baseline}): feasible on {len(t.base_gaps)}/{t.n_base}, mean gap of "
            f"the feasible {_mean(t.base_gaps):.2f}%"
        )
    if t.n_peer:
        ours_paired = _mean([a for a, _ in t.pairs])
        peer_paired = _mean([b for _, b in t.pairs])
        out.append(
            f"peer (pyvrp, {args.workers} process(es)): feasible on {len(t.peer_gaps)}/"
            f"{t.n_peer}, mean gap {_mean(t.peer_gaps):.2f}%, worst "
            f"{max(t.peer_gaps, default=math.nan):.2f}%; on the same instances ours "
            f"{ours_paired:.2f}% vs pyvrp {peer_paired:.2f}% "
            f"({'met' if ours_paired <= peer_paired + 1e-9 else 'NOT met'}: mean <= pyvrp's)"
        )
    out.append(f"settings: {settings}; load after: {os.getloadavg()[0]:.2f}")
    if args.crew_fixed_cost:
        out.append(f"mean gap to the fewest-vehicle best known {_mean(t.fewest_gaps):.2f}%")
    above = sum(1 for g in t.gaps if g > 1.0)
    out.append(
        f"infeasible (ours): {t.n_bad}; worst gap {max(t.gaps, default=math.nan):.2f}%; "
        f"instances above 1.0%: {above}"
    )
    out.append(f"mean gap {_mean(t.gaps):.2f}% over {len(t.gaps)} instances")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    best = json.loads((args.dir / "best_known.json").read_text())
    files = sorted(args.dir.glob("*.txt"))
    if args.only:
        keep = set(args.only.split(","))
        files = [f for f in files if f.stem in keep]
    print(
        f"load before: {os.getloadavg()[0]:.2f} (1-min), {os.cpu_count()} cores, "
        f"{args.workers} worker(s), {args.time_limit:g} s",
        flush=True,
    )
    print(header(args))
    t = Tally()
    for f in files:
        print(run_instance(f, best[f.stem], args, t), flush=True)
    print("\n".join(summary(args, t, settings="default solve (portfolio)")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
