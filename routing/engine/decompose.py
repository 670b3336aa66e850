"""Neighbourhood re-solves of a large day: improve a whole-day plan a few routes at a time.

Why (issue 26): on the 1,000-job city day, OR-Tools 9.15's guided local search started from
the best iterated-local-search solution (``SolveFromAssignmentWithParameters``) fails at once
with ``ROUTING_FAIL`` whenever the crews have lunch breaks (``SetBreakIntervalsOfVehicle``),
so the polish share of the time limit went unused. Measured on that day
(``bench/city_day_bench.py``'s problem, ILS for 20 s, then the polish):

- without the breaks the same polish runs its whole limit (status 2, a better plan);
- with them, a 300-job day polishes fine, but at 1,000 jobs it fails in 0.4 s with GLS,
  greedy descent, the cheap operators only, scheduling disabled, GLOP or CP-SAT scheduling,
  and without the break's ``start >= day start`` constraint;
- every route of the ILS solution restores alone (``ReadAssignmentFromRoutes``), and the
  polish fails even from an assignment with a single one of those routes: the break placement
  of a route is not the cause; the search log shows the local search accepting ten
  neighbours and then the whole search tree failing, i.e. a neighbour accepted in the
  nested solve is rejected when committed at the root (the break constraint's propagation at
  the root disagrees with the one in the nested solve) and the search has no solution to
  return.

So at that size the polish re-solves *neighbourhoods* instead, as OR-Tools' maintainers
advise above about 1,000 stops: a seed route and its nearest routes (by the travel time
between route medoids, crews sharing a skill first), with the dropped jobs they could do
nearby, become a sub-problem of a few hundred jobs, which guided local search improves from
its current routes (a size where the same polish works); an improved neighbourhood replaces
its routes in the day's solution. Seeds go round-robin until the time is up. Each
neighbourhood's objective never gets worse (the search keeps its best solution, which
starts as the current routes), and the day's objective is recomputed with the whole model's
costs and drop penalties.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from routing.engine import search
from routing.engine.or_model import TIME_SCALE, Model, Spec

# routes per neighbourhood and dropped jobs offered to it
GROUP_ROUTES = 5
GROUP_DROPPED = 40
# time of one neighbourhood's search, seconds (shorter when less is left)
NEIGHBOURHOOD_S = 2.0
# least time worth a neighbourhood re-solve (its model takes about 0.2 s to build)
MIN_NEIGHBOURHOOD_S = 0.5


@dataclass
class DaySolution:
    """A raw whole-day result being improved: routes as job indices, the raw steps, breaks."""

    raw: dict[str, Any]

    def jobs_of(self, v: int) -> list[int]:
        """Return the job indices of crew ``v``'s route, in order."""
        return [j for j, _, _ in self.raw["routes"][v] if j >= 0]

    def served(self) -> set[int]:
        """Return the job indices served by any route."""
        return {j for steps in self.raw["routes"] for j, _, _ in steps if j >= 0}


def improve(
    model: Model, raw: dict[str, Any], *, deadline: float, solution_limit: int | None = None
) -> tuple[dict[str, Any], int]:
    """Improve a whole-day raw result by neighbourhood re-solves until ``deadline``.

    Parameters
    ----------
    model
        The whole day's model (its problem, jobs, costs and penalties).
    raw
        The raw result of :meth:`routing.engine.or_model.Model.solve` to improve (not modified).
    deadline
        ``time.perf_counter()`` value by which to stop.
    solution_limit
        For a reproducible run: each neighbourhood's search stops after this many
        solutions and every crew seeds one neighbourhood (one round), time permitting.

    Returns
    -------
    tuple
        The improved raw result (its ``objective`` recomputed on the whole model) and the
        number of neighbourhoods that improved.
    """
    day = DaySolution({**raw, "routes": list(raw["routes"]), "breaks": dict(raw["breaks"])})
    n_crews = len(model.problem.crews)
    improved = 0
    k = 0
    rounds = 1 if solution_limit is not None else None
    while n_crews and deadline - time.perf_counter() >= MIN_NEIGHBOURHOOD_S:
        group = neighbourhood(model, day, k % n_crews)
        k += 1
        limit = deadline - time.perf_counter()
        if solution_limit is None:  # with one, the solutions bound it (reproducible)
            limit = min(NEIGHBOURHOOD_S, limit)
        if _resolve(model, day, group, time_limit_s=limit, solution_limit=solution_limit):
            improved += 1
        if (k >= 4 * n_crews and not improved) or (rounds and k >= rounds * n_crews):
            break
    day.raw["objective"] = day_objective(model, day)
    return day.raw, improved


