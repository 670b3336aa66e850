"""Rush hour: travel times that depend on the hour each leg is driven.

The street graph's speeds file (``data/speeds.toml``) has a travel-time multiplier per local
hour (``SpeedSettings.congestion``). OR-Tools' time dimension takes a transit per arc, not per
arc *and* departure time, so a transit callback cannot pick its hour band from the cumul of
the time dimension. The method here (issue 26):

1. **Time-dependent leg times** (:func:`leg_time_s`): a leg of ``free_s`` free-flow seconds
   that departs at ``t`` is driven through the hour bands it crosses, each real second of
   band ``h`` covering ``1 / factor[h]`` free-flow seconds. Leaving later never arrives
   earlier (first in, first out), unlike multiplying the whole leg by its departure hour.
2. **A band-aware matrix for the solver** (:func:`banded_problem`): the row of each location
   (every leg leaving it) is the time-dependent time of that leg departing at the hour the
   previous plan leaves that location (the yard's row: at the crews' earliest start). The
   first plan is solved on the matrix banded at the shift start, the second on the matrix
   banded by the first plan's departures (:func:`solve_rush_hour`): a fixed-point step that
   puts each leg in the hour it is now driven in. Exact where a location's departure hour did
   not change between the two plans.
3. **ETAs** (:func:`timed_etas`): any plan's schedule re-timed leg by leg with
   :func:`leg_time_s` (windows waited for, breaks kept where the plan put them or later):
   what the crews should expect, and the check of step 2 (``max_shift_s``).

Times are seconds from :attr:`Problem.origin`; the local hour is taken from the origin's
clock time plus the offset (a day with a daylight-saving change is off by an hour after it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from geo311.errors import RoutingError
from routing.engine.plan import Plan
from routing.engine.problem import Problem
from routing.engine.solve import SolveParams, solve

HOUR_S = 3600.0


def _check_factors(factors: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(f) for f in factors)
    if len(out) != 24 or not all(math.isfinite(f) and f > 0 for f in out):
        raise RoutingError(
            f"congestion factors must be 24 positive numbers (hour 0..23), got {len(out)}: "
            "check [congestion] factors in the speeds file"
        )
    return out


def day_offset_s(problem: Problem) -> float:
    """Seconds from local midnight to the problem's origin."""
    o = problem.origin
    return o.hour * HOUR_S + o.minute * 60.0 + o.second + o.microsecond / 1e6


