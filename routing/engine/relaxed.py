"""A large day's first plan from PyVRP on its break-free relaxation, breaks placed afterwards.

Why (issue 26): on the 1,000-job city day OR-Tools' first solutions are slow or poor (savings
drops 117 jobs; local cheapest insertion takes about 26 CPU-s) and its iterated local search
does not catch up within 60 s, while PyVRP, which has no breaks and no skills, finds a far
better plan of the same day in seconds once those are taken out (10 s per skill group at load
4.5: 983 jobs served in 25.5 h of driving, where the 10-minute OR-Tools reference serves 978
in 29.2 h). So a day whose crews split into groups that can each do all of their group's jobs
(crews with the same skills; every job's skill held by one group only) is solved group by
group by PyVRP (:mod:`routing.engine.pyvrp_backend`) with each crew's breaks taken out of its
shift (its end moved earlier by their length: the break becomes slack) and the job windows
moved onto a clock that runs a break behind from the break's earliest start
(:func:`relaxed_problem`); then every route gets its break placed (:func:`place_breaks`),
dropping the fewest, least urgent jobs where no placement fits (with the moved windows none
was needed on the city day; without them 13 of 982 jobs were dropped), and the routes are
restored in one-crew OR-Tools models (:func:`restore_route`), which check every constraint
and set the breaks' starts (all 25 routes of the city day restored unchanged, 0.2 s). The neighbourhood re-solves (:mod:`routing.engine.decompose`) then
improve the plan and insert dropped jobs for the rest of the time. When the day does not
split that way (or a job has several windows, or PyVRP is not installed) :func:`groups`
returns None and the caller runs the OR-Tools search instead. With several workers, each
solves its own groups this way (:mod:`routing.engine.groupsplit`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from routing.engine import pyvrp_backend
from routing.engine.problem import Crew, Problem, TimeWindow
from routing.engine.search import WorkerSettings

# least PyVRP time per group worth a search, seconds
MIN_GROUP_S = 0.5
# PyVRP's granular neighbourhood on a group's relaxation (its default is 50): on the city day's
# two 500-job groups (``bench/city_day_bench.py``, 20-25 s per group, two at once, load
# 2.5-3), 20 neighbours ran about twice the iterations and served 488 and 487 jobs of the
# tight group where 50 served 485 and 481 (seeds 0, 1), and drove 12.67 h and 12.66 h on the
# other where 50 drove 13.21 h (prize-collecting from the start); 10 served as many with
# 0.3-0.4 h more driving
NEIGHBOURS = 20
# and, when some jobs must be dropped (the prize-collecting search), a late-acceptance history
# of 100 iterations (its default is 300): on the tight group, 25 s each, seeds 0-3, two at
# once, load 2.3-4.4, 491, 491, 490 and 490 jobs served where 300 served 490, 489, 487 and
# 489, with less driving. The all-jobs search of the other group keeps 300: with 100 it drove
# 12.54, 12.84 and 12.67 h in 22 s (seeds 0-2) where 300 drove 12.64, 12.66 and 12.48 h
HISTORY_LENGTH = 100
# time limit of one route's restore: it stops at once when OR-Tools accepts the route, and
# searches another order of its jobs for this long when it does not
RESTORE_S = 0.5


@dataclass(frozen=True)
class Group:
    """Crews that can each do every job of the group, and those jobs (problem indices)."""

    crews: list[int]
    jobs: list[int]


def groups(problem: Problem, job_indices: list[int]) -> list[Group] | None:
    """Split the day into groups of crews with the same skills and the jobs only they can do.

    Parameters
    ----------
    problem
        A validated problem.
    job_indices
        The jobs to plan.

    Returns
    -------
    list of Group or None
        None when a job's skill is held by crews of two groups, no crew at all, or PyVRP
        cannot express a group's relaxation (several windows on a job; not installed).
    """
    if not pyvrp_backend.available() or not problem.crews:
        return None
    by_skills: dict[frozenset[str], list[int]] = {}
    for v, crew in enumerate(problem.crews):
        by_skills.setdefault(crew.skills, []).append(v)
    jobs: dict[frozenset[str], list[int]] = {k: [] for k in by_skills}
    for i in job_indices:
        homes = [k for k in by_skills if problem.jobs[i].skill in k]
        if len(homes) != 1 or len(problem.jobs[i].windows) > 1:
            return None
        jobs[homes[0]].append(i)
    return [Group(by_skills[k], jobs[k]) for k in by_skills if jobs[k]]


def relaxed_crew(crew: Crew) -> Crew:
    """Return the crew without breaks, its shift ending earlier by their total length."""
    taken = sum(b.duration_s for b in crew.breaks)
    end = max(crew.shift.start_s, crew.shift.end_s - taken)
    return replace(crew, breaks=(), shift=TimeWindow(crew.shift.start_s, end))


def relaxed_problem(problem: Problem, group: Group) -> Problem:
    """Return the group's break-free relaxation: crews without breaks, windows on the clock.

    Each crew's shift ends earlier by its breaks' length. When every crew of the group has
    the same one break (duration ``L``, earliest start ``W``), the relaxed clock runs ``L``
    behind the real one from ``W`` on: the break is taken when the visit under way at ``W``
    ends (or at ``W`` when none is), so every visit that starts after ``W`` on the relaxed
    clock starts at most ``L`` later on the real one. A window ``[a, b]`` then becomes
    ``[a', b']`` with ``a' = a`` up to ``W`` and ``max(W, a - L)`` after it, and
    ``b' = b`` up to ``W`` and ``max(b - L, W)`` after it, so any relaxed route keeps its
    windows with the break in it (:func:`fits` checks each route all the same).
    """
    crews = tuple(relaxed_crew(problem.crews[v]) for v in group.crews)
    breaks = {problem.crews[v].breaks for v in group.crews}
    if len(breaks) != 1 or len(next(iter(breaks))) != 1:
        return replace(problem, crews=crews)
    (brk,) = next(iter(breaks))
    at, length = min(w.start_s for w in brk.windows), brk.duration_s
    jobs = list(problem.jobs)
    for i in group.jobs:
        job = jobs[i]
        if not job.windows:
            continue
        a, b = job.windows[0].start_s, job.windows[0].end_s
        a2 = a if a <= at else max(at, a - length)
        b2 = b if b <= at else max(b - length, at)
        jobs[i] = replace(job, windows=(TimeWindow(a2, max(a2, b2)),))
    return replace(problem, crews=crews, jobs=tuple(jobs))


def solve_groups(
    problem: Problem,
    parts: list[Group],
    *,
    time_limit_s: float,
    seed: int = 0,
    iterations: int | None = None,
) -> list[list[int]] | None:
    """Solve every group's relaxation with PyVRP; return each crew's jobs in order.

    The time is shared by the groups in proportion to their jobs; with ``iterations``
    each group's search stops after that many PyVRP iterations instead (reproducible).
    Returns None when a group's search finds no feasible plan.
    """
    routes: list[list[int]] = [[] for _ in problem.crews]
    started = time.perf_counter()
    for k, group in enumerate(parts):
        left = time_limit_s - (time.perf_counter() - started)
        rest = sum(len(g.jobs) for g in parts[k:]) or 1
        share = max(MIN_GROUP_S, left * len(group.jobs) / rest)
        sub = relaxed_problem(problem, group)
        out = pyvrp_backend.run_search(
            sub,
            pyvrp_backend.PyvrpSpec(
                job_indices=group.jobs,
                time_limit_s=share,
                seed=seed,
                max_iterations=iterations,
                neighbours=NEIGHBOURS,
                history_length=HISTORY_LENGTH,
            ),
        )
        if not out.get("found"):
            return None
        for local, steps in enumerate(out["routes"]):
            routes[group.crews[local]] = [j for j, _, _ in steps if j >= 0]
    return routes


def _schedule_end(problem: Problem, v: int, jobs: list[int], brk_leg: int | None) -> float | None:
    """Return the arrival at the end depot with the crew's one break on leg ``brk_leg``.

    Leg ``k`` leads to ``jobs[k]`` (leg ``len(jobs)`` to the end depot). The break starts
    as soon as its window allows after the previous visit ends, and the gap to the next
    visit holds the travel and the break: the next arrival is ``max(end + travel, break
    start) + duration`` (the break is taken on the way or while waiting). None: a window,
    the break's window or the shift is missed.
    """
    crew, d = problem.crews[v], problem.durations_s
    brk = crew.breaks[0] if crew.breaks else None
    sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
    clock = max(crew.shift.start_s, sd.open_s)
    loc = sd.location_index
    stops = [*(problem.jobs[i] for i in jobs), None]
    for k, job in enumerate(stops):
        target = ed.location_index if job is None else job.location_index
        arrival = clock + float(d[loc, target])
        if brk is not None and k == brk_leg:
            starts = [
                max(clock, w.start_s) for w in brk.windows if max(clock, w.start_s) <= w.end_s
            ]
            if not starts:
                return None
            arrival = max(arrival, min(starts)) + brk.duration_s
        clock, loc = arrival, target
        if job is None:
            break
        if job.windows:
            if clock > job.windows[0].end_s:
                return None
            clock = max(clock, job.windows[0].start_s)
        clock += job.service_s
    return clock if clock <= min(crew.shift.end_s, ed.close_s) else None


def fits(problem: Problem, v: int, jobs: list[int]) -> bool:
    """Return whether crew ``v`` can do ``jobs`` in this order with its break placed somewhere."""
    crew = problem.crews[v]
    if len(crew.breaks) > 1:
        return False  # one break per crew placed here; more go back to the OR-Tools search
    if not crew.breaks:
        return _schedule_end(problem, v, jobs, None) is not None
    return any(_schedule_end(problem, v, jobs, k) is not None for k in range(len(jobs) + 1))


def place_breaks(problem: Problem, v: int, jobs: list[int]) -> list[int]:
    """Return the route with the fewest, least urgent jobs removed so that its break fits.

    Each round removes the job of the lowest priority (then the one saving most driving)
    whose removal makes the route fit; when none does alone, the lowest-priority job.
    """
    route = list(jobs)
    while route and not fits(problem, v, route):
        order = sorted(range(len(route)), key=lambda k: problem.jobs[route[k]].priority)
        for k in order:
            if fits(problem, v, route[:k] + route[k + 1 :]):
                del route[k]
                break
        else:
            del route[order[0]]
    return route


def restore_route(model: Any, v: int, jobs: list[int]) -> dict[str, Any] | None:
    """Return crew ``v``'s raw route and breaks from a one-crew OR-Tools model of its jobs.

    The whole day's model cannot restore routes with breaks at 1,000 jobs (its search fails
    at once, :mod:`routing.engine.decompose`); a model of one crew and its own jobs can.
    OR-Tools' break reasoning rejects a few orders that :func:`fits` accepts (on the city day
    one route of 25: it restores a prefix of 29 of its 40 jobs, and a schedule with the
    break at 11:00 before a job whose window opens then); its search then finds another
    order of the route's jobs in the time limit, which is kept (the neighbourhoods improve it
    later). When it finds nothing, the least urgent job is dropped and the rest tried again.
    Times are shifted to the day model's ``t0``. None: nothing of the route restores.
    """
    from routing.engine.or_model import TIME_SCALE, Model, Spec  # imports this module

    problem = model.problem
    route = list(jobs)
    while route:
        spec = Spec(
            job_indices=sorted(route),
            time_limit_s=RESTORE_S,
            worker=WorkerSettings(metaheuristic="GUIDED_LOCAL_SEARCH"),
            initial_routes=[route],
            solution_limit=1,
            crew_fixed_cost=model.spec.crew_fixed_cost,
        )
        sub = Model(replace(problem, crews=(problem.crews[v],)), spec)
        out = sub.solve()
        if out.get("found"):
            shift = round((out["t0"] - model.t0) * TIME_SCALE)
            return {
                "route": [(j, c + shift, load) for j, c, load in out["routes"][0]],
                "breaks": [(b, s + shift) for b, s in out["breaks"].get(0, [])],
            }
        del route[min(range(len(route)), key=lambda k: problem.jobs[route[k]].priority)]
    return None


def construct(model: Any, *, time_limit_s: float, seed: int = 0) -> dict[str, Any] | None:
    """Return the whole day's raw result built from the relaxation, or None.

    Parameters
    ----------
    model
        The day's :class:`routing.engine.or_model.Model`.
    time_limit_s
        PyVRP's time, seconds (shared by the groups); with the model's ``solution_limit``
        each group stops after that many PyVRP iterations instead.
    seed
        PyVRP's random seed.

    Returns
    -------
    dict or None
        ``routes``, ``breaks``, ``t0`` and ``found`` as :meth:`routing.engine.or_model.Model.solve`
        gives them (the objective is the caller's to compute); None when the day does not
        split into groups PyVRP can express or a group has no feasible plan.
    """
    problem = model.problem
    parts = groups(problem, model.spec.job_indices)
    if parts is None:
        return None
    routes = solve_groups(
        problem,
        parts,
        time_limit_s=time_limit_s,
        seed=seed,
        iterations=model.spec.solution_limit,
    )
    if routes is None:
        return None
    raw: dict[str, Any] = {"found": True, "routes": [], "breaks": {}, "t0": model.t0}
    for v, jobs in enumerate(routes):
        placed = place_breaks(problem, v, jobs)
        got = restore_route(model, v, placed) if placed else None
        if got is None:
            raw["routes"].append([(-1, 0, 0), (-1, 0, 0)])
            continue
        raw["routes"].append(got["route"])
        if got["breaks"]:
            raw["breaks"][v] = got["breaks"]
    return raw