def _medoids(model: Model, day: DaySolution) -> list[int]:
    """Return one location index per crew: its route's medoid, or its start depot's."""
    p = model.problem
    out = []
    for v, crew in enumerate(p.crews):
        locs = [p.jobs[j].location_index for j in day.jobs_of(v)]
        if not locs:
            out.append(p.depot(crew.start_depot).location_index)
            continue
        sub = p.durations_s[np.ix_(locs, locs)]
        out.append(locs[int(np.argmin(sub.sum(axis=1) + sub.sum(axis=0)))])
    return out


def neighbourhood(model: Model, day: DaySolution, seed: int) -> tuple[list[int], list[int]]:
    """Return the crews (seed first) and dropped jobs of the neighbourhood of crew ``seed``."""
    p = model.problem
    med = _medoids(model, day)
    dur = p.durations_s
    skills = p.crews[seed].skills

    def rank(v: int) -> tuple[bool, float]:
        return (not (p.crews[v].skills & skills), float(dur[med[seed], med[v]]))

    crews = sorted(range(len(p.crews)), key=rank)[:GROUP_ROUTES]
    can = frozenset().union(*(p.crews[v].skills for v in crews))
    served = day.served()
    dropped = [j for j in model.spec.job_indices if j not in served and p.jobs[j].skill in can]
    centre = [med[v] for v in crews]
    near = sorted(dropped, key=lambda j: float(dur[centre, p.jobs[j].location_index].min()))
    return crews, near[:GROUP_DROPPED]


def _resolve(
    model: Model,
    day: DaySolution,
    group: tuple[list[int], list[int]],
    *,
    time_limit_s: float,
    solution_limit: int | None,
) -> bool:
    """Re-solve one neighbourhood from its current routes; keep the result if it is better."""
    crews, dropped = group
    p = model.problem
    routes = [day.jobs_of(v) for v in crews]
    jobs = sorted({j for r in routes for j in r} | set(dropped))
    sub_problem = replace(p, crews=tuple(p.crews[v] for v in crews))
    spec = Spec(
        job_indices=jobs,
        time_limit_s=time_limit_s,
        worker=search.WorkerSettings(metaheuristic="GUIDED_LOCAL_SEARCH"),
        initial_routes=routes,
        solution_limit=solution_limit,
        crew_fixed_cost=model.spec.crew_fixed_cost,
    )
    sub = Model(sub_problem, spec)
    before = sub.objective_of(routes)
    out = sub.solve()
    if not out.get("found") or before is None or out["objective"] >= before:
        return False
    shift = round((out["t0"] - model.t0) * TIME_SCALE)
    for k, v in enumerate(crews):
        day.raw["routes"][v] = [(j, c + shift, load) for j, c, load in out["routes"][k]]
        day.raw["breaks"][v] = [(b, s + shift) for b, s in out["breaks"].get(k, [])]
    return True


def day_objective(model: Model, day: DaySolution) -> int:
    """Return the whole model's objective of the day's routes (arc costs, drops, crews)."""
    total = model.objective_of([day.jobs_of(v) for v in range(len(model.problem.crews))])
    assert total is not None  # the routes hold jobs of the model only
    return total
