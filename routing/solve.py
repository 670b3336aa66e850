"""Solve a :class:`~routing.problem.Problem` with OR-Tools and return a VROOM-shaped :class:`Plan`.

The solver: a time dimension (travel + service) with job windows (several per job), shift
limits and depot hours, breaks (``SetBreakIntervalsOfVehicle``), a capacity dimension,
skills (``SetAllowedVehiclesForIndex``), optional jobs whose drop penalty grows with the
priority so that one dropped job of a priority costs more than all travel plus every dropped
job of lower priorities; the search follows :mod:`routing.search` (a portfolio of iterated
local searches by default, one per worker, the best plan wins).

Integer scaling: milliseconds for time, millimetres for distance, thousandths for demand; see
:mod:`routing._ortools`. Travel is rounded up, so every plan is feasible in float seconds.

Reproducibility: OR-Tools' routing search is deterministic for a given model and parameters;
only the wall-clock time limit makes it stop at a load-dependent point. Pass ``solution_limit``
(a number of solutions) with a generous ``time_limit_s`` for runs that are identical on any
machine load; with a time limit alone, two runs agree when the search converges before the
limit (small problems), and otherwise may differ slightly. ``seed`` picks which portfolio
entries the workers use (OR-Tools routing has no random seed of its own; its ILS seeds with 0).

Unassigned jobs carry a reason found by checks (see :func:`solve`); the plan lists the SLA
breaches it implies (:meth:`Plan.sla_breaches`).
"""

from __future__ import annotations

import itertools
import math
import multiprocessing
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from geo311.errors import RoutingError
from routing import _ortools
from routing.problem import PRIORITY_NAMES, Crew, Job, Problem
from routing.search import SearchSettings, classic_settings, default_settings

TOLERANCE_S = 1e-6
DAY_S = 86400.0

