"""Independent re-check of routes in float seconds (windows, shifts, breaks, skills, capacity)."""

from __future__ import annotations

from routing.engine.plan import Route, Step
from routing.engine.problem import Crew, Job, Problem

_TOL_S = 1e-3


def check_routes(problem: Problem, routes: list[Route]) -> list[str]:
    """Independently re-check routes in float seconds.

    Parameters
    ----------
    problem
        The problem.
    routes
        Routes to check (one per crew).

    Returns
    -------
    list of str
        Violations (empty when windows, shifts, depot hours, breaks, skills, capacity and
        travel times all hold).
    """
    jobs = {j.id: j for j in problem.jobs}
    crews = {c.id: c for c in problem.crews}
    out: list[str] = []
    for r in routes:
        crew = crews[r.crew_id]
        out += _check_hours(problem, crew, r)
        load, breaks_taken = _check_steps(problem, crew, r, jobs, out)
        if load > crew.capacity + 1e-6:
            out.append(f"crew {crew.id!r}: load {load:g} above capacity {crew.capacity:g}")
        if r.job_ids:
            out += _check_breaks(crew, breaks_taken)
    return out


def _check_hours(problem: Problem, crew: Crew, r: Route) -> list[str]:
    """Check the route leaves after the shift and depot open and is back before they close."""
    sd, ed = problem.depot(crew.start_depot), problem.depot(crew.end_depot)
    out = []
    if r.steps[0].departure_s < max(crew.shift.start_s, sd.open_s) - _TOL_S:
        out.append(f"crew {crew.id!r} leaves before its shift or the depot opens")
    if r.steps[-1].arrival_s > min(crew.shift.end_s, ed.close_s) + _TOL_S:
        out.append(f"crew {crew.id!r} is back after its shift ends or the depot closes")
    return out


def _check_steps(
    problem: Problem, crew: Crew, r: Route, jobs: dict[str, Job], out: list[str]
) -> tuple[float, list[Step]]:
    """Walk the steps, appending violations to ``out``; return the load and the breaks taken."""
    tol = _TOL_S
    d = problem.durations_s
    first, last = r.steps[0], r.steps[-1]
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
            out += _check_job(crew, job, s, min_arrival)
            load += job.demand
            clock = s.service_start_s + job.service_s
        elif last.arrival_s < min_arrival - tol:
            out.append(f"crew {crew.id!r}: arrives at the end depot too early for travel")
        loc = s.location_index
    return load, breaks_taken


def _check_job(crew: Crew, job: Job, s: Step, min_arrival: float) -> list[str]:
    """Check the crew has the skill, can get there in time, and serves within a window."""
    tol = _TOL_S
    out = []
    if job.skill not in crew.skills:
        out.append(f"job {job.id!r} needs {job.skill!r}, crew {crew.id!r} lacks it")
    start = s.service_start_s
    if start < min_arrival - tol:
        out.append(f"job {job.id!r}: service starts before the crew can arrive")
    if job.windows and not any(w.start_s - tol <= start <= w.end_s + tol for w in job.windows):
        out.append(f"job {job.id!r}: service at {start:g} s is outside its windows")
    return out


def _check_breaks(crew: Crew, breaks_taken: list[Step]) -> list[str]:
    """Every break of the crew is taken, and starts within one of its windows."""
    out = []
    for brk in crew.breaks:
        taken = [b for b in breaks_taken if b.break_id == brk.id]
        if not taken:
            out.append(f"crew {crew.id!r}: break {brk.id!r} not taken")
        elif not any(
            w.start_s - _TOL_S <= taken[0].arrival_s <= w.end_s + _TOL_S for w in brk.windows
        ):
            out.append(f"crew {crew.id!r}: break {brk.id!r} starts outside its windows")
    return out
