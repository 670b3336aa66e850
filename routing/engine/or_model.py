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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.engine import search
from routing.engine.problem import Problem

TIME_SCALE = 1000
DIST_SCALE = 1000
DEMAND_SCALE = 1000
_MAX_PENALTY = 2**60

FSS = routing_enums_pb2.FirstSolutionStrategy
LSM = routing_enums_pb2.LocalSearchMetaheuristic

# Portfolio of first-solution strategies of the classic settings (kept for callers).
STRATEGIES = search.CLASSIC_STRATEGIES


@dataclass
class Spec:
    """Everything a search needs besides the problem (picklable)."""

    job_indices: list[int]
    time_limit_s: float
    worker: search.WorkerSettings = field(default_factory=search.WorkerSettings)
    solution_limit: int | None = None
    # crew index -> list of job indices (problem.jobs) as an initial solution
    initial_routes: list[list[int]] | None = None
    # job index -> crew index it was on before; moving it elsewhere costs reassign_penalty
    previous_crew: dict[int, int] = field(default_factory=dict)
    reassign_penalty_s: float = 0.0
    # cost of sending a crew out, objective units (seconds, or metres for distance)
    crew_fixed_cost: float = 0.0
    # wall-clock time (``time.time()``) by which the whole solve should be done: the search
    # gets what is left once its process has started and its model is built (never less
    # than MIN_SEARCH_SHARE of time_limit_s); None: the search runs time_limit_s
    deadline: float | None = None
    # jobs of the whole day when this search solves a part of it (one worker's skill groups,
    # :mod:`routing.engine.groupsplit`): the day's size decides its decomposition and
    # relaxation, not the part's; None: the spec's own jobs
    day_jobs: int | None = None

    @property
    def day_size(self) -> int:
        """Return the jobs of the day this search belongs to."""
        return len(self.job_indices) if self.day_jobs is None else self.day_jobs

    def search_time_s(self, now: float) -> float:
        """Return the search's time limit at ``now`` (``time.time()``) given the deadline."""
        if self.deadline is None:
            return self.time_limit_s
        left = self.deadline - now
        return min(self.time_limit_s, max(MIN_SEARCH_SHARE * self.time_limit_s, left))

    @property
    def strategy(self) -> str:
        """The worker's first-solution strategy."""
        return self.worker.strategy


# The least share of its time limit a search gets, however late its process started.
MIN_SEARCH_SHARE = 0.5
# ILS time a decomposing day keeps before the neighbourhoods (when its limit allows): on the
# 1,000-job day at load 4-5, 15 s of ILS then 15 s of neighbourhoods served 422 jobs where
# 27 s of ILS serves about 900; at 60 s, 30 s + 30 s served 960
MIN_ILS_S = 30.0


def _up(x: float, scale: int) -> int:
    return int(math.ceil(x * scale - 1e-9))


def _down(x: float, scale: int) -> int:
    return int(math.floor(x * scale + 1e-9))