# reason codes of unassigned jobs
NO_SKILL = "no_skill"
OVER_CAPACITY = "demand_above_capacity"
UNREACHABLE = "unreachable_in_shift"
CAPACITY_FULL = "capacity_full"
NO_TIME = "not_enough_time"
NOT_FITTED = "not_fitted"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a route (VROOM style).

    Attributes
    ----------
    type : str
        ``start``, ``job``, ``break`` or ``end``.
    arrival_s, departure_s : float
        Arrival and departure (seconds from the origin); for a job, service starts at
        ``arrival_s + waiting_s``.
    waiting_s : float
        Time waited before service (a window not yet open).
    service_s : float
        Time on site (or the break's length).
    load : float
        Load carried after the step (cumulated demand served so far).
    location_index : int or None
        Matrix index of the place (``None`` for a break).
    job_id, ref, break_id : str or None
        The job (and its work-order ref) or the break.
    distance_m, duration_s : float
        Cumulated distance and travel time from the route start up to this step.
    """

    type: str
    arrival_s: float
    departure_s: float
    waiting_s: float = 0.0
    service_s: float = 0.0
    load: float = 0.0
    location_index: int | None = None
    job_id: str | None = None
    ref: str | None = None
    break_id: str | None = None
    distance_m: float = 0.0
    duration_s: float = 0.0

    @property
    def service_start_s(self) -> float:
        """When service (or the break) starts."""
        return self.arrival_s + self.waiting_s


@dataclass(frozen=True, slots=True)
class Route:
    """One crew's day: its steps and totals.

    Attributes
    ----------
    crew_id : str
        The crew.
    steps : tuple of Step
        ``start``, jobs and breaks in order, ``end``.
    travel_s, distance_m, service_s, waiting_s, break_s : float
        Totals of the route.
    cost : float
        ``cost_per_hour`` times the working day (start to end) in hours.
    """

    crew_id: str
    steps: tuple[Step, ...]
    travel_s: float = 0.0
    distance_m: float = 0.0
    service_s: float = 0.0
    waiting_s: float = 0.0
    break_s: float = 0.0
    cost: float = 0.0

    @property
    def job_ids(self) -> list[str]:
        """Ids of the jobs served, in order."""
        return [s.job_id for s in self.steps if s.type == "job" and s.job_id is not None]

    @property
    def duration_s(self) -> float:
        """Working day from start departure to end arrival."""
        return self.steps[-1].arrival_s - self.steps[0].departure_s if self.steps else 0.0


@dataclass(frozen=True, slots=True)
class Unassigned:
    """A job the plan leaves out, with the reason found by checks.

    Attributes
    ----------
    job_id : str
        The job.
    code : str
        Reason code: ``no_skill``, ``demand_above_capacity``, ``unreachable_in_shift``,
        ``capacity_full``, ``not_enough_time`` or ``not_fitted``.
    reason : str
        Human-readable reason with the numbers.
    priority : int
        The job's priority.
    ref : str or None
        Work-order id.
    location_index : int
        Matrix index of the job.
    sla_due_s : float or None
        SLA due time (seconds from the origin).
    """

    job_id: str
    code: str
    reason: str
    priority: int = 0
    ref: str | None = None
    location_index: int = -1
    sla_due_s: float | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """Plan totals (VROOM's ``summary``).

    Attributes
    ----------
    cost : float
        Crew cost (sum of ``cost_per_hour`` x working hours of the used crews).
    routes : int
        Crews with at least one job.
    travel_s, distance_m, service_s, waiting_s, break_s : float
        Totals over all routes.
    jobs_served, jobs_unassigned : int
        Counts.
    solve_time_s : float
        Wall-clock time of the solve.
    objective : int
        OR-Tools objective (scaled integers, penalties included).
    is_feasible : bool
        Whether the independent float check found no violation.
    """

    cost: float
    routes: int
    travel_s: float
    distance_m: float
    service_s: float
    waiting_s: float
    break_s: float
    jobs_served: int
    jobs_unassigned: int
    solve_time_s: float
    objective: int
    is_feasible: bool

    @classmethod
    def of_routes(
        cls,
        routes: Sequence[Route],
        *,
        jobs_unassigned: int,
        solve_time_s: float,
        objective: int,
        is_feasible: bool,
    ) -> Summary:
        """Return the totals of a plan's routes.

        Parameters
        ----------
        routes : sequence of Route
            Every crew's route (crews without jobs count for nothing but travel totals).
        jobs_unassigned : int, keyword-only
            Number of unassigned jobs.
        solve_time_s : float, keyword-only
            Wall-clock time of the solve.
        objective : int, keyword-only
            OR-Tools objective.
        is_feasible : bool, keyword-only
            Whether the routes passed the independent check.

        Returns
        -------
        Summary
            The totals.
        """
        used = [r for r in routes if r.job_ids]
        return cls(
            cost=sum(r.cost for r in used),
            routes=len(used),
            travel_s=sum(r.travel_s for r in routes),
            distance_m=sum(r.distance_m for r in routes),
            service_s=sum(r.service_s for r in routes),
            waiting_s=sum(r.waiting_s for r in routes),
            break_s=sum(r.break_s for r in used),
            jobs_served=sum(len(r.job_ids) for r in routes),
            jobs_unassigned=jobs_unassigned,
            solve_time_s=solve_time_s,
            objective=objective,
            is_feasible=is_feasible,
        )


@dataclass(frozen=True)
class Plan:
    """A solved day: summary, one route per crew, unassigned jobs, checks.

    Attributes
    ----------
    origin : datetime
        Time 0 of every ``*_s`` value.
    summary : Summary
        Totals.
    routes : tuple of Route
        One per crew, in the problem's crew order (empty routes have start and end only).
    unassigned : tuple of Unassigned
        Jobs left out, each with its reason.
    violations : tuple of str
        Constraint violations found by the float re-check (empty for a feasible plan).
    next_shift_start_s : float
        Start of the next shift (default: the earliest shift start plus one day); SLA breaches
        are counted up to it.
    meta : dict
        Solver details (strategy, workers, time limit, seed).
    """

    origin: datetime
    summary: Summary
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...]
    violations: tuple[str, ...] = ()
    next_shift_start_s: float = DAY_S
    meta: dict[str, Any] = field(default_factory=dict)

    def is_feasible(self) -> bool:
        """Return whether every route respects windows, shifts, breaks, skills and capacity."""
        return not self.violations

    def route(self, crew_id: str) -> Route:
        """Return the route of a crew.

        Raises
        ------
        RoutingError
            When the plan has no route for ``crew_id``.
        """
        for r in self.routes:
            if r.crew_id == crew_id:
                return r
        raise RoutingError(f"plan has no route for crew {crew_id!r}")

    def sla_breaches(self, next_shift_start_s: float | None = None) -> list[Unassigned]:
        """Return the unassigned jobs whose SLA falls due before the next shift starts.

        Parameters
        ----------
        next_shift_start_s : float, optional
            Seconds from the origin; defaults to :attr:`next_shift_start_s`.

        Returns
        -------
        list of Unassigned
            Sorted by due time: the work a dispatcher must add a crew or overtime for.
        """
        limit = self.next_shift_start_s if next_shift_start_s is None else next_shift_start_s
        out = [u for u in self.unassigned if u.sla_due_s is not None and u.sla_due_s < limit]
        return sorted(out, key=lambda u: (u.sla_due_s or 0.0, u.job_id))

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data (VROOM's shape plus clock times as ISO strings)."""

        def clock(t: float | None) -> str | None:
            return None if t is None else (self.origin + timedelta(seconds=t)).isoformat()

        routes = []
        for r in self.routes:
            d = asdict(r)
            for s in d["steps"]:
                s["arrival"] = clock(s["arrival_s"])
                s["departure"] = clock(s["departure_s"])
            routes.append(d)
        unassigned = []
        for u in self.unassigned:
            d = asdict(u)
            d["sla_due"] = clock(u.sla_due_s)
            unassigned.append(d)
        return {
            "origin": self.origin.isoformat(),
            "summary": asdict(self.summary),
            "routes": routes,
            "unassigned": unassigned,
            "sla_breaches": [u.job_id for u in self.sla_breaches()],
            "violations": list(self.violations),
            "next_shift_start_s": self.next_shift_start_s,
            "next_shift_start": clock(self.next_shift_start_s),
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        """Rebuild a plan from :meth:`to_dict` output.

        Raises
        ------
        RoutingError
            When a required key is missing or the origin is not an aware ISO datetime.
        """
        try:
            origin = datetime.fromisoformat(data["origin"])
            if origin.tzinfo is None:
                raise RoutingError("plan 'origin' must be an aware ISO datetime")
            step_keys = set(Step.__dataclass_fields__)
            routes = tuple(
                Route(
                    **{k: v for k, v in r.items() if k != "steps"},
                    steps=tuple(
                        Step(**{k: v for k, v in s.items() if k in step_keys}) for s in r["steps"]
                    ),
                )
                for r in data["routes"]
            )
            un_keys = set(Unassigned.__dataclass_fields__)
            unassigned = tuple(
                Unassigned(**{k: v for k, v in u.items() if k in un_keys})
                for u in data["unassigned"]
            )
            return cls(
                origin=origin,
                summary=Summary(**data["summary"]),
                routes=routes,
                unassigned=unassigned,
                violations=tuple(data.get("violations", ())),
                next_shift_start_s=float(data.get("next_shift_start_s", DAY_S)),
                meta=dict(data.get("meta", {})),
            )
        except (KeyError, TypeError) as exc:
            raise RoutingError(f"plan data is incomplete or malformed: {exc}") from exc


# ---------------------------------------------------------------- prechecks


def _alone_fits(problem: Problem, crew: Crew, job: Job) -> tuple[bool, str]:
    """Whether ``crew`` can go depot -> job -> depot within shift, depot hours, window, breaks."""
    d = problem.durations_s
    sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
    leave = max(crew.shift.start_s, sd.open_s)
    latest_back = min(crew.shift.end_s, ed.close_s)
    to_job = float(d[sd.location_index, job.location_index])
    back = float(d[job.location_index, ed.location_index])
    windows = sorted(job.windows, key=lambda w: w.start_s) or [crew.shift]
    best_back = math.inf
    # every break is taken either before leaving for the job or after serving it
    for placement in itertools.product((0, 1), repeat=len(crew.breaks)):
        clock: float | None = leave
        for brk, where in zip(crew.breaks, placement, strict=True):
            if where == 0 and clock is not None:
                clock = _take_break(clock, brk.windows, brk.duration_s)
        if clock is None:
            continue
        arrive = clock + to_job
        start = next(
            (max(arrive, w.start_s) for w in windows if max(arrive, w.start_s) <= w.end_s), None
        )
        if start is None:
            continue
        clock = start + job.service_s
        for brk, where in zip(crew.breaks, placement, strict=True):
            if where == 1 and clock is not None:
                clock = _take_break(clock, brk.windows, brk.duration_s)
        if clock is None:
            continue
        best_back = min(best_back, clock + back)
    if best_back <= latest_back + TOLERANCE_S:
        return True, ""
    w_txt = ", ".join(f"{_hm(problem, w.start_s)}-{_hm(problem, w.end_s)}" for w in windows)
    return False, (
        f"crew {crew.id!r} (shift {_hm(problem, crew.shift.start_s)}-"
        f"{_hm(problem, latest_back)}): {to_job / 60:.1f} min there, {job.service_s / 60:.1f} min "
        f"on site within {w_txt}, {back / 60:.1f} min back"
    )


def _take_break(clock: float, windows: tuple[Any, ...], duration_s: float) -> float | None:
    for w in sorted(windows, key=lambda w: w.start_s):
        start = max(clock, w.start_s)
        if start <= w.end_s:
            return start + duration_s
    return None


def _hm(problem: Problem, t_s: float) -> str:
    if not math.isfinite(t_s):
        return "open end"
    return problem.clock(t_s).strftime("%H:%M")


def precheck(problem: Problem) -> tuple[list[int], dict[int, Unassigned]]:
    """Split the jobs into those the solver gets and those no crew can ever do.

    Parameters
    ----------
    problem : Problem
        A validated problem.

    Returns
    -------
    (list of int, dict)
        Indices of jobs to solve, and index -> :class:`Unassigned` (reasons ``no_skill``,
        ``demand_above_capacity``, ``unreachable_in_shift``) for the others.
    """
    keep: list[int] = []
    out: dict[int, Unassigned] = {}
    for i, job in enumerate(problem.jobs):

        def drop(code: str, reason: str, job: Job = job, i: int = i) -> None:
            out[i] = _unassigned(job, code, reason)

        crews = [c for c in problem.crews if job.skill in c.skills]
        if not crews:
            drop(NO_SKILL, f"no crew has the skill {job.skill!r}")
            continue
        if all(job.demand > c.capacity + 1e-9 for c in crews):
            caps = ", ".join(f"{c.id}={c.capacity:g}" for c in crews)
            drop(
                OVER_CAPACITY,
                f"demand {job.demand:g} is above the capacity of every crew with skill "
                f"{job.skill!r} ({caps})",
            )
            continue
        checks = [_alone_fits(problem, c, job) for c in crews if job.demand <= c.capacity + 1e-9]
        if not any(ok for ok, _ in checks):
            drop(
                UNREACHABLE,
                "cannot be reached and served within any shift or window even alone: "
                + "; ".join(msg for _, msg in checks),
            )
            continue
        keep.append(i)
    return keep, out


def _unassigned(job: Job, code: str, reason: str) -> Unassigned:
    return Unassigned(
        job_id=job.id,
        code=code,
        reason=reason,
        priority=job.priority,
        ref=job.ref,
        location_index=job.location_index,
        sla_due_s=job.sla_due_s,
    )


# ---------------------------------------------------------------- solve


def default_workers() -> int:
    """Return the default number of parallel searches: 2 when two cores are available."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def solve(
    problem: Problem,
    *,
    time_limit_s: float,
    seed: int = 0,
    workers: int | None = None,
    solution_limit: int | None = None,
    metaheuristic: str | None = None,
    strategy: str | None = None,
    settings: SearchSettings | None = None,
    crew_fixed_cost: float = 0.0,
    validate: bool = True,
    _spec_extra: dict[str, Any] | None = None,
) -> Plan:
    """Solve a routing problem and return the plan.

    Parameters
    ----------
    problem : Problem
        The problem (validated here unless ``validate=False``).
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
        The search portfolio; default :func:`routing.search.default_settings` (iterated local
        search), the settings of ``geo311 plan``. Stored in ``plan.meta['search']``.
    crew_fixed_cost : float
        Cost of sending a crew out, in objective units (seconds of driving; metres for a
        distance objective); > 0 makes the solver use fewer crews when that saves more.
    validate : bool
        Run :meth:`Problem.validate` first.

    Returns
    -------
    Plan
        Routes for every crew and the unassigned jobs with their reasons.

    Raises
    ------
    RoutingError
        When the problem is invalid or an option is out of range.
    """
    if not time_limit_s > 0:
        raise RoutingError(f"time_limit_s must be > 0, got {time_limit_s}")
    n_workers = default_workers() if workers is None else workers
    if n_workers < 1:
        raise RoutingError(f"workers must be >= 1, got {workers}")
    if not crew_fixed_cost >= 0:
        raise RoutingError(f"crew_fixed_cost must be >= 0, got {crew_fixed_cost}")
    chosen = _settings(settings, metaheuristic, strategy)
    if validate:
        problem.validate()
    started = time.perf_counter()
    keep, pre = precheck(problem)
    extra = dict(_spec_extra or {})
    specs = [
        _ortools.Spec(
            job_indices=keep,
            time_limit_s=time_limit_s,
            worker=chosen.worker(k, seed=seed),
            solution_limit=solution_limit,
            crew_fixed_cost=crew_fixed_cost,
            **extra,
        )
        for k in range(n_workers)
    ]
    results = _run_searches(problem, specs) if keep and problem.crews else []
    found = [r for r in results if r.get("found")]
    best = min(found, key=lambda r: r["objective"]) if found else None
    elapsed = time.perf_counter() - started
    meta = {
        "time_limit_s": time_limit_s,
        "seed": seed,
        "workers": n_workers,
        "solution_limit": solution_limit,
        "metaheuristic": chosen.worker(0, seed=seed).metaheuristic,
        "strategies": [s.strategy for s in specs],
        "objectives": [r.get("objective") for r in results],
        "winner": best["strategy"] if best else None,
        "winner_worker": results.index(best) if best else None,
        "search": chosen.describe(workers=n_workers, seed=seed),
        "crew_fixed_cost": crew_fixed_cost,
        "time_unit": "ms",
    }
    return build_plan(problem, best, pre, keep, solve_time_s=elapsed, meta=meta)


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


def _run_searches(problem: Problem, specs: list[_ortools.Spec]) -> list[dict[str, Any]]:
    if len(specs) == 1:
        return [_ortools.run_search(problem, specs[0])]
    # The OR-Tools search holds the GIL, so the other workers are started (and sent their
    # data) before the in-process search begins; a pool's feeder thread would stall.
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for spec in specs[1:]:
        recv, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_ortools.search_worker, args=(problem, spec, send), daemon=True)
        proc.start()
        send.close()
        procs.append((proc, recv))
    results = [_ortools.run_search(problem, specs[0])]
    for (proc, recv), spec in zip(procs, specs[1:], strict=True):
        try:
            results.append(recv.recv())
        except EOFError:
            results.append({"found": False, "strategy": spec.strategy, "error": "worker died"})
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
    problem : Problem
        The solved problem.
    raw : dict or None
        Output of :func:`routing._ortools.run_search`, or None when no search found anything.
    pre : dict
        Unassigned jobs from :func:`precheck`.
    keep : list of int
        Job indices given to the solver.
    solve_time_s : float
        Wall-clock time to report.
    meta : dict
        Solver details to store in the plan.

    Returns
    -------
    Plan
        The plan, with violations from an independent float check.
    """
    d, dist = problem.durations_s, problem.distances_m
    routes: list[Route] = []
    served: set[int] = set()
    t0 = raw["t0"] if raw else 0.0
    for v, crew in enumerate(problem.crews):
        raw_steps = raw["routes"][v] if raw else None
        sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
        if not raw_steps or len(raw_steps) <= 2:
            start_t = max(crew.shift.start_s, sd.open_s)
            routes.append(
                Route(
                    crew_id=crew.id,
                    steps=(
                        Step("start", start_t, start_t, location_index=sd.location_index),
                        Step("end", start_t, start_t, location_index=ed.location_index),
                    ),
                )
            )
            continue
        breaks = sorted(
            (t0 + s / _ortools.TIME_SCALE, crew.breaks[b_i])
            for b_i, s in (raw["breaks"].get(v, []) if raw else [])
        )
        solver_start = [t0 + c / _ortools.TIME_SCALE for _, c, _ in raw_steps]
        steps: list[Step] = []
        clock = solver_start[0]
        loc = sd.location_index
        steps.append(Step("start", clock, clock, location_index=loc))
        cum_d = cum_t = tot_serv = tot_wait = tot_brk = 0.0
        load = 0.0
        pending = list(breaks)
        for k, (job_i, _, _) in enumerate(raw_steps[1:], start=1):
            is_end = k == len(raw_steps) - 1
            nxt_loc = ed.location_index if is_end else problem.jobs[job_i].location_index
            target = solver_start[k]
            travel = float(d[loc, nxt_loc])
            cum_d += float(dist[loc, nxt_loc])
            cum_t += travel
            # breaks starting before the next service start are taken on this leg: the crew
            # drives until the break starts (or arrives and waits), pauses, drives on
            pos, remaining = clock, travel
            while pending and pending[0][0] < target - TOLERANCE_S:
                b_start, brk = pending.pop(0)
                b_start = max(b_start, pos)
                driven = min(remaining, b_start - pos)
                remaining -= driven
                steps.append(
                    Step(
                        "break",
                        b_start,
                        b_start + brk.duration_s,
                        service_s=brk.duration_s,
                        load=load,
                        location_index=nxt_loc if remaining <= 0 else None,
                        break_id=brk.id,
                        distance_m=cum_d,
                        duration_s=cum_t,
                    )
                )
                tot_brk += brk.duration_s
                pos = b_start + brk.duration_s
            arrival = pos + remaining
            if is_end:
                arrival_end = arrival
                steps.append(
                    Step(
                        "end",
                        arrival_end,
                        arrival_end,
                        load=load,
                        location_index=nxt_loc,
                        distance_m=cum_d,
                        duration_s=cum_t,
                    )
                )
                break
            job = problem.jobs[job_i]
            served.add(job_i)
            wait = max(0.0, target - arrival)
            tot_wait += wait
            tot_serv += job.service_s
            load += job.demand
            steps.append(
                Step(
                    "job",
                    arrival,
                    arrival + wait + job.service_s,
                    waiting_s=wait,
                    service_s=job.service_s,
                    load=load,
                    location_index=nxt_loc,
                    job_id=job.id,
                    ref=job.ref,
                    distance_m=cum_d,
                    duration_s=cum_t,
                )
            )
            clock = arrival + wait + job.service_s
            loc = nxt_loc
        for b_start, brk in pending:  # breaks after the last job and the drive back
            steps.insert(
                len(steps) - 1,
                Step(
                    "break",
                    b_start,
                    b_start + brk.duration_s,
                    service_s=brk.duration_s,
                    load=load,
                    break_id=brk.id,
                    distance_m=cum_d,
                    duration_s=cum_t,
                ),
            )
            tot_brk += brk.duration_s
            end = steps[-1]
            new_end = max(end.arrival_s, b_start + brk.duration_s)
            steps[-1] = Step(
                "end",
                new_end,
                new_end,
                load=load,
                location_index=end.location_index,
                distance_m=cum_d,
                duration_s=cum_t,
            )
        day_h = (steps[-1].arrival_s - steps[0].departure_s) / 3600.0
        routes.append(
            Route(
                crew_id=crew.id,
                steps=tuple(steps),
                travel_s=cum_t,
                distance_m=cum_d,
                service_s=tot_serv,
                waiting_s=tot_wait,
                break_s=tot_brk,
                cost=crew.cost_per_hour * day_h,
            )
        )

    unassigned = dict(pre)
    dropped = [i for i in keep if i not in served]
    for i in dropped:
        unassigned[i] = _dropped_reason(problem, i, routes, served)
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


def _dropped_reason(problem: Problem, i: int, routes: list[Route], served: set[int]) -> Unassigned:
    job = problem.jobs[i]
    crews = [c for c in problem.crews if job.skill in c.skills]
    by_id = {r.crew_id: r for r in routes}
    job_by_id = {j.id: j for j in problem.jobs}
    available = sum(
        c.shift.end_s - c.shift.start_s - sum(b.duration_s for b in c.breaks) for c in crews
    )
    used_s = sum(
        by_id[c.id].travel_s + by_id[c.id].service_s + by_id[c.id].waiting_s
        for c in crews
        if by_id[c.id].job_ids
    )
    others = [k for k in range(len(problem.jobs)) if k != i]
    locs = [problem.depot(c.start_depot).location_index for c in crews]
    locs += [problem.jobs[k].location_index for k in others]
    d = problem.durations_s
    min_in = min((float(d[x, job.location_index]) for x in locs), default=0.0)
    min_out = min((float(d[job.location_index, x]) for x in locs), default=0.0)
    numbers = (
        f"crews with skill {job.skill!r} have {available / 60:.0f} crew-min after breaks, the plan "
        f"uses {used_s / 60:.0f} (travel + on site + waiting), this job needs "
        f"{job.service_s / 60:.0f} min on site + at least {(min_in + min_out) / 60:.1f} min travel"
    )
    # capacity: every crew that could take it is too full?
    loads = {
        c.id: sum(job_by_id[j].demand for j in by_id[c.id].job_ids)
        for c in crews
        if job.demand <= c.capacity + 1e-9
    }
    if loads and all(loads[c.id] + job.demand > c.capacity + 1e-9 for c in crews if c.id in loads):
        caps = ", ".join(f"{c.id} {loads[c.id]:g}/{c.capacity:g}" for c in crews if c.id in loads)
        return _unassigned(
            job,
            CAPACITY_FULL,
            f"every crew with skill {job.skill!r} is full ({caps}); demand {job.demand:g}",
        )
    scheduled_prios = [
        job_by_id[j].priority
        for c in crews
        for j in by_id[c.id].job_ids
        if job_by_id[j].skill == job.skill
    ]
    name = PRIORITY_NAMES.get(job.priority, str(job.priority))
    if scheduled_prios and all(p >= job.priority for p in scheduled_prios):
        return _unassigned(
            job,
            NO_TIME,
            f"not enough crew time today; lower priority than the work scheduled "
            f"(this job: {name}; scheduled work: {len(scheduled_prios)} jobs of priority >= "
            f"{name}): {numbers}",
        )
    lower = sum(1 for p in scheduled_prios if p < job.priority)
    return _unassigned(
        job,
        NOT_FITTED,
        f"not fitted: {lower} of {len(scheduled_prios)} scheduled jobs of its skill have a lower "
        f"priority, so the windows, shifts, breaks or the search time limit kept it out "
        f"(it fits a crew's day alone); {numbers}",
    )


def check_routes(problem: Problem, routes: list[Route]) -> list[str]:
    """Independently re-check routes in float seconds.

    Parameters
    ----------
    problem : Problem
        The problem.
    routes : list of Route
        Routes to check (one per crew).

    Returns
    -------
    list of str
        Violations (empty when windows, shifts, depot hours, breaks, skills, capacity and
        travel times all hold).
    """
    tol = 1e-3
    jobs = {j.id: j for j in problem.jobs}
    crews = {c.id: c for c in problem.crews}
    d = problem.durations_s
    out: list[str] = []
    for r in routes:
        crew = crews[r.crew_id]
        sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
        first, last = r.steps[0], r.steps[-1]
        if first.departure_s < max(crew.shift.start_s, sd.open_s) - tol:
            out.append(f"crew {crew.id!r} leaves before its shift or the depot opens")
        if last.arrival_s > min(crew.shift.end_s, ed.close_s) + tol:
            out.append(f"crew {crew.id!r} is back after its shift ends or the depot closes")
        load = 0.0
        clock = first.departure_s
        loc = first.location_index
        breaks_taken = []
        leg_breaks = 0.0
        for s in r.steps[1:]:
            if s.type == "break":
                breaks_taken.append(s)
                leg_breaks += s.service_s
                if s.arrival_s < clock - tol:
                    out.append(f"crew {crew.id!r}: break {s.break_id!r} overlaps other work")
                continue
            assert s.location_index is not None
            min_arrival = clock + float(d[loc, s.location_index]) + leg_breaks
            leg_breaks = 0.0
            if s.type == "job":
                assert s.job_id is not None
                job = jobs[s.job_id]
                if job.skill not in crew.skills:
                    out.append(f"job {job.id!r} needs {job.skill!r}, crew {crew.id!r} lacks it")
                start = s.service_start_s
                if start < min_arrival - tol:
                    out.append(f"job {job.id!r}: service starts before the crew can arrive")
                if job.windows and not any(
                    w.start_s - tol <= start <= w.end_s + tol for w in job.windows
                ):
                    out.append(f"job {job.id!r}: service at {start:g} s is outside its windows")
                load += job.demand
                clock = start + job.service_s
            elif last.arrival_s < min_arrival - tol:
                out.append(f"crew {crew.id!r}: arrives at the end depot too early for travel")
            loc = s.location_index
        if load > crew.capacity + 1e-6:
            out.append(f"crew {crew.id!r}: load {load:g} above capacity {crew.capacity:g}")
        if r.job_ids:
            for brk in crew.breaks:
                taken = [b for b in breaks_taken if b.break_id == brk.id]
                if not taken:
                    out.append(f"crew {crew.id!r}: break {brk.id!r} not taken")
                elif not any(
                    w.start_s - tol <= taken[0].arrival_s <= w.end_s + tol for w in brk.windows
                ):
                    out.append(f"crew {crew.id!r}: break {brk.id!r} starts outside its windows")
    return out
