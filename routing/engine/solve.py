"""Solve a routing :class:`~routing.engine.problem.Problem` (OR-Tools or PyVRP) into a :class:`Plan`.

The solver: a time dimension (travel + service) with job windows (several per job), shift
limits and depot hours, breaks (``SetBreakIntervalsOfVehicle``), a capacity dimension,
skills (``SetAllowedVehiclesForIndex``), optional jobs whose drop penalty grows with the
priority so that one dropped job of a priority costs more than all travel plus every dropped
job of lower priorities; the search follows :mod:`routing.engine.search` (a portfolio of iterated
local searches by default, one per worker, the best plan wins; a day above 600 jobs whose
crews split into skill groups gives each worker its own groups instead and puts their routes
together, :mod:`routing.engine.groupsplit`).

Integer scaling: milliseconds for time, millimetres for distance, thousandths for demand; see
:mod:`routing.engine.or_model`. Travel is rounded up, so every plan is feasible in float seconds.

Reproducibility: OR-Tools' routing search is deterministic for a given model and parameters;
only the wall-clock time limit makes it stop at a load-dependent point. Pass ``solution_limit``
(a number of solutions) with a generous ``time_limit_s`` for runs that are identical on any
machine load; with a time limit alone, two runs agree when the search converges before the
limit (small problems), and otherwise may differ slightly. ``seed`` picks which portfolio
entries the workers use (OR-Tools routing has no random seed of its own; its ILS seeds with 0).

Unassigned jobs carry a reason found by checks (see :func:`solve`); the plan lists the SLA
breaches it implies (:meth:`Plan.sla_breaches`).

Backends (the portfolio): by default (``backend="auto"``) a problem PyVRP can express (time
windows, capacities, optional jobs, several depots: no breaks, no skill only some crews have,
one window per job; see :func:`routing.engine.pyvrp_backend.unsupported`) is solved by PyVRP's
iterated local search, one seed per worker, when PyVRP is installed and no OR-Tools search
option (``settings``, ``metaheuristic``, ``strategy``, ``solution_limit``) is given; every
other problem by OR-Tools. Both give the same raw routes, so the :class:`Plan` and the
reasons of unassigned jobs are built the same way; ``plan.meta['backend']`` says which ran
and why.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass, field
from typing import Any

from geo311.errors import RoutingError
from routing.engine import groupsplit, pyvrp_backend
from routing.engine import or_model as _ortools
from routing.engine.checks import check_routes
from routing.engine.plan import DAY_S, Plan, Route, Step, Summary, Unassigned
from routing.engine.problem import Break, Crew, Problem
from routing.engine.reasons import (
    CAPACITY_FULL,
    NO_SKILL,
    NO_TIME,
    NOT_FITTED,
    OVER_CAPACITY,
    TOLERANCE_S,
    UNREACHABLE,
    dropped_reason,
    precheck,
)
from routing.engine.search import SearchSettings, classic_settings, default_settings

BACKENDS = ("auto", "ortools", "pyvrp")

__all__ = [
    "SolveParams",
    "BACKENDS",
    "CAPACITY_FULL",
    "DAY_S",
    "NOT_FITTED",
    "NO_SKILL",
    "NO_TIME",
    "OVER_CAPACITY",
    "TOLERANCE_S",
    "UNREACHABLE",
    "Plan",
    "Route",
    "Step",
    "Summary",
    "Unassigned",
    "build_plan",
    "check_routes",
    "choose_backend",
    "default_workers",
    "precheck",
    "solve",
]


def default_workers() -> int:
    """Return the default number of parallel searches: 2 when two cores are available."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


