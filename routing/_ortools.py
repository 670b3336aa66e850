"""OR-Tools model building and one solver search (runs in the caller or in a worker process).

Integer scaling (stated once, used everywhere):

- time: milliseconds (``TIME_SCALE = 1000`` units per second). Travel and service times are
  rounded *up*, window/shift starts up and window/shift ends *down*, so an integer-feasible
  schedule is feasible in the original float seconds too. The error is below 1 ms per leg.
- distance: millimetres (``DIST_SCALE = 1000``), rounded to nearest (cost only).
- demand and capacity: thousandths (``DEMAND_SCALE = 1000``); demand rounded up, capacity down.

All times are shifted by ``t0`` (the earliest start in the problem) so cumuls are >= 0.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.problem import Problem

TIME_SCALE = 1000
DIST_SCALE = 1000
DEMAND_SCALE = 1000
_MAX_PENALTY = 2**60

FSS = routing_enums_pb2.FirstSolutionStrategy
LSM = routing_enums_pb2.LocalSearchMetaheuristic

# Portfolio of first-solution strategies; worker k of a solve with seed s uses entry (s+k) % n.
STRATEGIES = (
    "PARALLEL_CHEAPEST_INSERTION",
    "LOCAL_CHEAPEST_INSERTION",
    "SAVINGS",
    "PATH_CHEAPEST_ARC",
    "GLOBAL_CHEAPEST_ARC",
)


@dataclass
class Spec:
    """Everything a search needs besides the problem (picklable)."""

    job_indices: list[int]
    time_limit_s: float
    strategy: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    solution_limit: int | None = None
    # crew index -> list of job indices (problem.jobs) as an initial solution
    initial_routes: list[list[int]] | None = None
    # job index -> crew index it was on before; moving it elsewhere costs reassign_penalty
    previous_crew: dict[int, int] = field(default_factory=dict)
    reassign_penalty_s: float = 0.0


def _up(x: float, scale: int) -> int:
    return int(math.ceil(x * scale - 1e-9))


def _down(x: float, scale: int) -> int:
    return int(math.floor(x * scale + 1e-9))


class Model:
    """The OR-Tools routing model of a problem restricted to some jobs."""

    def __init__(self, problem: Problem, spec: Spec) -> None:
        self.problem = problem
        self.spec = spec
        p = problem
        jobs = [p.jobs[i] for i in spec.job_indices]
        n_dep = len(p.depots)
        self.n_depots = n_dep
        self.node_job = [-1] * n_dep + list(spec.job_indices)
        depot_pos = {d.id: k for k, d in enumerate(p.depots)}
        locs = [d.location_index for d in p.depots] + [j.location_index for j in jobs]
        self.locs = locs
        n = len(locs)
        starts = [depot_pos[c.start_depot] for c in p.crews]
        ends = [depot_pos[c.end_depot] for c in p.crews]
        self.manager = pywrapcp.RoutingIndexManager(n, len(p.crews), starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)
        routing, manager = self.routing, self.manager

        # time origin shift
        starts_s = [c.shift.start_s for c in p.crews] + [d.open_s for d in p.depots]
        for j in jobs:
            starts_s += [w.start_s for w in j.windows]
        self.t0 = min(starts_s) if starts_s else 0.0
        t0 = self.t0

        def t(x: float, up: bool) -> int:
            return _up(x - t0, TIME_SCALE) if up else _down(x - t0, TIME_SCALE)

        ix = np.ix_(locs, locs)
        dur = np.asarray(p.durations_s[ix], dtype=float)
        travel = np.ceil(dur * TIME_SCALE - 1e-9).astype(np.int64)
        np.fill_diagonal(travel, 0)
        service = [0] * n_dep + [_up(j.service_s, TIME_SCALE) for j in jobs]
        self.service = np.array(service, dtype=np.int64)
        time_matrix = (travel + self.service[:, None]).tolist()
        if p.objective == "distance":
            cost = np.rint(p.distances_m[ix] * DIST_SCALE).astype(np.int64)
        else:
            cost = travel.copy()
        np.fill_diagonal(cost, 0)
        self.cost_matrix = cost

        horizon = max(t(c.shift.end_s, False) for c in p.crews) if p.crews else 0
        horizon = max(horizon, 1)
        self.horizon = horizon
        time_cb = routing.RegisterTransitMatrix(time_matrix)
        routing.AddDimension(time_cb, horizon, horizon, False, "time")
        self.time = routing.GetDimensionOrDie("time")

        # arc costs (with a reassignment penalty per crew in a re-plan)
        reassign = _up(spec.reassign_penalty_s, TIME_SCALE) if spec.previous_crew else 0
        if p.objective == "distance" and reassign:
            reassign = int(spec.reassign_penalty_s * DIST_SCALE)
        if reassign:
            node_prev = np.full(n, -1)
            for node in range(n_dep, n):
                node_prev[node] = spec.previous_crew.get(self.node_job[node], -1)
            for v in range(len(p.crews)):
                extra = np.where((node_prev >= 0) & (node_prev != v), reassign, 0)
                m = (cost + extra[None, :]).tolist()
                routing.SetArcCostEvaluatorOfVehicle(routing.RegisterTransitMatrix(m), v)
        else:
            routing.SetArcCostEvaluatorOfAllVehicles(routing.RegisterTransitMatrix(cost.tolist()))

        # job windows (several: range + removed gaps)
        lo_all = min((t(c.shift.start_s, True) for c in p.crews), default=0)
        for node in range(n_dep, n):
            job = jobs[node - n_dep]
            var = self.time.CumulVar(manager.NodeToIndex(node))
            if job.windows:
                ws = sorted((max(t(w.start_s, True), 0), t(w.end_s, False)) for w in job.windows)
                ws = [(a, b) for a, b in ws if b >= a]
                if not ws:
                    ws = [(0, 0)]
                var.SetRange(ws[0][0], max(b for _, b in ws))
                reach = ws[0][1]
                for a, b in ws[1:]:
                    if a > reach + 1:
                        var.RemoveInterval(reach + 1, a - 1)
                    reach = max(reach, b)
            else:
                var.SetRange(lo_all, horizon)

        # shifts and depot hours
        solver = routing.solver()
        for v, crew in enumerate(p.crews):
            sd, ed = p.depot(crew.start_depot), p.depot(crew.end_depot)
            s_lo = max(t(crew.shift.start_s, True), t(sd.open_s, True))
            e_hi = t(crew.shift.end_s, False)
            if math.isfinite(ed.close_s):
                e_hi = min(e_hi, t(ed.close_s, False))
            s_lo = max(s_lo, 0)
            start_var = self.time.CumulVar(routing.Start(v))
            end_var = self.time.CumulVar(routing.End(v))
            start_var.SetRange(s_lo, max(s_lo, min(e_hi, t(crew.shift.end_s, False))))
            end_var.SetRange(s_lo, max(e_hi, s_lo))
            # crews leave at the start of their shift (or as soon as allowed) and are back as
            # early as possible
            routing.AddVariableMinimizedByFinalizer(start_var)
            routing.AddVariableMinimizedByFinalizer(end_var)

        # breaks: start in a window, not before the crew's day starts
        visit = [0] * routing.Size()
        for index in range(routing.Size()):
            if not routing.IsEnd(index):
                visit[index] = int(self.service[manager.IndexToNode(index)])
        self.break_names: dict[str, tuple[int, int]] = {}
        for v, crew in enumerate(p.crews):
            intervals = []
            for b_i, brk in enumerate(crew.breaks):
                ws = sorted((max(t(w.start_s, True), 0), t(w.end_s, False)) for w in brk.windows)
                lo, hi = ws[0][0], max(b for _, b in ws)
                if hi < lo:
                    hi = lo
                name = f"break:{v}:{b_i}"
                self.break_names[name] = (v, b_i)
                iv = solver.FixedDurationIntervalVar(
                    lo, hi, _up(brk.duration_s, TIME_SCALE), False, name
                )
                reach = ws[0][1]
                for a, b in ws[1:]:
                    if a > reach + 1:
                        s_expr = iv.StartExpr()
                        solver.Add(
                            solver.IsLessOrEqualCstVar(s_expr, reach)
                            + solver.IsGreaterOrEqualCstVar(s_expr, a)
                            >= 1
                        )
                    reach = max(reach, b)
                # no lunch before the day starts; a break after the crew is back is allowed
                # (bounding the end as well made OR-Tools' break reasoning reject feasible
                # routes whose service overlaps the break window)
                solver.Add(iv.StartExpr() >= self.time.CumulVar(routing.Start(v)))
                intervals.append(iv)
            if intervals:
                self.time.SetBreakIntervalsOfVehicle(intervals, v, visit)

        # capacity
        demand = [0] * n_dep + [_up(j.demand, DEMAND_SCALE) for j in jobs]
        caps = [_down(c.capacity, DEMAND_SCALE) for c in p.crews]
        dem_cb = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(dem_cb, 0, caps, True, "load")
        self.load = routing.GetDimensionOrDie("load")

        # skills and drop penalties
        counts = [0] * 4
        for j in jobs:
            counts[j.priority] += 1
        if p.objective == "distance":
            max_arc = int(cost.max()) if cost.size else 0
            bound = max_arc * (n + 2 * len(p.crews))
        else:
            bound = sum(max(t(c.shift.end_s, False), 0) for c in p.crews)
        bound += reassign * len(jobs)
        penalties = []
        acc = bound + 1
        for level in range(4):
            pen = acc
            penalties.append(min(pen, _MAX_PENALTY // max(1, len(jobs))))
            acc = pen + counts[level] * pen
        self.penalties = penalties
        for node in range(n_dep, n):
            job = jobs[node - n_dep]
            index = manager.NodeToIndex(node)
            allowed = [v for v, c in enumerate(p.crews) if job.skill in c.skills]
            if len(allowed) < len(p.crews):
                _allow_vehicles(routing, allowed, index)
            routing.AddDisjunction([index], penalties[job.priority])

    def search_parameters(self) -> Any:
        """Return the routing search parameters of the spec."""
        spec = self.spec
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.first_solution_strategy = getattr(FSS, spec.strategy)
        if spec.metaheuristic != "NONE":
            params.local_search_metaheuristic = getattr(LSM, spec.metaheuristic)
        params.time_limit.FromMilliseconds(max(1, int(spec.time_limit_s * 1000)))
        if spec.solution_limit is not None:
            params.solution_limit = spec.solution_limit
        return params

    def initial_assignment(self) -> Any:
        """Return an assignment built from the spec's initial routes, or None."""
        if not self.spec.initial_routes:
            return None
        pos = {job_i: node for node, job_i in enumerate(self.node_job) if job_i >= 0}
        routes = [
            [self.manager.NodeToIndex(pos[j]) for j in r if j in pos]
            for r in self.spec.initial_routes
        ]
        self.routing.CloseModelWithParameters(self.search_parameters())
        return self.routing.ReadAssignmentFromRoutes(routes, True)

    def solve(self) -> dict[str, Any]:
        """Run the search and return the raw result (picklable)."""
        started = time.perf_counter()
        params = self.search_parameters()
        initial = self.initial_assignment()
        if initial is not None:
            sol = self.routing.SolveFromAssignmentWithParameters(initial, params)
        else:
            sol = self.routing.SolveWithParameters(params)
        elapsed = time.perf_counter() - started
        out: dict[str, Any] = {
            "strategy": self.spec.strategy,
            "status": int(self.routing.status()),
            "solve_time_s": elapsed,
        }
        if sol is None:
            out["found"] = False
            return out
        out["found"] = True
        out["objective"] = int(sol.ObjectiveValue())
        routes = []
        for v in range(len(self.problem.crews)):
            index = self.routing.Start(v)
            steps = []
            while True:
                node = self.manager.IndexToNode(index)
                steps.append(
                    (
                        self.node_job[node],
                        sol.Value(self.time.CumulVar(index)),
                        sol.Value(self.load.CumulVar(index)),
                    )
                )
                if self.routing.IsEnd(index):
                    break
                index = sol.Value(self.routing.NextVar(index))
            routes.append(steps)
        out["routes"] = routes
        breaks: dict[int, list[tuple[int, int]]] = {}
        intervals = sol.IntervalVarContainer()
        for k in range(intervals.Size()):
            el = intervals.Element(k)
            name = el.Var().Name()
            if name in self.break_names and el.PerformedValue():
                v, b_i = self.break_names[name]
                breaks.setdefault(v, []).append((b_i, el.StartValue()))
        out["breaks"] = breaks
        out["t0"] = self.t0
        return out


def _allow_vehicles(routing: Any, allowed: list[int], index: int) -> None:
    # SetAllowedVehiclesForIndex's absl::Span argument does not convert from Python lists in
    # ortools 9.15's SWIG wrapper; restricting the vehicle variable is the documented
    # equivalent (-1 keeps the job droppable).
    try:
        routing.SetAllowedVehiclesForIndex(allowed, index)
    except TypeError:
        routing.VehicleVar(index).SetValues([-1, *allowed])


def run_search(problem: Problem, spec: Spec) -> dict[str, Any]:
    """Build the model and run one search (entry point of worker processes)."""
    return Model(problem, spec).solve()


def search_worker(problem: Problem, spec: Spec, conn: Any) -> None:
    """Run one search in a worker process and send the raw result through ``conn``."""
    try:
        conn.send(run_search(problem, spec))
    except Exception as exc:  # reported to the parent, which keeps the other results
        conn.send({"found": False, "strategy": spec.strategy, "error": repr(exc)})
    finally:
        conn.close()
