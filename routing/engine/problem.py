"""The routing problem: depots, crews, jobs and travel times, validated as a whole.

Small frozen dataclasses in the style of PyVRP's ``Model`` and VROOM's input. Every time in
a :class:`Problem` is a number of seconds (float) from :attr:`Problem.origin`, an aware
datetime, so that a plan maps back to clock times. Travel comes in directly as two matrices
over *location indices*: ``durations_s[i][j]`` (seconds) and ``distances_m[i][j]`` (metres);
each depot and each job names its location index. Where the matrices come from (street graph,
Euclidean benchmark ...) is the caller's business.

:meth:`Problem.validate` reports every problem at once, each naming the object's id. A job
that no crew can do is *not* a validation error: the solver returns it unassigned with the
reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from geo311.errors import RoutingError

# Priority levels, from the SLA due time (higher = dropped last).
PRIORITY_LATER = 0
PRIORITY_DUE_TOMORROW = 1
PRIORITY_DUE_TODAY = 2
PRIORITY_OVERDUE = 3
PRIORITY_NAMES = {
    PRIORITY_LATER: "later",
    PRIORITY_DUE_TOMORROW: "due tomorrow",
    PRIORITY_DUE_TODAY: "due today",
    PRIORITY_OVERDUE: "overdue",
}
MAX_PRIORITY = PRIORITY_OVERDUE

OBJECTIVES = ("duration", "distance")


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """A closed interval of time, in seconds from the problem origin.

    Attributes
    ----------
    start_s, end_s : float
        First and last allowed second (``end_s >= start_s``).
    """

    start_s: float
    end_s: float

    def contains(self, t_s: float) -> bool:
        """Return whether ``t_s`` lies in the window (ends included)."""
        return self.start_s <= t_s <= self.end_s


@dataclass(frozen=True, slots=True)
class Break:
    """A crew break: a duration whose *start* lies in one of the windows (VROOM convention).

    Attributes
    ----------
    duration_s : float
        Length of the break in seconds.
    windows : tuple of TimeWindow
        Allowed start times of the break; the break is taken during the crew's working day
        (between leaving the start depot and arriving at the end depot).
    id : str
        Name of the break in the plan (``lunch``).
    """

    duration_s: float
    windows: tuple[TimeWindow, ...]
    id: str = "break"


@dataclass(frozen=True, slots=True)
class Depot:
    """A yard where crews start and end their day.

    Attributes
    ----------
    id : str
        Unique depot id.
    location_index : int
        Row/column of the depot in the travel matrices.
    open_s, close_s : float
        Opening hours (seconds from the problem origin); crews leave after ``open_s`` and are
        back by ``close_s``.
    label : str
        Human-readable name, e.g. ``"assumed yard (Albany St)"``.
    """

    id: str
    location_index: int
    open_s: float = 0.0
    close_s: float = math.inf
    label: str = ""


@dataclass(frozen=True, slots=True)
class Crew:
    """A crew (vehicle): skills, shift, breaks, capacity, depots and cost.

    Attributes
    ----------
    id : str
        Unique crew id.
    skills : frozenset of str
        Skills the crew has; a job needs one skill.
    shift : TimeWindow
        Working day: leave the start depot no earlier than ``shift.start_s``, be back at the
        end depot by ``shift.end_s``.
    breaks : tuple of Break
        Breaks taken during the day.
    capacity : float
        Load the crew can carry (tons of asphalt, or a number of stops).
    start_depot, end_depot : str
        Depot ids.
    cost_per_hour : float
        Money cost of one hour of the crew's working day (reporting only).
    label : str
        Human-readable name.
    """

    id: str
    skills: frozenset[str]
    shift: TimeWindow
    capacity: float
    start_depot: str
    end_depot: str
    breaks: tuple[Break, ...] = ()
    cost_per_hour: float = 0.0
    label: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    """One task for a crew (an open work order, or a benchmark customer).

    Attributes
    ----------
    id : str
        Unique job id.
    location_index : int
        Row/column of the job in the travel matrices.
    service_s : float
        Time on site in seconds.
    skill : str
        The one skill a crew needs to do the job.
    windows : tuple of TimeWindow
        Allowed start-of-service times (several allowed; empty = any time in the shift).
    demand : float
        Load taken from the crew's capacity.
    priority : int
        0 (later) .. 3 (overdue); see :func:`priority_from_sla`. Higher priorities are dropped
        last: one dropped job of a priority costs more than any travel plus all dropped jobs of
        lower priorities.
    sla_due_s : float or None
        SLA due time, seconds from the origin (for the SLA breaches of a plan).
    ref : str or None
        The work-order id this job stands for (free text).
    """

    id: str
    location_index: int
    service_s: float
    skill: str
    windows: tuple[TimeWindow, ...] = ()
    demand: float = 0.0
    priority: int = PRIORITY_LATER
    sla_due_s: float | None = None
    ref: str | None = None


@dataclass(frozen=True)
class Problem:
    """A whole routing problem.

    Attributes
    ----------
    depots, crews, jobs : tuple
        The objects; ids must be unique within each kind.
    durations_s : numpy.ndarray
        Square float matrix of travel times in seconds between location indices.
    distances_m : numpy.ndarray
        Square float matrix of travel distances in metres, same shape.
    origin : datetime
        Aware datetime of time 0 (e.g. midnight of the planned day, local time).
    objective : str
        ``"duration"`` (minimise travel time, the default) or ``"distance"``.
    known_skills : frozenset of str or None
        Every valid skill (e.g. the catalogue's). When given, a job or crew naming another skill
        is a validation error (a typo); a known skill that no crew has is not an error: such a
        job comes back unassigned.
    """

    depots: tuple[Depot, ...]
    crews: tuple[Crew, ...]
    jobs: tuple[Job, ...]
    durations_s: np.ndarray
    distances_m: np.ndarray
    origin: datetime
    objective: str = "duration"
    known_skills: frozenset[str] | None = None
    _depot_by_id: dict[str, Depot] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depots", tuple(self.depots))
        object.__setattr__(self, "crews", tuple(self.crews))
        object.__setattr__(self, "jobs", tuple(self.jobs))
        object.__setattr__(self, "durations_s", np.asarray(self.durations_s, dtype=float))
        object.__setattr__(self, "distances_m", np.asarray(self.distances_m, dtype=float))
        object.__setattr__(self, "_depot_by_id", {d.id: d for d in self.depots})

    def depot(self, depot_id: str) -> Depot:
        """Return the depot with this id.

        Raises
        ------
        RoutingError
            When no depot has the id.
        """
        try:
            return self._depot_by_id[depot_id]
        except KeyError:
            raise RoutingError(
                f"unknown depot id {depot_id!r}: known depots are {sorted(self._depot_by_id)}"
            ) from None

    def clock(self, t_s: float) -> datetime:
        """Return the aware datetime of ``t_s`` seconds from the origin."""
        return self.origin + timedelta(seconds=float(t_s))

    def seconds(self, when: datetime) -> float:
        """Return ``when`` (aware datetime) as seconds from the origin.

        Raises
        ------
        RoutingError
            When ``when`` is naive.
        """
        if when.tzinfo is None:
            raise RoutingError(f"time {when.isoformat()} is naive: pass a timezone-aware datetime")
        return (when - self.origin).total_seconds()

    @property
    def skills(self) -> frozenset[str]:
        """Every skill at least one crew has."""
        out: set[str] = set()
        for crew in self.crews:
            out |= crew.skills
        return frozenset(out)

    def validate(self) -> Problem:
        """Check the whole problem and report every error at once.

        Returns
        -------
        Problem
            ``self``, so that ``problem.validate()`` chains.

        Raises
        ------
        RoutingError
            One error listing every problem found, each naming the object's id.
        """
        errors = problem_errors(self)
        if errors:
            raise RoutingError(
                f"invalid routing problem ({len(errors)} error(s)):\n- " + "\n- ".join(errors)
            )
        return self


def _window_errors(what: str, windows: Sequence[TimeWindow]) -> list[str]:
    errors = []
    for k, w in enumerate(windows):
        if not (math.isfinite(w.start_s) and not math.isnan(w.end_s)):
            errors.append(f"{what}: window {k} has a non-finite start {w.start_s}")
        elif w.end_s < w.start_s:
            errors.append(
                f"{what}: window {k} ends ({w.end_s:g} s) before it starts ({w.start_s:g} s); "
                "swap or fix the bounds"
            )
    return errors


def problem_errors(problem: Problem) -> list[str]:
    """Return every validation error of a problem as a list of messages (empty when valid).

    Parameters
    ----------
    problem
        The problem to check.

    Returns
    -------
    list of str
        Messages, each naming the object (``crew 'c1'``, ``job 'wo-12'``) and the fix.
    """
    errors, n_loc = _shape_errors(problem)
    for kind, ids in (
        ("depot", [x.id for x in problem.depots]),
        ("crew", [x.id for x in problem.crews]),
        ("job", [x.id for x in problem.jobs]),
    ):
        errors += _duplicate_errors(kind, ids)
    depot_locs: set[int] = set()
    for dep in problem.depots:
        if _location_ok(f"depot {dep.id!r}", dep.location_index, n_loc, errors):
            depot_locs.add(int(dep.location_index))
        if dep.close_s < dep.open_s:
            errors.append(
                f"depot {dep.id!r}: closes ({dep.close_s:g} s) before it opens ({dep.open_s:g} s)"
            )
    depot_ids = {x.id for x in problem.depots}
    for crew in problem.crews:
        errors += _crew_errors(crew, depot_ids, problem.known_skills)
    for job in problem.jobs:
        ok = _location_ok(f"job {job.id!r}", job.location_index, n_loc, errors)
        errors += _job_errors(job, problem.known_skills)
        if ok and depot_locs and n_loc > 0:
            errors += _depot_reach_errors(problem, job, sorted(depot_locs))
    if n_loc > 0 and problem.distances_m.shape == problem.durations_s.shape:
        errors += _matrix_errors(problem, depot_locs, n_loc)
    return errors


def _shape_errors(problem: Problem) -> tuple[list[str], int]:
    """Check the matrices' shapes, the origin and the objective; return errors and size."""
    errors: list[str] = []
    d, dist = problem.durations_s, problem.distances_m
    n_loc = -1
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        errors.append(f"durations_s must be a square matrix, got shape {d.shape}")
    else:
        n_loc = d.shape[0]
    if dist.shape != d.shape:
        errors.append(
            f"distances_m has shape {dist.shape} but durations_s has {d.shape}: they must match"
        )
    if problem.origin.tzinfo is None:
        errors.append(
            "origin is a naive datetime: give it a time zone (tzinfo=ZoneInfo(city time zone))"
        )
    if problem.objective not in OBJECTIVES:
        errors.append(f"objective {problem.objective!r} is unknown: use one of {OBJECTIVES}")
    return errors, n_loc


def _duplicate_errors(kind: str, ids: list[str]) -> list[str]:
    """Name every id used more than once."""
    errors = []
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            errors.append(f"{kind} id {i!r} is used twice: ids must be unique")
        seen.add(i)
    return errors


def _location_ok(what: str, idx: int, n_loc: int, errors: list[str]) -> bool:
    """Whether ``idx`` is a row of the matrix (noting an error in ``errors`` when not)."""
    if n_loc < 0:
        return False
    if not isinstance(idx, int | np.integer) or not 0 <= int(idx) < n_loc:
        errors.append(f"{what}: location_index {idx} is out of range for a {n_loc}x{n_loc} matrix")
        return False
    return True


def _crew_errors(crew: Crew, depot_ids: set[str], known: frozenset[str] | None) -> list[str]:
    """Check a crew's shift, depots, capacity, cost, skills and breaks."""
    what = f"crew {crew.id!r}"
    errors = _window_errors(f"{what} shift", [crew.shift])
    if not math.isfinite(crew.shift.end_s):
        errors.append(f"{what}: shift end must be finite")
    for attr in ("start_depot", "end_depot"):
        if getattr(crew, attr) not in depot_ids:
            errors.append(
                f"{what}: {attr} {getattr(crew, attr)!r} is not a depot id "
                f"(known: {sorted(depot_ids)})"
            )
    if not (crew.capacity >= 0 and math.isfinite(crew.capacity)):
        errors.append(f"{what}: capacity {crew.capacity} must be a finite number >= 0")
    if crew.cost_per_hour < 0:
        errors.append(f"{what}: cost_per_hour {crew.cost_per_hour} must be >= 0")
    if not crew.skills:
        errors.append(f"{what}: has no skills; give it at least one (e.g. 'asphalt')")
    elif known is not None and not crew.skills <= known:
        errors.append(
            f"{what}: skills {sorted(crew.skills - known)} are unknown "
            f"(known skills: {sorted(known)})"
        )
    for b in crew.breaks:
        if not (b.duration_s >= 0 and math.isfinite(b.duration_s)):
            errors.append(f"{what} break {b.id!r}: duration {b.duration_s} must be >= 0")
        if not b.windows:
            errors.append(f"{what} break {b.id!r}: needs at least one window")
        errors += _window_errors(f"{what} break {b.id!r}", b.windows)
    return errors


def _job_errors(job: Job, known: frozenset[str] | None) -> list[str]:
    """Check a job's service time, demand, priority, skill and windows."""
    what = f"job {job.id!r}"
    errors = []
    if not (job.service_s >= 0 and math.isfinite(job.service_s)):
        errors.append(f"{what}: service_s {job.service_s} must be a finite number >= 0")
    if not (job.demand >= 0 and math.isfinite(job.demand)):
        errors.append(f"{what}: demand {job.demand} must be a finite number >= 0")
    if not 0 <= job.priority <= MAX_PRIORITY:
        errors.append(f"{what}: priority {job.priority} must be in 0..{MAX_PRIORITY}")
    if not job.skill:
        errors.append(f"{what}: skill is empty; name the skill the job needs")
    elif known is not None and job.skill not in known:
        errors.append(
            f"{what}: skill {job.skill!r} is unknown (known skills: {sorted(known)}); "
            "fix the catalogue entry or the job"
        )
    errors += _window_errors(what, job.windows)
    return errors


def _depot_reach_errors(problem: Problem, job: Job, locs: list[int]) -> list[str]:
    """Check the job can be driven to from every depot and back."""
    d = problem.durations_s
    li = int(job.location_index)
    row = d[li, locs]
    col = d[locs, li]
    if np.all(np.isfinite(row)) and np.all(np.isfinite(col)):
        return []
    return [
        f"job {job.id!r}: travel time to or from location {li} is NaN/inf "
        "(unreachable on the street graph); snap it to the connected network"
    ]


def _matrix_errors(problem: Problem, depot_locs: set[int], n_loc: int) -> list[str]:
    """Check travel between the used locations: no negative values, nothing unreachable."""
    d, dist = problem.durations_s, problem.distances_m
    errors: list[str] = []
    used = sorted(
        depot_locs
        | {int(j.location_index) for j in problem.jobs if 0 <= int(j.location_index) < n_loc}
    )
    if not used:
        return errors
    sub_d = d[np.ix_(used, used)]
    sub_m = dist[np.ix_(used, used)]
    finite = np.isfinite(sub_d)
    if np.any(sub_d[finite] < 0):
        errors.append("durations_s has negative travel times: travel must be >= 0")
    if np.any(sub_m[np.isfinite(sub_m)] < 0):
        errors.append("distances_m has negative distances: distances must be >= 0")
    if not np.all(finite):
        bad = [used[i] for i in sorted(set(np.argwhere(~finite)[:, 0]))]
        job_at = {int(j.location_index): j.id for j in problem.jobs}
        names = [job_at.get(b, f"location {b}") for b in bad[:10]]
        errors.append(
            f"durations_s has NaN/inf between used locations (from {names}): "
            "every job must be reachable from every other; snap to the connected network"
        )
    return errors


def priority_from_sla(
    sla_due: datetime | None, *, day_start: datetime, day_end: datetime | None = None
) -> int:
    """Return a job's priority from its SLA due time.

    Parameters
    ----------
    sla_due
        The SLA due time (aware). ``None`` counts as "later".
    day_start
        Start of the planned day (aware); work due before it is overdue.
    day_end
        End of the planned day; defaults to ``day_start + 1 day``.

    Returns
    -------
    int
        :data:`PRIORITY_OVERDUE` (3) when due before ``day_start``, :data:`PRIORITY_DUE_TODAY`
        (2) when due before ``day_end``, :data:`PRIORITY_DUE_TOMORROW` (1) when due within the
        following day, else :data:`PRIORITY_LATER` (0).

    Raises
    ------
    RoutingError
        When a datetime is naive.
    """
    for name, value in (("sla_due", sla_due), ("day_start", day_start), ("day_end", day_end)):
        if value is not None and value.tzinfo is None:
            raise RoutingError(f"{name} {value.isoformat()} is naive: pass an aware datetime")
    if sla_due is None:
        return PRIORITY_LATER
    end = day_end if day_end is not None else day_start + timedelta(days=1)
    if sla_due < day_start:
        return PRIORITY_OVERDUE
    if sla_due < end:
        return PRIORITY_DUE_TODAY
    if sla_due < end + timedelta(days=1):
        return PRIORITY_DUE_TOMORROW
    return PRIORITY_LATER