@dataclass(frozen=True, kw_only=True)
class SolveParams:
    """How :func:`solve` searches: its time limit, seed, workers, search settings, backend.

    Parameters
    ----------
    time_limit_s : float
        Wall-clock limit of each search, seconds (> 0).
    seed : int
        Picks the portfolio entries of the workers: worker ``k`` uses entry
        ``(seed + k) % len(portfolio)`` of the settings.
    workers : int, optional
        Independent searches run at once (worker 0 in this process, the others in spawned
        processes); the best objective wins, ties to the lowest worker. Default
        :func:`default_workers`.
    solution_limit : int, optional
        Stop each search after this many solutions: with a generous time limit the plan is then
        the same on any machine load.
    metaheuristic : str, optional
        Use the classic settings with this OR-Tools metaheuristic (``GUIDED_LOCAL_SEARCH``;
        ``NONE`` for plain local search) and five first-solution strategies instead of
        ``settings``.
    strategy : str, optional
        Force the first-solution strategy of every worker (an OR-Tools
        ``FirstSolutionStrategy`` name).
    settings : SearchSettings, optional
        The search portfolio; default :func:`routing.engine.search.default_settings` (iterated
        local search), the settings of ``geo311 plan``. Stored in ``plan.meta['search']``.
    crew_fixed_cost : float
        Cost of sending a crew out, in objective units (seconds of driving; metres for a
        distance objective); > 0 makes the solver use fewer crews when that saves more.
    validate : bool
        Run :meth:`Problem.validate` first.
    backend : str
        ``"auto"`` (PyVRP where it can express the problem and no OR-Tools option is given,
        else OR-Tools), ``"ortools"`` or ``"pyvrp"`` (an error when PyVRP cannot express the
        problem; ``solution_limit`` is then its number of iterations). See
        :func:`choose_backend`.
    """

    time_limit_s: float = 10.0
    seed: int = 0
    workers: int | None = None
    solution_limit: int | None = None
    metaheuristic: str | None = None
    strategy: str | None = None
    settings: SearchSettings | None = None
    crew_fixed_cost: float = 0.0
    validate: bool = True
    backend: str = "auto"


def solve(
    problem: Problem,
    params: SolveParams | None = None,
    *,
    _spec_extra: dict[str, Any] | None = None,
) -> Plan:
    """Solve a routing problem and return the plan.

    Parameters
    ----------
    problem
        The problem (validated here unless ``params.validate`` is False).
    params
        The search options (:class:`SolveParams`; its defaults when omitted).

    Returns
    -------
    Plan
        Routes for every crew and the unassigned jobs with their reasons.

    Raises
    ------
    RoutingError
        When the problem is invalid or an option is out of range.
    """
    p = params or SolveParams()
    time_limit_s, seed, solution_limit = p.time_limit_s, p.seed, p.solution_limit
    settings, metaheuristic, strategy = p.settings, p.metaheuristic, p.strategy
    crew_fixed_cost = p.crew_fixed_cost
    n_workers = _check_options(
        time_limit_s=time_limit_s, workers=p.workers, crew_fixed_cost=crew_fixed_cost
    )
    chosen = _settings(settings, metaheuristic, strategy)
    if p.validate:
        problem.validate()
    started = time.perf_counter()
    # without a solution limit the time limit bounds the whole solve, workers' start-up and
    # model building included (with one, runs stay identical: no clock cuts them short)
    deadline = time.time() + time_limit_s if solution_limit is None else None
    keep, pre = precheck(problem)
    use, why = choose_backend(
        problem,
        keep,
        backend=p.backend,
        ortools_options=settings is not None or metaheuristic is not None or strategy is not None,
        solution_limit=solution_limit,
        replan=bool(_spec_extra),
    )
    budget = _Budget(
        n_workers=n_workers,
        time_limit_s=time_limit_s,
        seed=seed,
        deadline=deadline,
        solution_limit=solution_limit,
        crew_fixed_cost=crew_fixed_cost,
        started=started,
    )
    if use == "pyvrp" and keep and problem.crews:
        plan = _solve_pyvrp(problem, keep, pre, budget, why=why)
        if plan is not None:
            return plan
        why = "PyVRP found no feasible plan: OR-Tools searched after it"
        use = "ortools"
    specs = _search_specs(keep, budget, settings=chosen, extra=_spec_extra)
    results, best, split = _search_day(problem, keep, specs)
    elapsed = time.perf_counter() - started
    meta = {
        "time_limit_s": time_limit_s,
        "seed": seed,
        "workers": n_workers,
        "solution_limit": solution_limit,
        **_ortools_meta(chosen, specs, results, best, seed=seed),
        **_split_meta(problem, split, best),
        "crew_fixed_cost": crew_fixed_cost,
        "time_unit": "ms",
        "backend": "ortools",
        "backend_reason": why,
    }
    return build_plan(problem, best, pre, keep, solve_time_s=elapsed, meta=meta)


