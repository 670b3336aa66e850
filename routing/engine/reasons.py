"""Why a job is left out of a plan: prechecks before the search, reasons after it.

:func:`precheck` finds the jobs no crew can ever do (no skill, demand above every capacity, not
reachable within any shift even alone); :func:`dropped_reason` explains a job the search left
out (crews full, not enough crew time for its priority, or not fitted).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from routing.engine.plan import Route, Unassigned
from routing.engine.problem import PRIORITY_NAMES, Crew, Job, Problem

TOLERANCE_S = 1e-6

# reason codes of unassigned jobs
NO_SKILL = "no_skill"
OVER_CAPACITY = "demand_above_capacity"
UNREACHABLE = "unreachable_in_shift"
CAPACITY_FULL = "capacity_full"
NO_TIME = "not_enough_time"
NOT_FITTED = "not_fitted"


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
    problem
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


def dropped_reason(problem: Problem, i: int, routes: list[Route], served: set[int]) -> Unassigned:
    """Explain why the search left job ``i`` out of ``routes``.

    Parameters
    ----------
    problem
        The solved problem.
    i
        Index of the dropped job in ``problem.jobs``.
    routes
        One route per crew.
    served
        Indices of the jobs the routes serve.

    Returns
    -------
    Unassigned
        Reason ``capacity_full`` (every crew with the skill is full), ``not_enough_time``
        (the scheduled work of its skill has at least its priority) or ``not_fitted``.
    """
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
