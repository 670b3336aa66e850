"""A week's horizon: today in full detail, the next working days as capacity buckets per crew.

Service-level targets run across days (a streetlight has 15), so a one-day plan that only
knows "due today", "due tomorrow" and "later" fills today's spare time with whatever work is
nearest, work due next week included, and leaves work due in three days for days that may not
have room for it. :func:`plan_horizon` looks a few working days ahead: every crew has one
bucket per day (its shift minus breaks and the drive to and from the yard, times ``fill``);
the open jobs go into the buckets earliest due first (each to the earliest day with room in
a crew with its skill, the emptiest such crew). A job is estimated at its time on site plus
``travel_factor`` times the drive from its nearest neighbour (another job or a yard).

The buckets do not backfill: once a job misses a crew's day (no room left), that day is closed
to every job after it in due order for that crew. When the week cannot hold the work, first
fit would put a small job due next month into the half hour a larger job due this week left
over, raise it to "due today" and let it take today's spare time from the work that is (or is
about to be) late; that made the horizon worse than one-day planning under overload. A job
larger than a bucket (the bucket keeps a margin) that a crew can still do alone in one shift
takes a whole empty bucket; a job no crew can do in a shift fits no day and closes none (the
solver cannot route it either).

:func:`horizon_problem` returns today's problem with each job's priority raised to what its
day asks: a job the horizon puts on today becomes at least "due today", one it puts on the
next working day at least "due tomorrow"; the rest keep their SLA priority. The solver then
drops work the horizon puts later before work it puts today, and still fills spare time with
the cheapest work. Only today is routed and published; the next days are a forecast the next
morning's horizon recomputes (rolling horizon).

The buckets are an estimate: arrivals of the coming days are not known, and the drive between
jobs is approximated. ``bench/horizon_bench.py`` replays weeks of reports with and without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np

from geo311.errors import InputError
from routing.engine.problem import (
    PRIORITY_DUE_TODAY,
    PRIORITY_DUE_TOMORROW,
    Crew,
    Job,
    Problem,
)

__all__ = [
    "Horizon",
    "HorizonBucket",
    "horizon_days",
    "horizon_problem",
    "plan_horizon",
]

DEFAULT_DAYS = 5
DEFAULT_FILL = 0.9
DEFAULT_TRAVEL_FACTOR = 1.5


@dataclass(frozen=True, slots=True)
class HorizonBucket:
    """One crew's working day in the horizon.

    Attributes
    ----------
    day : date
        The local working day.
    crew_id : str
        The crew.
    capacity_s : float
        Time the crew has for work that day (shift minus breaks and the yard round trip,
        times the fill share).
    load_s : float
        Estimated time of the jobs put in the bucket.
    job_ids : tuple of str
        The jobs, earliest due first.
    """

    day: date
    crew_id: str
    capacity_s: float
    load_s: float
    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class Horizon:
    """Which work the week's plan puts on which day.

    Attributes
    ----------
    days : tuple of date
        The working days, today first.
    day_of : dict
        Job id -> index into ``days``; ``None`` for a job beyond the horizon (no open day had
        room, or no crew with its skill can do it within one shift).
    buckets : tuple of HorizonBucket
        One per day and crew, day by day.
    estimate_s : dict
        Job id -> estimated time (on site plus drive).
    sla_due_s : dict
        Job id -> SLA due time in seconds from today's problem origin (None: no SLA).
    """

    days: tuple[date, ...]
    day_of: dict[str, int | None]
    buckets: tuple[HorizonBucket, ...]
    estimate_s: dict[str, float]
    sla_due_s: dict[str, float | None]

    def jobs_on(self, index: int) -> list[str]:
        """Return the job ids the horizon puts on ``days[index]`` (earliest due first)."""
        return [j for b in self.buckets if b.day == self.days[index] for j in b.job_ids]

    def beyond(self) -> list[str]:
        """Return the job ids that fit no day of the horizon."""
        return sorted(j for j, k in self.day_of.items() if k is None)

    def late(self, origin_day: date) -> list[str]:
        """Return the job ids put on a day after their SLA due day, or beyond the horizon.

        Parameters
        ----------
        origin_day
            The local date of second 0 of ``sla_due_s`` (today's problem origin).
        """
        out = []
        for job_id, k in self.day_of.items():
            due = self.sla_due_s.get(job_id)
            if due is None:
                continue
            due_day = origin_day + timedelta(days=math.floor(due / 86400.0))
            if k is None or self.days[k] > due_day:
                out.append(job_id)
        return sorted(out)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data: ``days`` (date, jobs, crews with load and capacity), ``beyond``."""
        days = []
        for k, day in enumerate(self.days):
            crews = [
                {
                    "crew_id": b.crew_id,
                    "capacity_min": round(b.capacity_s / 60.0, 1),
                    "load_min": round(b.load_s / 60.0, 1),
                    "job_ids": list(b.job_ids),
                }
                for b in self.buckets
                if b.day == day
            ]
            days.append({"date": day.isoformat(), "jobs": self.jobs_on(k), "crews": crews})
        return {"days": days, "beyond": self.beyond()}


def horizon_days(start: date, count: int = DEFAULT_DAYS) -> list[date]:
    """Return ``start`` and the working days (Monday-Friday) after it, ``count`` days in all.

    Raises
    ------
    InputError
        When ``count`` is below 1.
    """
    if count < 1:
        raise InputError(f"days={count} must be at least 1 (today)", field="days")
    out = [start]
    d = start
    while len(out) < count:
        d += timedelta(days=1)
        if d.weekday() < 5:
            out.append(d)
    return out


def _nearest_s(problem: Problem) -> dict[str, float]:
    """Return each job's drive from its nearest other job or yard (seconds)."""
    if not problem.jobs:
        return {}
    locs = sorted(
        {j.location_index for j in problem.jobs} | {d.location_index for d in problem.depots}
    )
    idx = np.asarray(locs, dtype=np.int64)
    sub = np.asarray(problem.durations_s, dtype=float)[np.ix_(idx, idx)].copy()
    np.fill_diagonal(sub, np.inf)
    nearest = np.minimum(sub.min(axis=0), sub.min(axis=1))
    pos = {loc: k for k, loc in enumerate(locs)}
    out = {}
    for j in problem.jobs:
        v = float(nearest[pos[j.location_index]])
        out[j.id] = v if math.isfinite(v) else 0.0
    return out


def _capacity_s(problem: Problem, crew: Crew, *, fill: float) -> float:
    """Return a crew's time for work in one day: shift - breaks - yard round trip, times fill."""
    shift = crew.shift.end_s - crew.shift.start_s - sum(b.duration_s for b in crew.breaks)
    depot = problem.depot(crew.start_depot).location_index
    mine = [j.location_index for j in problem.jobs if j.skill in crew.skills]
    out_s = float(np.median(np.asarray(problem.durations_s)[depot, mine])) if mine else 0.0
    back = problem.depot(crew.end_depot).location_index
    in_s = float(np.median(np.asarray(problem.durations_s)[mine, back])) if mine else 0.0
    return max(0.0, (shift - out_s - in_s) * fill)


def _fits_a_shift(problem: Problem, crew: Crew, job: Job) -> bool:
    """Whether a crew can do the job alone in one shift: yard, job, yard (breaks taken)."""
    shift = crew.shift.end_s - crew.shift.start_s - sum(b.duration_s for b in crew.breaks)
    d = problem.durations_s
    start = problem.depot(crew.start_depot).location_index
    end = problem.depot(crew.end_depot).location_index
    loc = job.location_index
    return float(d[start, loc]) + job.service_s + float(d[loc, end]) <= shift


@dataclass
class _Book:
    """The buckets being filled: free time and jobs per day and crew, each crew's first open day.

    Jobs come earliest due first. A crew's day closes for good when a job the crew could do
    does not fit there: work due later may not take the day's leftover time (no
    backfilling). Otherwise a small job due next month would be raised to "due today" ahead
    of a larger one due this week that the bucket just missed, and today's spare time would
    go to it.
    """

    capacity: list[float]
    free: list[list[float]]
    placed: list[list[list[str]]]
    open_from: list[int]

    @classmethod
    def empty(cls, capacity: list[float], days: int) -> _Book:
        """Return empty buckets: ``capacity`` per crew, ``days`` days."""
        return cls(
            capacity=capacity,
            free=[list(capacity) for _ in range(days)],
            placed=[[[] for _ in capacity] for _ in range(days)],
            open_from=[0] * len(capacity),
        )

    def place(
        self, job_id: str, estimate_s: float, *, able: list[int], whole_day: list[int]
    ) -> int | None:
        """Put a job in the earliest open day's emptiest bucket with room; return the day.

        Parameters
        ----------
        job_id, estimate_s
            The job and its estimated time.
        able : list of int, keyword-only
            The crews (indices) with the job's skill.
        whole_day : list of int, keyword-only
            The crews of ``able`` that can do the job alone in a shift: a job larger than
            their bucket (the bucket's margin) still takes an empty one of theirs, all of it.

        Returns
        -------
        int or None
            The day's index; ``None`` when no open day has room, or when no crew can do the
            job in a day at all (then it closes no day: the solver cannot route it either).
        """
        if not any(self.capacity[c] >= estimate_s for c in able) and not whole_day:
            return None
        for k, day_free in enumerate(self.free):
            crews = [c for c in able if self.open_from[c] <= k]
            room = [c for c in crews if day_free[c] >= estimate_s] or [
                c for c in crews if c in whole_day and day_free[c] >= self.capacity[c]
            ]
            if room:
                c = max(room, key=lambda c: (day_free[c], -c))
                day_free[c] = max(day_free[c] - estimate_s, 0.0)
                self.placed[k][c].append(job_id)
                return k
            for c in crews:
                self.open_from[c] = k + 1
        return None


def plan_horizon(
    problem: Problem,
    *,
    days: Sequence[date],
    fill: float = DEFAULT_FILL,
    travel_factor: float = DEFAULT_TRAVEL_FACTOR,
) -> Horizon:
    """Put today's open jobs into capacity buckets per crew and working day, earliest due first.

    Parameters
    ----------
    problem : Problem
        Today's routing problem (its crews' shifts stand for every day of the horizon).
    days : sequence of date, keyword-only
        The horizon's working days, today first (:func:`horizon_days`).
    fill : float, keyword-only
        Share of a crew's free time the buckets may fill (0 < fill <= 1): the estimate's margin.
    travel_factor : float, keyword-only
        A job's drive is estimated as this many times the drive from its nearest neighbour.

    Returns
    -------
    Horizon
        The day of every job (``None`` beyond the horizon) and the buckets.

    Raises
    ------
    InputError
        When ``days`` is empty or ``fill`` / ``travel_factor`` are out of range.
    """
    if not days:
        raise InputError("days is empty; pass today at least (horizon_days)", field="days")
    if not 0.0 < fill <= 1.0:
        raise InputError(f"fill={fill} must be in (0, 1]", field="fill")
    if travel_factor < 0.0:
        raise InputError(f"travel_factor={travel_factor} must be >= 0", field="travel_factor")
    nearest = _nearest_s(problem)
    estimate = {j.id: j.service_s + travel_factor * nearest[j.id] for j in problem.jobs}
    book = _Book.empty([_capacity_s(problem, c, fill=fill) for c in problem.crews], len(days))
    day_of: dict[str, int | None] = {}
    for job in sorted(problem.jobs, key=_due_order):
        able = [c for c, crew in enumerate(problem.crews) if job.skill in crew.skills]
        whole = [c for c in able if _fits_a_shift(problem, problem.crews[c], job)]
        day_of[job.id] = book.place(job.id, estimate[job.id], able=able, whole_day=whole)
    buckets = tuple(
        HorizonBucket(
            day=day,
            crew_id=crew.id,
            capacity_s=book.capacity[c],
            load_s=sum(estimate[j] for j in book.placed[k][c]),
            job_ids=tuple(book.placed[k][c]),
        )
        for k, day in enumerate(days)
        for c, crew in enumerate(problem.crews)
    )
    return Horizon(
        days=tuple(days),
        day_of=day_of,
        buckets=buckets,
        estimate_s=estimate,
        sla_due_s={j.id: j.sla_due_s for j in problem.jobs},
    )


def _due_order(job: Job) -> tuple[float, int, str]:
    """Earliest due first; equal due times: higher priority first, then by id."""
    due = job.sla_due_s if job.sla_due_s is not None else math.inf
    return (due, -job.priority, job.id)


def horizon_problem(problem: Problem, horizon: Horizon) -> Problem:
    """Return today's problem with priorities raised to the day the horizon gives each job.

    A job on today becomes at least "due today", a job on the next working day at least "due
    tomorrow"; other jobs keep their priority (an overdue job stays overdue).

    Parameters
    ----------
    problem : Problem
        Today's problem (the one :func:`plan_horizon` was given).
    horizon : Horizon
        Its horizon.

    Returns
    -------
    Problem
        The same problem with new job priorities.
    """
    raise_to = {0: PRIORITY_DUE_TODAY, 1: PRIORITY_DUE_TOMORROW}
    jobs = []
    for job in problem.jobs:
        k = horizon.day_of.get(job.id)
        floor = raise_to.get(k, 0) if k is not None else 0
        jobs.append(
            replace(job, priority=max(job.priority, floor)) if floor > job.priority else job
        )
    return replace(problem, jobs=tuple(jobs))