def _search_day(
    problem: Problem, keep: list[int], specs: list[_ortools.Spec]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[groupsplit.Part] | None]:
    """Run the OR-Tools searches of a solve; return their results, the best and the split.

    A large day whose crews split into skill groups gives each worker its own groups and
    merges their routes (:mod:`routing.engine.groupsplit`); otherwise every worker solves the
    whole day and the lowest objective wins.
    """
    if not keep or not problem.crews:
        return [], None, None
    split = groupsplit.parts(problem, specs)
    if split is not None:
        results = _run_parallel(problem, split, groupsplit.run_part, groupsplit.group_worker)
        return results, groupsplit.merge(problem, specs[0], split, results), split
    results = _run_searches(problem, specs)
    found = [r for r in results if r.get("found")]
    return results, (min(found, key=lambda r: r["objective"]) if found else None), None


def _split_meta(
    problem: Problem, split: list[groupsplit.Part] | None, best: dict[str, Any] | None
) -> dict[str, Any]:
    """Return the group split's part of a plan's meta: each worker's crews, the parts kept."""
    if split is None:
        return {}
    return {
        "split": {
            "crews": [[problem.crews[v].id for v in part.crews] for part in split],
            "kept_workers": best["parts"] if best else [],
        }
    }


def _ortools_meta(
    chosen: SearchSettings,
    specs: list[_ortools.Spec],
    results: list[dict[str, Any]],
    best: dict[str, Any] | None,
    *,
    seed: int,
) -> dict[str, Any]:
    """Return the OR-Tools search's part of a plan's meta: settings, objectives, winner."""
    return {
        "metaheuristic": chosen.worker(0, seed=seed).metaheuristic,
        "strategies": [s.strategy for s in specs],
        "objectives": [r.get("objective") for r in results],
        "winner": best["strategy"] if best else None,
        "winner_worker": results.index(best) if best in results else None,
        "search": chosen.describe(workers=len(specs), seed=seed),
    }


def choose_backend(
    problem: Problem,
    keep: list[int],
    *,
    backend: str = "auto",
    ortools_options: bool = False,
    solution_limit: int | None = None,
    replan: bool = False,
) -> tuple[str, str]:
    """Choose the search backend of a solve.

    Parameters
    ----------
    problem
        The problem.
    keep
        The jobs the search gets (:func:`precheck`).
    backend
        ``"auto"``, ``"ortools"`` or ``"pyvrp"``.
    ortools_options
        Whether OR-Tools search settings were given (``auto`` then keeps OR-Tools).
    solution_limit
        The solve's solution limit (``auto`` keeps OR-Tools' reproducible solution count).
    replan
        Whether the solve re-plans from routes (warm start, reassignment cost: OR-Tools only).

    Returns
    -------
    (str, str)
        ``"pyvrp"`` or ``"ortools"``, and why.

    Raises
    ------
    RoutingError
        When ``backend`` is unknown, or ``"pyvrp"`` cannot solve the problem.
    """
    if backend not in BACKENDS:
        raise RoutingError(f"backend {backend!r} is unknown: use one of {BACKENDS}")
    if backend == "ortools":
        return "ortools", "asked for"
    lacking = pyvrp_backend.unsupported(problem, keep)
    if replan:
        lacking = "a re-plan starts from routes (OR-Tools only)"
    elif not pyvrp_backend.available():
        lacking = "PyVRP is not installed (pip install pyvrp)"
    if backend == "pyvrp":
        if lacking:
            raise RoutingError(f"backend 'pyvrp' cannot solve this problem: {lacking}")
        return "pyvrp", "asked for"
    if lacking:
        return "ortools", lacking
    if ortools_options or solution_limit is not None:
        return "ortools", "OR-Tools search options or a solution limit given"
    return "pyvrp", "PyVRP expresses the problem (no breaks, no skills, one window per job)"