class Model:
    """The OR-Tools routing model of a problem restricted to some jobs.

    Built in named steps (nodes, time, costs, windows, shifts, breaks, capacity, drops); the
    search itself follows the spec's :class:`~routing.engine.search.WorkerSettings`.
    """

    def __init__(self, problem: Problem, spec: Spec) -> None:
        self.problem = problem
        self.spec = spec
        self.jobs = [problem.jobs[i] for i in spec.job_indices]
        # set when the polish from the best ILS solution fails: neighbourhoods until then
        self.neighbourhood_deadline: float | None = None
        self._nodes()
        self._time()
        self._costs()
        self._job_windows()
        self._shifts()
        self._breaks()
        self._capacity()
        self._drops()
        if spec.crew_fixed_cost > 0:
            self.routing.SetFixedCostOfAllVehicles(self._fixed_cost())

    # ------------------------------------------------------------ model building steps

    def _t(self, x: float, up: bool) -> int:
        """Scale a time (seconds) to integer units after the ``t0`` shift."""
        return _up(x - self.t0, TIME_SCALE) if up else _down(x - self.t0, TIME_SCALE)

    def _nodes(self) -> None:
        p, spec = self.problem, self.spec
        n_dep = len(p.depots)
        self.n_depots = n_dep
        self.node_job = [-1] * n_dep + list(spec.job_indices)
        depot_pos = {d.id: k for k, d in enumerate(p.depots)}
        self.locs = [d.location_index for d in p.depots] + [j.location_index for j in self.jobs]
        starts = [depot_pos[c.start_depot] for c in p.crews]
        ends = [depot_pos[c.end_depot] for c in p.crews]
        self.manager = pywrapcp.RoutingIndexManager(len(self.locs), len(p.crews), starts, ends)
        self.routing = pywrapcp.RoutingModel(self.manager)

    def _time(self) -> None:
        p, n_dep = self.problem, self.n_depots
        starts_s = [c.shift.start_s for c in p.crews] + [d.open_s for d in p.depots]
        for j in self.jobs:
            starts_s += [w.start_s for w in j.windows]
        self.t0 = min(starts_s) if starts_s else 0.0
        self.ix = np.ix_(self.locs, self.locs)
        dur = np.asarray(p.durations_s[self.ix], dtype=float)
        travel = np.ceil(dur * TIME_SCALE - 1e-9).astype(np.int64)
        np.fill_diagonal(travel, 0)
        self.travel = travel
        service = [0] * n_dep + [_up(j.service_s, TIME_SCALE) for j in self.jobs]
        self.service = np.array(service, dtype=np.int64)
        time_matrix = (travel + self.service[:, None]).tolist()
        horizon = max((self._t(c.shift.end_s, False) for c in p.crews), default=0)
        self.horizon = max(horizon, 1)
        time_cb = self.routing.RegisterTransitMatrix(time_matrix)
        self.routing.AddDimension(time_cb, self.horizon, self.horizon, False, "time")
        self.time = self.routing.GetDimensionOrDie("time")

    def _costs(self) -> None:
        """Arc costs (with a reassignment penalty per crew in a re-plan)."""
        p, spec, routing = self.problem, self.spec, self.routing
        if p.objective == "distance":
            cost = np.rint(p.distances_m[self.ix] * DIST_SCALE).astype(np.int64)
        else:
            cost = self.travel.copy()
        np.fill_diagonal(cost, 0)
        self.cost_matrix = cost
        n, n_dep = len(self.locs), self.n_depots
        reassign = _up(spec.reassign_penalty_s, TIME_SCALE) if spec.previous_crew else 0
        if p.objective == "distance" and reassign:
            reassign = int(spec.reassign_penalty_s * DIST_SCALE)
        self.reassign = reassign
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

    def _job_windows(self) -> None:
        """Job windows (several: the range, with the gaps removed)."""
        p, n_dep = self.problem, self.n_depots
        lo_all = min((self._t(c.shift.start_s, True) for c in p.crews), default=0)
        for node in range(n_dep, len(self.locs)):
            job = self.jobs[node - n_dep]
            var = self.time.CumulVar(self.manager.NodeToIndex(node))
            if not job.windows:
                var.SetRange(lo_all, self.horizon)
                continue
            ws = sorted(
                (max(self._t(w.start_s, True), 0), self._t(w.end_s, False)) for w in job.windows
            )
            ws = [(a, b) for a, b in ws if b >= a] or [(0, 0)]
            var.SetRange(ws[0][0], max(b for _, b in ws))
            reach = ws[0][1]
            for a, b in ws[1:]:
                if a > reach + 1:
                    var.RemoveInterval(reach + 1, a - 1)
                reach = max(reach, b)

    def _shifts(self) -> None:
        """Shifts and depot hours; crews leave as early and are back as early as allowed."""
        p, routing = self.problem, self.routing
        for v, crew in enumerate(p.crews):
            sd, ed = p.depot(crew.start_depot), p.depot(crew.end_depot)
            s_lo = max(self._t(crew.shift.start_s, True), self._t(sd.open_s, True))
            e_hi = self._t(crew.shift.end_s, False)
            if math.isfinite(ed.close_s):
                e_hi = min(e_hi, self._t(ed.close_s, False))
            s_lo = max(s_lo, 0)
            start_var = self.time.CumulVar(routing.Start(v))
            end_var = self.time.CumulVar(routing.End(v))
            start_var.SetRange(s_lo, max(s_lo, min(e_hi, self._t(crew.shift.end_s, False))))
            end_var.SetRange(s_lo, max(e_hi, s_lo))
            routing.AddVariableMinimizedByFinalizer(start_var)
            routing.AddVariableMinimizedByFinalizer(end_var)

    def _breaks(self) -> None:
        """Add the breaks: each starts in a window, not before the crew's day starts."""
        p, routing, manager = self.problem, self.routing, self.manager
        solver = routing.solver()
        visit = [0] * routing.Size()
        for index in range(routing.Size()):
            if not routing.IsEnd(index):
                visit[index] = int(self.service[manager.IndexToNode(index)])
        self.break_names: dict[str, tuple[int, int]] = {}
        for v, crew in enumerate(p.crews):
            intervals = []
            for b_i, brk in enumerate(crew.breaks):
                name = f"break:{v}:{b_i}"
                self.break_names[name] = (v, b_i)
                intervals.append(self._break_interval(solver, v, brk, name))
            if intervals:
                self.time.SetBreakIntervalsOfVehicle(intervals, v, visit)

    def _break_interval(self, solver: Any, v: int, brk: Any, name: str) -> Any:
        ws = sorted(
            (max(self._t(w.start_s, True), 0), self._t(w.end_s, False)) for w in brk.windows
        )
        lo, hi = ws[0][0], max(b for _, b in ws)
        hi = max(hi, lo)
        iv = solver.FixedDurationIntervalVar(lo, hi, _up(brk.duration_s, TIME_SCALE), False, name)
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
        # no lunch before the day starts; a break after the crew is back is allowed (bounding
        # the end as well made OR-Tools' break reasoning reject feasible routes whose service
        # overlaps the break window)
        solver.Add(iv.StartExpr() >= self.time.CumulVar(self.routing.Start(v)))
        return iv

    def _capacity(self) -> None:
        p, routing = self.problem, self.routing
        demand = [0] * self.n_depots + [_up(j.demand, DEMAND_SCALE) for j in self.jobs]
        caps = [_down(c.capacity, DEMAND_SCALE) for c in p.crews]
        dem_cb = routing.RegisterUnaryTransitVector(demand)
        routing.AddDimensionWithVehicleCapacity(dem_cb, 0, caps, True, "load")
        self.load = routing.GetDimensionOrDie("load")

    def _drops(self) -> None:
        """Skills and drop penalties: one dropped job outweighs all travel and lower drops."""
        p, routing, n_dep = self.problem, self.routing, self.n_depots
        counts = [0] * 4
        for j in self.jobs:
            counts[j.priority] += 1
        n = len(self.locs)
        if p.objective == "distance":
            max_arc = int(self.cost_matrix.max()) if self.cost_matrix.size else 0
            bound = max_arc * (n + 2 * len(p.crews))
        else:
            bound = sum(max(self._t(c.shift.end_s, False), 0) for c in p.crews)
        bound += self.reassign * len(self.jobs) + self._fixed_cost() * len(p.crews)
        penalties = []
        acc = bound + 1
        for level in range(4):
            pen = acc
            penalties.append(min(pen, _MAX_PENALTY // max(1, len(self.jobs))))
            acc = pen + counts[level] * pen
        self.penalties = penalties
        for node in range(n_dep, n):
            job = self.jobs[node - n_dep]
            index = self.manager.NodeToIndex(node)
            allowed = [v for v, c in enumerate(p.crews) if job.skill in c.skills]
            if len(allowed) < len(p.crews):
                _allow_vehicles(routing, allowed, index)
            routing.AddDisjunction([index], penalties[job.priority])

    def _fixed_cost(self) -> int:
        """Return the cost of using a crew, objective units (0 unless the spec sets one)."""
        scale = DIST_SCALE if self.problem.objective == "distance" else TIME_SCALE
        return int(round(self.spec.crew_fixed_cost * scale))

    def objective_of(self, routes: list[list[int]]) -> int | None:
        """Return the objective of routes given as job indices per crew (None: unknown job).

        The sum the search minimises: arc costs from the start depot to the end depot of every
        used crew, its fixed cost, and the drop penalty of every job of the model not served
        (no reassignment penalty: only for re-plans, which do not use this).
        """
        pos = {job_i: node for node, job_i in enumerate(self.node_job) if job_i >= 0}
        depot_pos = {d.id: k for k, d in enumerate(self.problem.depots)}
        total, served = 0, set()
        for v, route in enumerate(routes):
            if not route:
                continue
            if any(j not in pos for j in route):
                return None
            crew = self.problem.crews[v]
            nodes = [depot_pos[crew.start_depot], *(pos[j] for j in route)]
            nodes.append(depot_pos[crew.end_depot])
            total += int(self.cost_matrix[nodes[:-1], nodes[1:]].sum()) + self._fixed_cost()
            served.update(route)
        for job_i, job in zip(self.spec.job_indices, self.jobs, strict=True):
            if job_i not in served:
                total += self.penalties[job.priority]
        return total

    def mean_arc_cost(self) -> float:
        """Mean arc cost between distinct nodes (scales the annealing temperatures)."""
        n = self.cost_matrix.shape[0]
        if n < 2:
            return 1.0
        return max(float(self.cost_matrix.sum()) / (n * (n - 1)), 1.0)

    # ------------------------------------------------------------ search

    def search_parameters(self, *, time_limit_s: float | None = None) -> Any:
        """Return the routing search parameters of the spec's worker settings."""
        spec = self.spec
        return search.routing_parameters(
            spec.worker,
            time_limit_s=spec.time_limit_s if time_limit_s is None else time_limit_s,
            solution_limit=spec.solution_limit,
            mean_arc_cost=self.mean_arc_cost(),
            n_jobs=len(self.jobs),
        )

    def initial_assignment(self) -> Any:
        """Return an assignment built from the spec's initial routes, or None."""
        if not self.spec.initial_routes:
            return None
        return self._read_routes(self.spec.initial_routes)

    def _read_routes(self, routes: list[list[int]]) -> Any:
        """Close the model; return the (unchecked) assignment of job routes per crew."""
        pos = {job_i: node for node, job_i in enumerate(self.node_job) if job_i >= 0}
        nodes = [[self.manager.NodeToIndex(pos[j]) for j in r if j in pos] for r in routes]
        self.routing.CloseModelWithParameters(self.search_parameters())
        return self.routing.ReadAssignmentFromRoutes(nodes, True)

    def _search(self) -> tuple[Any, list[int]]:
        """Run the worker's search; return the best assignment and the objective per phase."""
        worker, routing, spec = self.spec.worker, self.routing, self.spec
        initial = self.initial_assignment()
        if initial is not None or not worker.is_ils:
            # a re-plan starts from its routes: ILS has no warm start, so a worker set to
            # ILS runs guided local search from them
            params = self.search_parameters()
            if worker.is_ils:
                params = search.polish_parameters(
                    time_limit_s=spec.time_limit_s, solution_limit=spec.solution_limit
                )
            if initial is not None:
                sol = routing.SolveFromAssignmentWithParameters(initial, params)
            else:
                sol = routing.SolveWithParameters(params)
            return sol, [] if sol is None else [int(sol.ObjectiveValue())]
        return self._iterated(time.perf_counter())

    def _iterated(self, started: float) -> tuple[Any, list[int]]:
        """ILS, then the polish: guided local search, or neighbourhoods on a large day."""
        worker, routing, spec = self.spec.worker, self.routing, self.spec
        decompose = worker.decomposes(spec.day_size)
        ils_s = spec.time_limit_s * (1.0 - worker.polish_fraction)
        if decompose:  # ILS keeps its usual share up to MIN_ILS_S (a 30-s day: 15 s was short)
            ils_s = max(
                spec.time_limit_s * (1.0 - worker.decompose_fraction), min(ils_s, MIN_ILS_S)
            )
        sol = routing.SolveWithIteratedLocalSearch(self.search_parameters(time_limit_s=ils_s))
        left = spec.time_limit_s - (time.perf_counter() - started)
        if sol is None and decompose and left > 0.05:
            # no first solution within the ILS share (a loaded machine): the first solution
            # alone with the time left, then neighbourhoods
            sol = routing.SolveWithParameters(
                search.first_solution_parameters(
                    worker.first_strategy(len(self.jobs)), time_limit_s=left
                )
            )
        if sol is None:
            return None, []
        phases = [int(sol.ObjectiveValue())]
        left = spec.time_limit_s - (time.perf_counter() - started)
        if decompose:
            self.neighbourhood_deadline = started + spec.time_limit_s
            phases.append(phases[0])  # replaced by the neighbourhoods' result
        elif worker.polish_fraction > 0 and left > 0.05:
            sol = self._polish(sol, left)
            phases.append(int(sol.ObjectiveValue()))
            if self.neighbourhood_deadline is not None:
                self.neighbourhood_deadline = started + spec.time_limit_s
        return sol, phases

    def _relaxed(self, started: float) -> dict[str, Any] | None:
        """Return the raw result of PyVRP's break-free plan with breaks placed, or None.

        Only for a day that ends in neighbourhood re-solves, whose worker gives the phase a
        share of the time (:mod:`routing.engine.relaxed`); the neighbourhoods follow.
        """
        worker, spec = self.spec.worker, self.spec
        if not (worker.decomposes(spec.day_size) and worker.relaxed_fraction > 0):
            return None
        if spec.previous_crew or spec.initial_routes:
            return None
        from routing.engine import relaxed  # imports this module

        raw = relaxed.construct(
            self, time_limit_s=spec.time_limit_s * worker.relaxed_fraction, seed=worker.relaxed_seed
        )
        if raw is None:
            return None
        self.neighbourhood_deadline = started + spec.time_limit_s
        jobs = [[j for j, _, _ in r if j >= 0] for r in raw["routes"]]
        objective = self.objective_of(jobs)
        raw.update(objective=objective, phase_objectives=[objective, objective])
        return raw

    def _polish(self, sol: Any, left: float) -> Any:
        """Guided local search from the best ILS solution; on ROUTING_FAIL, mark neighbourhoods.

        Returns the better of the two solutions.
        """
        best = self.routing.solver().Assignment(sol)  # a copy: the next solve reuses sol
        polished = self.routing.SolveFromAssignmentWithParameters(
            best,
            search.polish_parameters(time_limit_s=left, solution_limit=self.spec.solution_limit),
        )
        if polished is None:  # fails at once on large days with breaks (routing.engine.decompose)
            self.neighbourhood_deadline = 0.0
            return best
        return polished if polished.ObjectiveValue() <= best.ObjectiveValue() else best

    def solve(self) -> dict[str, Any]:
        """Run the search and return the raw result (picklable)."""
        started = time.perf_counter()
        self.spec = replace(self.spec, time_limit_s=self.spec.search_time_s(time.time()))
        out: dict[str, Any] = {
            "strategy": self.spec.worker.first_strategy(len(self.jobs)),
            "worker": self.spec.worker.describe(),
        }
        relaxed = self._relaxed(started)
        if relaxed is not None:
            out.update(relaxed, strategy="pyvrp-relaxed", status=0)
        else:
            sol, phases = self._search()
            out.update(status=int(self.routing.status()), phase_objectives=phases)
            out["found"] = sol is not None
            if sol is None:
                out["solve_time_s"] = time.perf_counter() - started
                return out
            out["objective"] = int(sol.ObjectiveValue())
            out["routes"] = self._routes(sol)
            out["breaks"] = self._break_starts(sol)
            out["t0"] = self.t0
        if self.neighbourhood_deadline is not None:
            from routing.engine import decompose  # imports this module

            out, improved = decompose.improve(
                self,
                out,
                deadline=self.neighbourhood_deadline,
                solution_limit=self.spec.solution_limit,
            )
            out["neighbourhoods_improved"] = improved
            out["phase_objectives"] = [*out["phase_objectives"][:-1], out["objective"]]
        out["solve_time_s"] = time.perf_counter() - started
        return out

    def _routes(self, sol: Any) -> list[list[tuple[int, int, int]]]:
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
        return routes

    def _break_starts(self, sol: Any) -> dict[int, list[tuple[int, int]]]:
        breaks: dict[int, list[tuple[int, int]]] = {}
        intervals = sol.IntervalVarContainer()
        for k in range(intervals.Size()):
            el = intervals.Element(k)
            name = el.Var().Name()
            if name in self.break_names and el.PerformedValue():
                v, b_i = self.break_names[name]
                breaks.setdefault(v, []).append((b_i, el.StartValue()))
        return breaks


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
