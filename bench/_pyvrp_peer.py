"""The PyVRP peer of ``bench/vrptw_bench.py``: PyVRP as its users run it on a Solomon instance.

The instance goes straight into PyVRP's own model (not through geo311): locations with their
coordinates, every customer a required client, one vehicle type (the instance's fleet and
capacity, the depot's hours), distances and durations the Euclidean distance times 1,000
rounded to the nearest integer (PyVRP's ``round_func="exact"``). ``workers`` processes run at
once with seeds ``0 .. workers-1`` (one per core), each until a deadline common to all set
when the peer starts, as geo311's solve does (equal wall time); the cheapest feasible solution
wins. The distance reported is the solution's unrounded Euclidean length.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

SCALE = 1000
MIN_SHARE = 0.5


@dataclass
class PeerResult:
    """The peer's best solution: unrounded distance, routes used, feasible, wall seconds."""

    distance: float
    routes: int
    feasible: bool
    seconds: float
    iterations: list[int]


def read_rows(path: Path) -> tuple[int, float, np.ndarray]:
    """Return the fleet size, the capacity and the customer rows (depot first) of a file."""
    rows = [ln.split() for ln in path.read_text().splitlines() if ln.split()]
    i = next(k for k, r in enumerate(rows) if r[0].upper() == "VEHICLE")
    n_veh, cap = int(rows[i + 2][0]), float(rows[i + 2][1])
    cust = [r for r in rows if len(r) == 7 and r[0].isdigit()]
    return n_veh, cap, np.array([[float(x) for x in r] for r in cust])


def problem_data(path: Path) -> tuple[Any, np.ndarray]:
    """PyVRP's ``ProblemData`` of a Solomon file, and the unrounded distance matrix."""
    import pyvrp

    n_veh, cap, data = read_rows(path)
    xy = data[:, 1:3]
    dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    rounded = np.rint(dist * SCALE).astype(np.int64)
    depot = data[0]
    clients = [
        pyvrp.Client(
            k,
            delivery=[int(round(r[3] * SCALE))],
            service_duration=int(round(r[6] * SCALE)),
            tw_early=int(round(r[4] * SCALE)),
            tw_late=int(round(r[5] * SCALE)),
        )
        for k, r in enumerate(data[1:], start=1)
    ]
    vt = pyvrp.VehicleType(
        n_veh,
        capacity=[int(round(cap * SCALE))],
        tw_early=int(round(depot[4] * SCALE)),
        tw_late=int(round(depot[5] * SCALE)),
    )
    pd = pyvrp.ProblemData(
        [pyvrp.Location(float(x), float(y)) for x, y in xy],
        clients,
        [pyvrp.Depot(0, tw_early=vt.tw_early, tw_late=vt.tw_late)],
        [vt],
        [rounded],
        [rounded],
    )
    return pd, dist


def _one(path: Path, seed: int, time_limit_s: float, deadline: float) -> dict[str, Any]:
    """One PyVRP search: the solution's clients per route (or None), cost and iterations."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data, _ = problem_data(path)
    limit = min(time_limit_s, max(MIN_SHARE * time_limit_s, deadline - time.time()))
    res = pyvrp.solve(data, stop=MaxRuntime(limit), seed=seed, collect_stats=False)
    routes = [[a.idx + 1 for a in r if a.is_client()] for r in res.best.routes()]
    return {
        "feasible": bool(res.is_feasible()),
        "cost": float(res.cost()),
        "routes": routes,
        "iterations": res.num_iterations,
    }


def _worker(path: Path, seed: int, time_limit_s: float, deadline: float, conn: Any) -> None:
    try:
        conn.send(_one(path, seed, time_limit_s, deadline))
    finally:
        conn.close()


def solve_peer(path: Path, *, time_limit_s: float, workers: int) -> PeerResult:
    """Run PyVRP on a Solomon file with ``workers`` processes (seeds 0..) for equal wall time."""
    started = time.perf_counter()
    deadline = time.time() + time_limit_s
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for seed in range(1, workers):
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_worker, args=(path, seed, time_limit_s, deadline, send), daemon=True
        )
        proc.start()
        send.close()
        procs.append((proc, recv))
    results = [_one(path, 0, time_limit_s, deadline)]
    for proc, recv in procs:
        try:
            results.append(recv.recv())
        except EOFError:
            results.append({"feasible": False, "cost": math.inf, "routes": [], "iterations": 0})
        proc.join()
    seconds = time.perf_counter() - started
    feasible = [r for r in results if r["feasible"]]
    best = min(feasible or results, key=lambda r: r["cost"])
    dist = problem_data(path)[1]
    length = sum(route_length(dist, r) for r in best["routes"])
    return PeerResult(
        distance=length,
        routes=sum(1 for r in best["routes"] if r),
        feasible=bool(feasible),
        seconds=seconds,
        iterations=[r["iterations"] for r in results],
    )


def route_length(dist: np.ndarray, route: list[int]) -> float:
    """Unrounded length of a route from the depot (0) through ``route`` and back."""
    stops = [0, *route, 0]
    return float(sum(dist[a, b] for a, b in zip(stops, stops[1:], strict=False)))