@dataclass(frozen=True)
class _Budget:
    """The checked search options of one :func:`solve`, shared by its backends.

    ``deadline`` is the wall-clock end of the whole solve (None with a solution limit);
    ``started`` its ``time.perf_counter()`` start.
    """

    n_workers: int
    time_limit_s: float
    seed: int
    deadline: float | None
    solution_limit: int | None
    crew_fixed_cost: float
    started: float


def _solve_pyvrp(
    problem: Problem,
    keep: list[int],
    pre: dict[int, Unassigned],
    budget: _Budget,
    *,
    why: str,
) -> Plan | None:
    """Run one PyVRP search per worker (seeds ``seed + k``); the plan of the best, or None."""
    n_workers, time_limit_s, seed = budget.n_workers, budget.time_limit_s, budget.seed
    deadline, iterations = budget.deadline, budget.solution_limit
    crew_fixed_cost, started = budget.crew_fixed_cost, budget.started
    specs = [
        pyvrp_backend.PyvrpSpec(
            job_indices=keep,
            time_limit_s=time_limit_s,
            seed=seed + k,
            crew_fixed_cost=crew_fixed_cost,
            deadline=deadline,
            max_iterations=iterations,
        )
        for k in range(n_workers)
    ]
    results = _run_parallel(problem, specs, pyvrp_backend.run_search, pyvrp_backend.search_worker)
    found = [r for r in results if r.get("found")]
    if not found:
        return None
    best = min(found, key=lambda r: r["objective"])
    meta = {
        "time_limit_s": time_limit_s,
        "seed": seed,
        "workers": n_workers,
        "solution_limit": iterations,
        "metaheuristic": "PYVRP_ILS",
        "strategies": [r.get("strategy", "pyvrp") for r in results],
        "objectives": [r.get("objective") for r in results],
        "winner": "pyvrp",
        "winner_worker": results.index(best),
        "search": {"name": "pyvrp", "workers": [s.seed for s in specs], **best["worker"]},
        "iterations": [r.get("iterations") for r in results],
        "modes": [r.get("mode") for r in results],
        "crew_fixed_cost": crew_fixed_cost,
        "time_unit": "ms",
        "backend": "pyvrp",
        "backend_reason": why,
    }
    elapsed = time.perf_counter() - started
    return build_plan(problem, best, pre, keep, solve_time_s=elapsed, meta=meta)


def _check_options(*, time_limit_s: float, workers: int | None, crew_fixed_cost: float) -> int:
    """Check the search options of :func:`solve`; return the number of workers."""
    if not time_limit_s > 0:
        raise RoutingError(f"time_limit_s must be > 0, got {time_limit_s}")
    n_workers = default_workers() if workers is None else workers
    if n_workers < 1:
        raise RoutingError(f"workers must be >= 1, got {workers}")
    if not crew_fixed_cost >= 0:
        raise RoutingError(f"crew_fixed_cost must be >= 0, got {crew_fixed_cost}")
    return n_workers


def _settings(
    settings: SearchSettings | None, metaheuristic: str | None, strategy: str | None
) -> SearchSettings:
    """Return the settings of a solve: explicit, classic (a metaheuristic named) or default."""
    if settings is not None and metaheuristic is not None:
        raise RoutingError("give either settings or metaheuristic, not both")
    if metaheuristic is not None:
        if metaheuristic != "NONE" and not hasattr(_ortools.LSM, metaheuristic):
            raise RoutingError(f"metaheuristic {metaheuristic!r} is not an OR-Tools metaheuristic")
        chosen = classic_settings(metaheuristic)
    else:
        chosen = settings if settings is not None else default_settings()
    if strategy is not None:
        if not hasattr(_ortools.FSS, strategy):
            raise RoutingError(f"strategy {strategy!r} is not an OR-Tools first-solution strategy")
        chosen = chosen.with_strategy(strategy)
    return chosen


def _search_specs(
    keep: list[int],
    budget: _Budget,
    *,
    settings: SearchSettings,
    extra: dict[str, Any] | None,
) -> list[_ortools.Spec]:
    """One search spec per worker: worker ``k`` takes portfolio entry ``(seed + k)``."""
    return [
        _ortools.Spec(
            job_indices=keep,
            time_limit_s=budget.time_limit_s,
            worker=settings.worker(k, seed=budget.seed),
            solution_limit=budget.solution_limit,
            crew_fixed_cost=budget.crew_fixed_cost,
            deadline=budget.deadline,
            **dict(extra or {}),
        )
        for k in range(budget.n_workers)
    ]


