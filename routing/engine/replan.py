"""Re-plan mid-day: keep the stops already done or in progress, change as little as possible.

Given the day's problem (now including any new urgent jobs), the previous :class:`Plan`, the
current time and the locked stops (done or in progress, per crew), :func:`replan`:

1. keeps each crew's locked prefix (its steps, times and breaks) exactly as in the previous
   plan;
2. starts each crew again from its last locked stop (or its start depot) at
   ``max(now, departure from that stop)``, with the capacity it has left and only the breaks it
   has not taken yet;
3. solves the rest with the previous routes as the initial solution
   (``ReadAssignmentFromRoutes``) and a penalty for moving a job to another crew, so that the
   new plan differs from the old one only where the new work needs it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from geo311.errors import RoutingError
from routing.engine.checks import check_routes
from routing.engine.plan import Plan, Route, Step, Summary
from routing.engine.problem import Break, Crew, Depot, Job, Problem, TimeWindow
from routing.engine.solve import SolveParams, solve


def locked_from_time(previous: Plan, now_s: float) -> dict[str, list[str]]:
    """Return, per crew, the jobs of the previous plan whose service had started by ``now_s``.

    Parameters
    ----------
    previous
        The plan being executed.
    now_s
        Current time, seconds from the plan origin.

    Returns
    -------
    dict
        Crew id -> job ids, in route order (the default locked stops of :func:`replan`).
    """
    out: dict[str, list[str]] = {}
    for r in previous.routes:
        out[r.crew_id] = [
            s.job_id
            for s in r.steps
            if s.type == "job" and s.job_id is not None and s.service_start_s <= now_s
        ]
    return out


def replan(
    problem: Problem,
    previous: Plan,
    *,
    now_s: float,
    locked: Mapping[str, Sequence[str]] | None = None,
    reassign_penalty_s: float = 900.0,
    params: SolveParams | None = None,
) -> Plan:
    """Re-plan the rest of the day.

    Parameters
    ----------
    problem
        The day's problem: the same crews, depots and origin as ``previous``, its jobs plus any
        new ones (matrices covering every location).
    previous
        The plan being executed.
    now_s
        Current time, seconds from the origin.
    locked
        Crew id -> job ids done or in progress, a prefix of that crew's previous route. Default:
        :func:`locked_from_time` (every job whose service started by ``now_s``).
    reassign_penalty_s
        Cost, in seconds of travel (metres when the objective is distance), of moving a job of
        the previous plan to another crew.
    params
        As for :func:`routing.engine.solve.solve` (time limit, seed...); one worker when
        ``params.workers`` is None: every worker would start from the same previous routes.

    Returns
    -------
    Plan
        Routes that start with the locked steps unchanged.

    Raises
    ------
    RoutingError
        When a locked job is not a prefix of its crew's previous route, or crews differ.
    """
    problem.validate()
    locked = dict(locked) if locked is not None else locked_from_time(previous, now_s)
    prev_routes = {r.crew_id: r for r in previous.routes}
    crew_ids = [c.id for c in problem.crews]
    unknown = [c for c in locked if c not in prev_routes or c not in crew_ids]
    if unknown:
        raise RoutingError(f"locked crews {unknown} are not crews of both problem and plan")
    job_index = {j.id: k for k, j in enumerate(problem.jobs)}
    prefixes: dict[str, list[Step]] = {}
    new_depots: list[Depot] = list(problem.depots)
    new_crews: list[Crew] = []
    done: set[str] = set()
    for crew in problem.crews:
        route = prev_routes.get(crew.id)
        ids = list(locked.get(crew.id, []))
        _check_locked(crew, route, ids, job_index)
        done.update(ids)
        prefixes[crew.id] = prefix = _locked_prefix(route, ids, now_s)
        resumed, depot = _resumed_crew(problem, crew, prefix, ids, job_index, now_s=now_s)
        new_crews.append(resumed)
        if depot is not None:
            new_depots.append(depot)
    rest = tuple(j for j in problem.jobs if j.id not in done)
    sub = replace(problem, depots=tuple(new_depots), crews=tuple(new_crews), jobs=rest)
    initial, previous_crew = _initial_routes(problem, prev_routes, rest)
    p = params or SolveParams()
    plan = solve(
        sub,
        p if p.workers is not None else replace(p, workers=1),
        _spec_extra={
            "initial_routes": initial,
            "previous_crew": previous_crew,
            "reassign_penalty_s": reassign_penalty_s,
        },
    )
    return _merge(problem, plan, prefixes, now_s)


def _check_locked(
    crew: Crew, route: Route | None, ids: list[str], job_index: dict[str, int]
) -> None:
    """Raise unless the locked jobs are a prefix of the crew's previous route and known."""
    route_jobs = route.job_ids if route is not None else []
    if ids != route_jobs[: len(ids)]:
        raise RoutingError(
            f"crew {crew.id!r}: locked stops {ids} are not the start of its previous route "
            f"{route_jobs}; lock a prefix of the route"
        )
    missing = [j for j in ids if j not in job_index]
    if missing:
        raise RoutingError(
            f"crew {crew.id!r}: locked jobs {missing} are not in the problem; keep them in "
            "problem.jobs so their locations and times are known"
        )


