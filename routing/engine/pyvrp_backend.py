"""PyVRP as a search backend: the problems it can express, solved by its iterated local search.

PyVRP (``pip install pyvrp``, a dev dependency) models time windows (one per client),
capacities, optional clients with prizes (prize-collecting) and several depots; it has no
skills and no breaks. :func:`unsupported` says why a problem cannot go to PyVRP (``None`` when
it can); :func:`run_search` solves one with one seed and returns the same raw result as
:func:`routing.engine.or_model.run_search`, so :func:`routing.engine.solve.build_plan` makes the same
:class:`~routing.engine.plan.Plan` and the same unassigned reasons from either backend.

The translation keeps the OR-Tools model's integer scaling (milliseconds, millimetres,
thousandths of demand; travel, service and window starts rounded up, window and shift ends
down: an integer-feasible route is feasible in float seconds) and objective: the arc cost is
the distance (``objective="distance"``) or the travel time (``"duration"``), waiting is free,
a crew's fixed cost is the vehicle type's fixed cost. The search first makes every job a
required client (PyVRP's own search, the fastest); when that finds no feasible plan within
``REQUIRED_SHARE`` of the time (some jobs must be dropped), it searches again for the time
left with every job an optional client whose prize follows the OR-Tools drop penalties (one
dropped job of a priority costs more than all travel and every dropped job of lower
priorities), and penalty weights that may grow past every prize, so that inserting a job
with a time-window or capacity violation never pays. The prize-collecting search took 1.2 to 2
times as long per iteration as the required one (3,000 iterations on Solomon RC105 and R101,
2026-12-03, load about 12), so it only runs when it must.

Identical crews (same depots, capacity, hours) share one vehicle type; a type's routes go to
its crews in crew order. Service starts are rebuilt as the earliest schedule (leave as early
as allowed, start each job as soon as its window opens), as the OR-Tools path reports them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, cast

import numpy as np

from routing.engine.problem import Crew, Problem

__all__ = ["PyvrpSpec", "available", "run_search", "search_worker", "unsupported"]

TIME_SCALE = 1000
DIST_SCALE = 1000
DEMAND_SCALE = 1000
# prizes stay far below 2**63 once summed and multiplied by PyVRP's float penalty weights
_MAX_TOTAL_PRIZE = 2**52
# PyVRP's default penalty weights start at 50,000 per unit of violation and stop at 100,000;
# the cap is raised (never above 1e11: a weight times a violation stays an int64)
_START_PENALTY = 50_000.0
_MAX_PENALTY = 1e11
# the least share of its time limit a search gets, however late its process started
MIN_SEARCH_SHARE = 0.5
# the share of the time the all-jobs-required search gets to find a feasible plan
REQUIRED_SHARE = 0.1
_INT_MAX = int(np.iinfo(np.int64).max)


def available() -> bool:
    """Return whether PyVRP can be imported."""
    try:
        import pyvrp  # noqa: F401
    except ImportError:
        return False
    return True


def unsupported(problem: Problem, job_indices: list[int]) -> str | None:
    """Return why PyVRP cannot express the problem restricted to some jobs (None if it can).

    Parameters
    ----------
    problem
        A validated problem.
    job_indices
        The jobs the search gets (after :func:`routing.engine.reasons.precheck`).

    Returns
    -------
    str or None
        The first feature PyVRP lacks (breaks, skills not every crew has, several windows per
        job), or None.
    """
    named = [c.id for c in problem.crews if c.breaks]
    if named:
        return f"crews {named[:3]} have breaks"
    skills = set.intersection(*(set(c.skills) for c in problem.crews)) if problem.crews else set()
    for i in job_indices:
        job = problem.jobs[i]
        if job.skill not in skills:
            return f"job {job.id!r} needs skill {job.skill!r}, which not every crew has"
        if len(job.windows) > 1:
            return f"job {job.id!r} has {len(job.windows)} time windows"
    return None


@dataclass
class PyvrpSpec:
    """One PyVRP search (picklable).

    Attributes
    ----------
    job_indices : list of int
        Jobs given to the search.
    time_limit_s : float
        Search time, seconds.
    seed : int
        PyVRP's random seed.
    crew_fixed_cost : float
        Cost of sending a crew out, objective units (seconds, or metres for distance).
    deadline : float or None
        Wall-clock time (``time.time()``) by which the solve should be done: the search gets
        what is left once its process has started (never less than half its time limit).
    max_iterations : int or None
        Stop after this many iterations instead (reproducible on any load).
    neighbours : int or None
        Granular neighbourhood size of the local search (PyVRP's default, 50, when None).
    history_length : int or None
        Length of the late-acceptance history of the prize-collecting search (PyVRP's
        default, 300, when None; the all-jobs search always keeps the default).
    """

    job_indices: list[int]
    time_limit_s: float
    seed: int = 0
    crew_fixed_cost: float = 0.0
    deadline: float | None = None
    max_iterations: int | None = None
    neighbours: int | None = None
    history_length: int | None = None

    def search_time_s(self, now: float) -> float:
        """Return the search's time limit at ``now`` (``time.time()``) given the deadline."""
        if self.deadline is None:
            return self.time_limit_s
        left = self.deadline - now
        return min(self.time_limit_s, max(MIN_SEARCH_SHARE * self.time_limit_s, left))


def _up(x: float, scale: int) -> int:
    return int(math.ceil(x * scale - 1e-9))


def _down(x: float, scale: int) -> int:
    return int(math.floor(x * scale + 1e-9))


@dataclass
class _Translation:
    """A problem in PyVRP's terms and the way back (vehicle type -> crews)."""

    data: Any
    t0: float
    type_crews: list[list[int]]
    max_prize: int


def _t0(problem: Problem, job_indices: list[int]) -> float:
    """Return the earliest start in the problem (every integer time is shifted by it)."""
    starts = [c.shift.start_s for c in problem.crews] + [d.open_s for d in problem.depots]
    starts += [w.start_s for i in job_indices for w in problem.jobs[i].windows]
    return min(starts) if starts else 0.0


def _crew_key(problem: Problem, crew: Crew, t0: float) -> tuple[str, str, int, int, int]:
    """Return the crew's vehicle type: depots, capacity, earliest start, latest end (ms)."""
    sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
    early = max(_up(max(crew.shift.start_s, sd.open_s) - t0, TIME_SCALE), 0)
    end = min(crew.shift.end_s, ed.close_s)
    late = _down(end - t0, TIME_SCALE) if math.isfinite(end) else _INT_MAX
    cap = _down(crew.capacity, DEMAND_SCALE)
    return crew.start_depot, crew.end_depot, cap, early, max(late, early)


def _prizes(problem: Problem, job_indices: list[int], cost: np.ndarray, fixed: int) -> list[int]:
    """Prize per priority level: one job outweighs all travel and every lower-priority job."""
    counts = [0] * 4
    for i in job_indices:
        counts[problem.jobs[i].priority] += 1
    max_arc = int(cost.max()) if cost.size else 0
    acc = max_arc * (len(cost) + 2 * len(problem.crews)) + fixed * len(problem.crews) + 1
    cap = _MAX_TOTAL_PRIZE // max(1, len(job_indices))
    prizes = []
    for level in range(4):
        prizes.append(min(acc, cap))
        acc = acc + counts[level] * acc
    return prizes


def _matrices(problem: Problem, locs: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Integer arc-cost and travel-time matrices over the used locations."""
    ix = np.ix_(locs, locs)
    travel = np.ceil(problem.durations_s[ix] * TIME_SCALE - 1e-9).astype(np.int64)
    if problem.objective == "distance":
        cost = np.rint(problem.distances_m[ix] * DIST_SCALE).astype(np.int64)
    else:
        cost = travel.copy()
    np.fill_diagonal(travel, 0)
    np.fill_diagonal(cost, 0)
    return cost, travel


def translate(problem: Problem, spec: PyvrpSpec) -> _Translation:
    """Build PyVRP's ``ProblemData`` of the problem restricted to the spec's jobs."""
    import pyvrp

    t0 = _t0(problem, spec.job_indices)
    locs = sorted(
        {d.location_index for d in problem.depots}
        | {problem.jobs[i].location_index for i in spec.job_indices}
    )
    at = {loc: k for k, loc in enumerate(locs)}
    cost, travel = _matrices(problem, locs)
    scale = DIST_SCALE if problem.objective == "distance" else TIME_SCALE
    fixed = int(round(spec.crew_fixed_cost * scale))
    prizes = _prizes(problem, spec.job_indices, cost, fixed)
    depot_pos = {d.id: k for k, d in enumerate(problem.depots)}
    depots = [pyvrp.Depot(at[d.location_index], name=d.id) for d in problem.depots]
    keys: dict[tuple[str, str, int, int, int], list[int]] = {}
    for v, crew in enumerate(problem.crews):
        keys.setdefault(_crew_key(problem, crew, t0), []).append(v)
    vehicle_types = [
        pyvrp.VehicleType(
            len(crews),
            capacity=[cap],
            start_depot=depot_pos[start],
            end_depot=depot_pos[end],
            fixed_cost=fixed,
            tw_early=early,
            tw_late=late,
        )
        for (start, end, cap, early, late), crews in keys.items()
    ]
    horizon = max(vt.tw_late for vt in vehicle_types)
    clients = [_client(problem, i, t0, at, prizes, horizon) for i in spec.job_indices]
    data = pyvrp.ProblemData(
        [pyvrp.Location(0.0, 0.0) for _ in locs],
        clients,
        depots,
        vehicle_types,
        [cast(Any, cost)],
        [cast(Any, travel)],
    )
    return _Translation(data, t0, list(keys.values()), max(prizes))


def _client(
    problem: Problem, i: int, t0: float, at: dict[int, int], prizes: list[int], horizon: int
) -> Any:
    """Job ``i`` as an optional PyVRP client with its one window (or the whole horizon)."""
    import pyvrp

    job = problem.jobs[i]
    early, late = 0, horizon
    if job.windows:
        w = job.windows[0]
        early = max(_up(w.start_s - t0, TIME_SCALE), 0)
        late = max(_down(w.end_s - t0, TIME_SCALE), early) if math.isfinite(w.end_s) else horizon
    return pyvrp.Client(
        at[job.location_index],
        delivery=[_up(job.demand, DEMAND_SCALE)],
        service_duration=_up(job.service_s, TIME_SCALE),
        tw_early=early,
        tw_late=late,
        prize=prizes[job.priority],
        required=False,
        name=job.id,
    )


def run_search(problem: Problem, spec: PyvrpSpec) -> dict[str, Any]:
    """Solve with PyVRP and return the raw result of :func:`routing.engine.or_model.run_search`.

    Parameters
    ----------
    problem
        A validated problem that :func:`unsupported` accepts.
    spec
        The search.

    Returns
    -------
    dict
        ``found`` (a feasible solution), ``objective`` (PyVRP's cost), ``routes`` (per crew:
        ``(job index or -1, service start in ms after t0, load)``, start and end included),
        ``breaks`` (none), ``t0``, ``strategy`` and ``solve_time_s``.
    """
    started = time.perf_counter()
    limit = spec.search_time_s(time.time())
    tr = translate(problem, spec)
    every = tr.data.replace(clients=[_required(c) for c in tr.data.clients()])
    # first every job required (PyVRP's own, fastest search); prize-collecting when that
    # finds no feasible plan in its share of the time (or its iterations)
    mode, result = "all jobs", _pyvrp_solve(every, spec, _first_stop(spec, limit), None)
    if not result.is_feasible():
        left = limit - (time.perf_counter() - started)
        stop = _later_stop(spec, left)
        mode, result = "prize-collecting", _pyvrp_solve(tr.data, spec, stop, tr.max_prize)
    out: dict[str, Any] = {
        "strategy": "pyvrp",
        "worker": {"backend": "pyvrp", "seed": spec.seed, "version": version("pyvrp")},
        "status": 0,
        "phase_objectives": [],
        "found": bool(result.is_feasible()),
        "iterations": result.num_iterations,
        "mode": mode,
    }
    if out["found"]:
        out["objective"] = int(result.cost())
        out["routes"] = _routes(problem, spec, tr, result.best)
        out["breaks"] = {}
        out["t0"] = tr.t0
    out["solve_time_s"] = time.perf_counter() - started
    return out


def _required(client: Any) -> Any:
    """Return the same client, required (no prize)."""
    import pyvrp

    return pyvrp.Client(
        client.location,
        delivery=client.delivery,
        service_duration=client.service_duration,
        tw_early=client.tw_early,
        tw_late=client.tw_late,
        name=client.name,
    )


class _FeasibleBy:
    """Stop at ``limit_s``, or at ``by_s`` when no feasible solution has been found yet."""

    def __init__(self, limit_s: float, by_s: float) -> None:
        self.limit_s, self.by_s = limit_s, by_s
        self.start = time.perf_counter()

    def __call__(self, best_cost: float) -> bool:
        elapsed = time.perf_counter() - self.start
        infeasible = best_cost >= _INT_MAX // 2
        return elapsed > self.limit_s or (infeasible and elapsed > self.by_s)


def _first_stop(spec: PyvrpSpec, limit: float) -> Any:
    from pyvrp.stop import MaxIterations

    if spec.max_iterations is not None:
        return MaxIterations(spec.max_iterations)
    return _FeasibleBy(limit, REQUIRED_SHARE * limit)


def _later_stop(spec: PyvrpSpec, left: float) -> Any:
    from pyvrp.stop import MaxIterations, MaxRuntime

    if spec.max_iterations is not None:
        return MaxIterations(spec.max_iterations)
    return MaxRuntime(max(left, 0.0))


def _pyvrp_solve(data: Any, spec: PyvrpSpec, stop: Any, max_prize: int | None) -> Any:
    """One PyVRP solve; with prizes, penalty weights that may outgrow them."""
    import pyvrp
    from pyvrp.search import NeighbourhoodParams

    kwargs: dict[str, Any] = {}
    if spec.neighbours is not None:
        kwargs["neighbourhood"] = NeighbourhoodParams(num_neighbours=spec.neighbours)
    if spec.history_length is not None and max_prize is not None:
        kwargs["ils"] = pyvrp.IteratedLocalSearchParams(history_length=spec.history_length)
    if max_prize is not None:
        kwargs["penalty"] = _penalty_params(max_prize)
    params = pyvrp.SolveParams(**kwargs)
    return pyvrp.solve(data, stop=stop, seed=spec.seed, collect_stats=False, params=params)


def _penalty_params(max_prize: int) -> Any:
    """PyVRP's penalty parameters: its start, a cap above every prize (within int64)."""
    from pyvrp import PenaltyParams

    class _Params(PenaltyParams):
        def midpoint_penalties(self, data: Any) -> tuple[list[float], float, float]:
            start = min(_START_PENALTY, self.max_penalty)
            return [start] * data.num_load_dimensions, start, start

    cap = min(max(100_000.0, 2.0 * max_prize), _MAX_PENALTY)
    return _Params(max_penalty=cap)


def _routes(
    problem: Problem, spec: PyvrpSpec, tr: _Translation, solution: Any
) -> list[list[tuple[int, float, float]]]:
    """Every crew's raw route: the earliest schedule of the jobs PyVRP gave it."""
    visits: list[list[int]] = [[] for _ in problem.crews]
    next_crew = [0] * len(tr.type_crews)
    for route in solution.routes():
        t = route.vehicle_type()
        v = tr.type_crews[t][next_crew[t]]
        next_crew[t] += 1
        visits[v] = [spec.job_indices[a.idx] for a in route if a.is_client()]
    return [_schedule(problem, v, jobs, tr.t0) for v, jobs in enumerate(visits)]


def _schedule(
    problem: Problem, v: int, jobs: list[int], t0: float
) -> list[tuple[int, float, float]]:
    """Crew ``v`` leaves as early as allowed and starts each job when its window opens."""
    crew, d = problem.crews[v], problem.durations_s
    sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
    clock = max(crew.shift.start_s, sd.open_s)
    loc, load = sd.location_index, 0.0
    steps = [(-1, (clock - t0) * TIME_SCALE, 0.0)]
    for i in jobs:
        job = problem.jobs[i]
        arrival = clock + float(d[loc, job.location_index])
        start = max(arrival, job.windows[0].start_s) if job.windows else arrival
        load += job.demand
        steps.append((i, (start - t0) * TIME_SCALE, load))
        clock, loc = start + job.service_s, job.location_index
    if not jobs:
        return steps
    back = clock + float(d[loc, ed.location_index])
    steps.append((-1, (back - t0) * TIME_SCALE, load))
    return steps


def search_worker(problem: Problem, spec: PyvrpSpec, conn: Any) -> None:
    """Run one search in a worker process and send the raw result through ``conn``."""
    try:
        conn.send(run_search(problem, spec))
    except Exception as exc:  # reported to the parent, which keeps the other results
        conn.send({"found": False, "strategy": "pyvrp", "error": repr(exc)})
    finally:
        conn.close()