def _run_searches(problem: Problem, specs: list[_ortools.Spec]) -> list[dict[str, Any]]:
    return _run_parallel(problem, specs, _ortools.run_search, _ortools.search_worker)


def _run_parallel(
    problem: Problem, specs: list[Any], run: Any, worker: Any
) -> list[dict[str, Any]]:
    """Run ``run(problem, specs[0])`` here and every other spec in a spawned ``worker``."""
    if len(specs) == 1:
        return [run(problem, specs[0])]
    # The OR-Tools search holds the GIL, so the other workers are started (and sent their
    # data) before the in-process search begins; a pool's feeder thread would stall.
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for spec in specs[1:]:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=worker, args=(problem, spec, send), daemon=True)
        proc.start()
        send.close()
        procs.append((proc, recv))
    results = [run(problem, specs[0])]
    for (proc, recv), spec in zip(procs, specs[1:], strict=True):
        try:
            results.append(recv.recv())
        except EOFError:
            name = getattr(spec, "strategy", "pyvrp")
            results.append({"found": False, "strategy": name, "error": "worker died"})
        proc.join()
    return results


# ---------------------------------------------------------------- plan building


def build_plan(
    problem: Problem,
    raw: dict[str, Any] | None,
    pre: dict[int, Unassigned],
    keep: list[int],
    *,
    solve_time_s: float,
    meta: dict[str, Any],
) -> Plan:
    """Turn a raw search result into a :class:`Plan` (recomputing times in float seconds).

    Parameters
    ----------
    problem
        The solved problem.
    raw
        Output of :func:`routing.engine.or_model.run_search`, or None when no search found anything.
    pre
        Unassigned jobs from :func:`precheck`.
    keep
        Job indices given to the solver.
    solve_time_s
        Wall-clock time to report.
    meta
        Solver details to store in the plan.

    Returns
    -------
    Plan
        The plan, with violations from an independent float check.
    """
    routes: list[Route] = []
    served: set[int] = set()
    for v, crew in enumerate(problem.crews):
        raw_steps = raw["routes"][v] if raw else None
        if not raw_steps or len(raw_steps) <= 2:
            routes.append(_empty_route(problem, crew))
            continue
        assert raw is not None
        routes.append(_crew_route(problem, crew, raw, v, served))
    unassigned = dict(pre)
    for i in (i for i in keep if i not in served):
        unassigned[i] = dropped_reason(problem, i, routes, served)
    violations = check_routes(problem, routes)
    summary = Summary.of_routes(
        routes,
        jobs_unassigned=len(unassigned),
        solve_time_s=solve_time_s,
        objective=int(raw["objective"]) if raw else 0,
        is_feasible=not violations,
    )
    starts = [c.shift.start_s for c in problem.crews]
    return Plan(
        origin=problem.origin,
        summary=summary,
        routes=tuple(routes),
        unassigned=tuple(unassigned[i] for i in sorted(unassigned)),
        violations=tuple(violations),
        next_shift_start_s=(min(starts) if starts else 0.0) + DAY_S,
        meta=meta,
    )


def _empty_route(problem: Problem, crew: Crew) -> Route:
    """Return the route of a crew without jobs: start and end when its day could begin."""
    sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
    start_t = max(crew.shift.start_s, sd.open_s)
    return Route(
        crew_id=crew.id,
        steps=(
            Step("start", start_t, start_t, location_index=sd.location_index),
            Step("end", start_t, start_t, location_index=ed.location_index),
        ),
    )