def _locked_prefix(route: Route | None, ids: list[str], now_s: float) -> list[Step]:
    """Return the steps kept as they were: up to the last locked job and breaks begun by now."""
    if route is None:
        return []
    if not ids:
        return [route.steps[0]] if route.steps[0].departure_s <= now_s else []
    last = max(k for k, s in enumerate(route.steps) if s.job_id == ids[-1])
    prefix = list(route.steps[: last + 1])
    # breaks that started before now right after the last locked stop are kept too
    for s in route.steps[last + 1 :]:
        if s.type == "break" and s.arrival_s <= now_s:
            prefix.append(s)
        else:
            break
    return prefix


def _resumed_crew(
    problem: Problem,
    crew: Crew,
    prefix: list[Step],
    ids: list[str],
    job_index: dict[str, int],
    *,
    now_s: float,
) -> tuple[Crew, Depot | None]:
    """Return the crew restarting after its locked stops, and the depot at its last stop.

    It starts at ``max(now, shift start, departure from the last kept step)`` with the
    capacity left and the breaks not taken yet (windows cut to the new start).
    """
    taken = {s.break_id for s in prefix if s.type == "break"}
    start_t = max(now_s, crew.shift.start_s, prefix[-1].departure_s if prefix else -math.inf)
    breaks = []
    for b in crew.breaks:
        if b.id in taken:
            continue
        wins = tuple(
            TimeWindow(max(w.start_s, start_t), w.end_s) for w in b.windows if w.end_s >= start_t
        )
        if wins:
            breaks.append(Break(b.duration_s, wins, b.id))
    load = sum(problem.jobs[job_index[j]].demand for j in ids)
    start_depot = crew.start_depot
    depot = None
    if ids:
        loc = problem.jobs[job_index[ids[-1]]].location_index
        start_depot = f"{crew.id}@{ids[-1]}"
        depot = Depot(start_depot, loc, start_t, math.inf, f"after {ids[-1]}")
    resumed = replace(
        crew,
        shift=TimeWindow(start_t, max(crew.shift.end_s, start_t)),
        start_depot=start_depot,
        capacity=max(0.0, crew.capacity - load),
        breaks=tuple(breaks),
    )
    return resumed, depot


def _initial_routes(
    problem: Problem, prev_routes: dict[str, Route], rest: tuple[Job, ...]
) -> tuple[list[list[int]], dict[int, int]]:
    """Return the previous routes over the remaining jobs, and each job's previous crew."""
    sub_index = {j.id: k for k, j in enumerate(rest)}
    initial = []
    previous_crew: dict[int, int] = {}
    for v, crew in enumerate(problem.crews):
        r = prev_routes.get(crew.id)
        order = [sub_index[j] for j in (r.job_ids if r else []) if j in sub_index]
        initial.append(order)
        for k in order:
            previous_crew[k] = v
    return initial, previous_crew


def _merge(problem: Problem, plan: Plan, prefixes: dict[str, list[Step]], now_s: float) -> Plan:
    routes: list[Route] = []
    crews = {c.id: c for c in problem.crews}
    for r in plan.routes:
        prefix = prefixes.get(r.crew_id, [])
        if not prefix:
            routes.append(r)
            continue
        if not any(s.type == "job" for s in prefix):
            routes.append(r)  # nothing locked: the crew (re)starts from its depot
            continue
        base_d, base_t = prefix[-1].distance_m, prefix[-1].duration_s
        base_load = prefix[-1].load
        tail = [
            replace(
                s,
                load=s.load + base_load,
                distance_m=s.distance_m + base_d,
                duration_s=s.duration_s + base_t,
            )
            for s in r.steps[1:]
        ]
        steps = prefix + tail
        jobs = {j.id: j for j in problem.jobs}
        serv = sum(jobs[s.job_id].service_s for s in steps if s.type == "job" and s.job_id)
        wait = sum(s.waiting_s for s in steps)
        brk = sum(s.service_s for s in steps if s.type == "break")
        day_h = (steps[-1].arrival_s - steps[0].departure_s) / 3600.0
        routes.append(
            Route(
                crew_id=r.crew_id,
                steps=tuple(steps),
                travel_s=steps[-1].duration_s,
                distance_m=steps[-1].distance_m,
                service_s=serv,
                waiting_s=wait,
                break_s=brk,
                cost=crews[r.crew_id].cost_per_hour * day_h,
            )
        )
    violations = check_routes(problem, routes)
    summary = Summary.of_routes(
        routes,
        jobs_unassigned=len(plan.unassigned),
        solve_time_s=plan.summary.solve_time_s,
        objective=plan.summary.objective,
        is_feasible=not violations,
    )
    meta = dict(plan.meta)
    meta["replanned_at_s"] = now_s
    meta["locked"] = {c: [st.job_id for st in p if st.type == "job"] for c, p in prefixes.items()}
    return Plan(
        origin=plan.origin,
        summary=summary,
        routes=tuple(routes),
        unassigned=plan.unassigned,
        violations=tuple(violations),
        next_shift_start_s=plan.next_shift_start_s,
        meta=meta,
    )