def leg_time_s(
    free_s: float, depart_s: float, factors: Sequence[float], *, offset_s: float
) -> float:
    """Return the driving time of a leg of ``free_s`` free-flow seconds departing at ``depart_s``.

    Parameters
    ----------
    free_s
        The leg's free-flow travel time, seconds.
    depart_s
        Departure, seconds from the problem origin.
    factors
        Travel-time multiplier per local hour 0..23.
    offset_s
        Seconds from local midnight to the problem origin (:func:`day_offset_s`).
    """
    left, t = float(free_s), float(depart_s) + offset_s
    while left > 1e-9:
        hour = int(t // HOUR_S)
        factor = factors[hour % 24]
        band_end = (hour + 1) * HOUR_S
        covered = (band_end - t) / factor
        if left <= covered:
            return t + left * factor - (depart_s + offset_s)
        left -= covered
        t = band_end
    return t - (depart_s + offset_s)


def row_times_s(
    free_s: np.ndarray, depart_s: float, factors: Sequence[float], *, offset_s: float
) -> np.ndarray:
    """Return :func:`leg_time_s` of many legs departing at one time (vectorised, exact).

    The arrival is piecewise linear in the free-flow time, with a knot at each hour boundary.
    """
    free = np.asarray(free_s, dtype=float)
    start = float(depart_s) + offset_s
    hours = int(np.max(free, initial=0.0) * max(factors) // HOUR_S) + 2
    first = math.floor(start / HOUR_S)
    bounds = np.array([start] + [(first + k) * HOUR_S for k in range(1, hours + 1)])
    rates = np.array([factors[(first + k) % 24] for k in range(hours)])
    covered = np.concatenate(([0.0], np.cumsum(np.diff(bounds) / rates)))
    return np.interp(free, covered, bounds) - start


def banded_problem(
    problem: Problem, departures: dict[int, float], factors: Sequence[float]
) -> Problem:
    """Return the problem with each location's row timed at its departure hour.

    Parameters
    ----------
    problem
        The problem on free-flow travel times.
    departures
        Location index -> departure (seconds from the origin) whose hour band times that
        location's row; locations not given leave at the crews' earliest shift start.
    factors
        Travel-time multiplier per local hour 0..23.
    """
    f = _check_factors(factors)
    offset = day_offset_s(problem)
    default = min((c.shift.start_s for c in problem.crews), default=0.0)
    free = np.asarray(problem.durations_s, dtype=float)
    out = free.copy()
    used = {d.location_index for d in problem.depots} | {j.location_index for j in problem.jobs}
    for loc in used:
        t = departures.get(loc, default)
        out[loc] = row_times_s(free[loc], t, f, offset_s=offset)
    return replace(problem, durations_s=out)


def departures_of(plan: Plan) -> dict[int, float]:
    """Return location index -> the plan's departure from it (the yard: the earliest)."""
    out: dict[int, float] = {}
    for route in plan.routes:
        for step in route.steps:
            if step.location_index is None or step.type == "end":
                continue
            prev = out.get(step.location_index)
            out[step.location_index] = (
                step.departure_s if prev is None else min(prev, step.departure_s)
            )
    return out


def solve_rush_hour(
    problem: Problem, *, time_limit_s: float, factors: Sequence[float], **options: Any
) -> Plan:
    """Solve with hour-banded travel times: banded at the shift start, then by departures.

    Parameters
    ----------
    problem
        The problem on free-flow travel times.
    time_limit_s
        Total time of the two solves (each gets half).
    factors
        Travel-time multiplier per local hour 0..23.
    **options
        Fields of :class:`routing.engine.solve.SolveParams` but the time limit (``seed``,
        ``workers``, ``solution_limit`` ...).

    Returns
    -------
    Plan
        The second plan, solved on the matrix banded by the first plan's departures; its
        ``meta['rush_hour']`` holds the method and the largest ETA shift against
        :func:`timed_etas`.
    """
    half = SolveParams(time_limit_s=time_limit_s / 2, **options)
    first = solve(banded_problem(problem, {}, factors), half)
    banded = banded_problem(problem, departures_of(first), factors)
    plan = solve(banded, half)
    etas = timed_etas(problem, plan, factors)
    plan.meta["rush_hour"] = {
        "method": "origin row banded at the previous plan's departure hour",
        "max_eta_shift_s": max((e.shift_s for e in etas), key=abs, default=0.0),
    }
    return plan


@dataclass(frozen=True)
class Eta:
    """One job's arrival: in the plan and re-timed with time-dependent legs."""

    crew_id: str
    job_id: str
    planned_s: float
    timed_s: float

    @property
    def shift_s(self) -> float:
        """How much later (positive) the time-dependent arrival is."""
        return self.timed_s - self.planned_s


def timed_etas(problem: Problem, plan: Plan, factors: Sequence[float]) -> list[Eta]:
    """Re-time every route of ``plan`` leg by leg on ``problem``'s free-flow times.

    Service starts when the job's window opens at the earliest; a break starts where the plan
    put it, or when the crew gets there if later.
    """
    f = _check_factors(factors)
    offset = day_offset_s(problem)
    jobs = {j.id: j for j in problem.jobs}
    out = []
    for route in plan.routes:
        steps = route.steps
        if len(steps) < 2:
            continue
        t, loc = steps[0].departure_s, steps[0].location_index
        for step in steps[1:]:
            if step.type == "break":
                t = max(t, step.service_start_s) + step.service_s
                continue
            assert loc is not None and step.location_index is not None
            free = float(problem.durations_s[loc, step.location_index])
            t += leg_time_s(free, t, f, offset_s=offset)
            loc = step.location_index
            if step.type != "job" or step.job_id is None:
                continue
            out.append(Eta(route.crew_id, step.job_id, step.arrival_s, t))
            opens = [w.start_s for w in jobs[step.job_id].windows if w.end_s >= t]
            t = max(t, min(opens, default=t)) + step.service_s
    return out