@dataclass
class _RouteBuilder:
    """The steps of one crew's route and its running totals while they are rebuilt."""

    steps: list[Step] = field(default_factory=list)
    distance_m: float = 0.0
    travel_s: float = 0.0
    service_s: float = 0.0
    waiting_s: float = 0.0
    break_s: float = 0.0
    load: float = 0.0

    def step(self, kind: str, arrival_s: float, departure_s: float, **extra: Any) -> Step:
        """Return a step carrying the current load and cumulated distance and travel."""
        return Step(
            kind,
            arrival_s,
            departure_s,
            load=self.load,
            distance_m=self.distance_m,
            duration_s=self.travel_s,
            **extra,
        )

    def drive(
        self,
        clock: float,
        travel: float,
        target: float,
        pending: list[tuple[float, Break]],
        location_index: int,
    ) -> float:
        """Drive one leg, taking the breaks that start before ``target``; return the arrival.

        The crew drives until a break starts (or arrives and waits), pauses, drives on.
        """
        pos, remaining = clock, travel
        while pending and pending[0][0] < target - TOLERANCE_S:
            b_start, brk = pending.pop(0)
            b_start = max(b_start, pos)
            remaining -= min(remaining, b_start - pos)
            self.steps.append(
                self.step(
                    "break",
                    b_start,
                    b_start + brk.duration_s,
                    service_s=brk.duration_s,
                    location_index=location_index if remaining <= 0 else None,
                    break_id=brk.id,
                )
            )
            self.break_s += brk.duration_s
            pos = b_start + brk.duration_s
        return pos + remaining

    def breaks_after_last_job(self, pending: list[tuple[float, Break]]) -> None:
        """Insert the breaks left after the drive back before the end, moving the end later."""
        for b_start, brk in pending:
            self.steps.insert(
                len(self.steps) - 1,
                self.step(
                    "break",
                    b_start,
                    b_start + brk.duration_s,
                    service_s=brk.duration_s,
                    break_id=brk.id,
                ),
            )
            self.break_s += brk.duration_s
            end = self.steps[-1]
            new_end = max(end.arrival_s, b_start + brk.duration_s)
            self.steps[-1] = self.step("end", new_end, new_end, location_index=end.location_index)


def _crew_route(
    problem: Problem, crew: Crew, raw: dict[str, Any], v: int, served: set[int]
) -> Route:
    """Rebuild crew ``v``'s route from the solver's service starts in float seconds.

    Adds the jobs it serves to ``served``.
    """
    d, dist = problem.durations_s, problem.distances_m
    t0 = raw["t0"]
    raw_steps = raw["routes"][v]
    pending = sorted(
        (t0 + s / _ortools.TIME_SCALE, crew.breaks[b_i]) for b_i, s in raw["breaks"].get(v, [])
    )
    solver_start = [t0 + c / _ortools.TIME_SCALE for _, c, _ in raw_steps]
    b = _RouteBuilder()
    clock = solver_start[0]
    loc = problem.depot(crew.start_depot).location_index
    end_loc = problem.depot(crew.end_depot).location_index
    b.steps.append(Step("start", clock, clock, location_index=loc))
    for k, (job_i, _, _) in enumerate(raw_steps[1:], start=1):
        is_end = k == len(raw_steps) - 1
        nxt_loc = end_loc if is_end else problem.jobs[job_i].location_index
        travel = float(d[loc, nxt_loc])
        b.distance_m += float(dist[loc, nxt_loc])
        b.travel_s += travel
        arrival = b.drive(clock, travel, solver_start[k], pending, nxt_loc)
        if is_end:
            b.steps.append(b.step("end", arrival, arrival, location_index=nxt_loc))
            break
        job = problem.jobs[job_i]
        served.add(job_i)
        wait = max(0.0, solver_start[k] - arrival)
        b.waiting_s += wait
        b.service_s += job.service_s
        b.load += job.demand
        clock = arrival + wait + job.service_s
        b.steps.append(
            b.step(
                "job",
                arrival,
                clock,
                waiting_s=wait,
                service_s=job.service_s,
                location_index=nxt_loc,
                job_id=job.id,
                ref=job.ref,
            )
        )
        loc = nxt_loc
    b.breaks_after_last_job(pending)
    day_h = (b.steps[-1].arrival_s - b.steps[0].departure_s) / 3600.0
    return Route(
        crew_id=crew.id,
        steps=tuple(b.steps),
        travel_s=b.travel_s,
        distance_m=b.distance_m,
        service_s=b.service_s,
        waiting_s=b.waiting_s,
        break_s=b.break_s,
        cost=crew.cost_per_hour * day_h,
    )
