"""Evaluate fixed stop sequences: the times and the broken rules of routes edited by hand.

A dispatcher moves, drops or reorders stops; the solver is not asked again. Given a
:class:`~routing.engine.problem.Problem` and, per crew, the job ids in the order the crew will do
them, :func:`evaluate_routes` drives each route as written: the crew leaves the yard when its
shift starts (and the yard opens), waits for a job's time window to open, takes each break as
soon as its window is open (waiting for it when the next stop would end after the window
closes) and drives back to the yard. Nothing is reordered or left out: what the sequence
breaks is reported as a :class:`Violation` naming the crew, the stop and the clock times.

Hard violations (:data:`HARD_CODES`) cannot be worked at all (a crew without the skill, a
truck over its capacity); the others are late work a dispatcher may accept (overtime, a
window or break missed). The routes are re-checked independently by
:func:`routing.engine.checks.check_routes` (:attr:`Evaluation.checks`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from geo311.errors import RoutingError
from routing.engine.checks import check_routes
from routing.engine.plan import Plan, Route, Step, Summary, Unassigned
from routing.engine.problem import Break, Crew, Job, Problem, TimeWindow

__all__ = ["HARD_CODES", "Evaluation", "Violation", "evaluate_routes"]

HARD_CODES = frozenset({"no_skill", "capacity"})
"""Violation codes that make a route impossible to work (the others are late work)."""


@dataclass(frozen=True, slots=True)
class Violation:
    """One rule a fixed route breaks.

    Attributes
    ----------
    crew_id : str
        The crew whose route breaks it.
    job_id : str or None
        The stop concerned (None for the route as a whole: the drive back, a break).
    code : str
        ``no_skill``, ``capacity``, ``shift_end``, ``window`` or ``break``.
    message : str
        What breaks, with the clock times, e.g. ``arrives 16:40 after shift end 16:00``.
    """

    crew_id: str
    job_id: str | None
    code: str
    message: str

    @property
    def hard(self) -> bool:
        """Whether the route cannot be worked at all (:data:`HARD_CODES`)."""
        return self.code in HARD_CODES


@dataclass(frozen=True)
class Evaluation:
    """Routes driven as written, what they break, and the independent re-check.

    Attributes
    ----------
    routes : tuple of Route
        One per crew of the problem, in its order, with arrivals and departures.
    violations : tuple of Violation
        What the routes break, route by route in stop order.
    checks : tuple of str
        :func:`routing.engine.checks.check_routes` on the routes (empty when every rule holds).
    """

    routes: tuple[Route, ...]
    violations: tuple[Violation, ...]
    checks: tuple[str, ...]

    @property
    def hard(self) -> list[Violation]:
        """The violations that make a route impossible to work."""
        return [v for v in self.violations if v.hard]

    def route(self, crew_id: str) -> Route:
        """Return one crew's route.

        Raises
        ------
        RoutingError
            When no route is the crew's.
        """
        for r in self.routes:
            if r.crew_id == crew_id:
                return r
        raise RoutingError(
            f"no route for crew {crew_id!r}; crews: {[r.crew_id for r in self.routes]}"
        )

    def to_plan(
        self,
        problem: Problem,
        *,
        unassigned: Sequence[Unassigned],
        next_shift_start_s: float,
        meta: Mapping[str, Any] | None = None,
    ) -> Plan:
        """Return the routes as a :class:`Plan` (violations: the independent re-check).

        Parameters
        ----------
        problem
            The problem evaluated.
        unassigned
            The jobs on no route, with their reasons.
        next_shift_start_s
            Start of the next shift (SLA breaches are counted up to it).
        meta
            Facts kept with the plan.
        """
        summary = Summary.of_routes(
            self.routes,
            jobs_unassigned=len(unassigned),
            solve_time_s=0.0,
            objective=0,
            is_feasible=not self.checks,
        )
        return Plan(
            origin=problem.origin,
            summary=summary,
            routes=self.routes,
            unassigned=tuple(unassigned),
            violations=self.checks,
            next_shift_start_s=next_shift_start_s,
            meta=dict(meta or {}),
        )


def evaluate_routes(
    problem: Problem,
    sequences: Mapping[str, Sequence[str]],
    *,
    labels: Mapping[str, str] | None = None,
    fixed: Sequence[Route] = (),
) -> Evaluation:
    """Drive each crew's stops in the given order and report what breaks.

    Parameters
    ----------
    problem
        The day's problem (crews, depots, jobs, travel matrices).
    sequences
        Crew id -> job ids in route order; a crew not named has an empty route.
    labels
        Job id -> text naming the stop in messages (default: the job id).
    fixed
        Routes of crews not in ``sequences`` kept as they are (e.g. the solver's, with its
        times); they are only re-checked. Other crews get an empty route.

    Returns
    -------
    Evaluation
        The routes (every crew of the problem), the violations and the independent re-check.

    Raises
    ------
    RoutingError
        When a crew or job id is unknown, or a job is on two routes or twice on one.
    """
    jobs = {j.id: j for j in problem.jobs}
    crews = {c.id: c for c in problem.crews}
    kept = {r.crew_id: r for r in fixed if r.crew_id not in sequences}
    _check_sequences({**{c: r.job_ids for c, r in kept.items()}, **sequences}, jobs, crews)
    names = dict(labels or {})
    routes: list[Route] = []
    violations: list[Violation] = []
    for crew in problem.crews:
        if crew.id in kept:
            routes.append(kept[crew.id])
            continue
        walk = _Walk(problem, crew, names)
        routes.append(walk.run([jobs[j] for j in sequences.get(crew.id, ())]))
        violations += walk.violations
    return Evaluation(tuple(routes), tuple(violations), tuple(check_routes(problem, routes)))


def _check_sequences(
    sequences: Mapping[str, Sequence[str]], jobs: Mapping[str, Job], crews: Mapping[str, Crew]
) -> None:
    unknown_crews = sorted(set(sequences) - set(crews))
    if unknown_crews:
        raise RoutingError(f"crews {unknown_crews} are not crews of the problem: {sorted(crews)}")
    seen: dict[str, str] = {}
    for crew_id, ids in sequences.items():
        for job_id in ids:
            if job_id not in jobs:
                raise RoutingError(f"crew {crew_id!r}: job {job_id!r} is not a job of the problem")
            if job_id in seen:
                raise RoutingError(
                    f"job {job_id!r} is on the route of crew {seen[job_id]!r} and of crew "
                    f"{crew_id!r}; a stop belongs to one route, once"
                )
            seen[job_id] = crew_id


@dataclass
class _Walk:
    """One crew driving its stops in order: steps, running totals and what breaks."""

    problem: Problem
    crew: Crew
    labels: Mapping[str, str]
    steps: list[Step] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    clock: float = 0.0
    loc: int = 0
    load: float = 0.0
    distance_m: float = 0.0
    travel_s: float = 0.0
    waiting_s: float = 0.0
    service_s: float = 0.0
    break_s: float = 0.0

    def hhmm(self, t_s: float) -> str:
        """Local clock time ``HH:MM`` of a time."""
        return self.problem.clock(t_s).strftime("%H:%M")

    def stop(self, k: int, job: Job) -> str:
        """``stop 3 (label)`` for messages."""
        return f"stop {k} ({self.labels.get(job.id, job.id)})"

    def flag(self, job: Job | None, code: str, message: str) -> None:
        """Record a violation of this crew's route."""
        self.violations.append(Violation(self.crew.id, job.id if job else None, code, message))

    def step(self, kind: str, arrival_s: float, departure_s: float, **extra: Any) -> Step:
        """Return a step with the running load, distance and travel."""
        return Step(
            kind, arrival_s, departure_s, load=self.load, distance_m=self.distance_m,
            duration_s=self.travel_s, **extra,
        )  # fmt: skip

    @property
    def shift_end_s(self) -> float:
        """When the crew must be back: its shift's end, or the end yard's closing if earlier."""
        return min(self.crew.shift.end_s, self.problem.depot(self.crew.end_depot).close_s)

    def run(self, jobs: list[Job]) -> Route:
        """Drive the stops in order and return the route."""
        start = self.problem.depot(self.crew.start_depot)
        self.clock = max(self.crew.shift.start_s, start.open_s)
        self.loc = start.location_index
        self.steps.append(Step("start", self.clock, self.clock, location_index=self.loc))
        pending = sorted(self.crew.breaks, key=lambda b: min(w.start_s for w in b.windows))
        for k, job in enumerate(jobs, start=1):
            self.take_breaks(pending, job.location_index, job.service_s, job.windows)
            self.visit(k, job)
        end = self.problem.depot(self.crew.end_depot).location_index
        if jobs:
            self.take_breaks(pending, end, 0.0, (), last=True)
        self.drive(end)
        self.steps.append(self.step("end", self.clock, self.clock, location_index=end))
        if jobs and self.clock > self.shift_end_s + 1e-3:
            self.flag(
                None,
                "shift_end",
                f"crew {self.crew.id} is back at the yard {self.hhmm(self.clock)} after shift "
                f"end {self.hhmm(self.shift_end_s)}",
            )
        return self.route()

    def drive(self, to: int) -> None:
        """Drive from the current place to location ``to``."""
        self.clock += float(self.problem.durations_s[self.loc, to])
        self.travel_s += float(self.problem.durations_s[self.loc, to])
        self.distance_m += float(self.problem.distances_m[self.loc, to])
        self.loc = to

    def take_breaks(
        self,
        pending: list[Break],
        to: int,
        service_s: float,
        windows: Sequence[TimeWindow],
        *,
        last: bool = False,
    ) -> None:
        """Take the breaks due before driving to ``to`` (every one left when ``last``).

        A break is taken now when its window is open (or already closed: late), or when the
        next stop would end after the window closes (waiting for it to open).
        """
        while pending:
            brk = pending[0]
            window = next((w for w in brk.windows if w.end_s >= self.clock), None)
            if window is not None and self.clock < window.start_s and not last:
                arrive = self.clock + float(self.problem.durations_s[self.loc, to])
                opens = next((w.start_s for w in windows if w.end_s >= arrive), arrive)
                if max(arrive, opens) + service_s <= window.end_s:
                    return  # the next stop still ends before the window closes
            pending.pop(0)
            begin = self.clock if window is None else max(self.clock, window.start_s)
            if window is None:
                closed = max(w.end_s for w in brk.windows)
                self.flag(
                    None,
                    "break",
                    f"crew {self.crew.id}: break {brk.id} starts {self.hhmm(begin)}, after its "
                    f"window closed at {self.hhmm(closed)}",
                )
            self.steps.append(
                self.step(
                    "break", begin, begin + brk.duration_s, service_s=brk.duration_s,
                    location_index=self.loc, break_id=brk.id,
                )
            )  # fmt: skip
            self.break_s += brk.duration_s
            self.clock = begin + brk.duration_s

    def visit(self, k: int, job: Job) -> None:
        """Drive to a job, wait for its window, work it; note what breaks."""
        self.drive(job.location_index)
        arrival = self.clock
        if job.skill not in self.crew.skills:
            self.flag(
                job,
                "no_skill",
                f"{self.stop(k, job)}: crew {self.crew.id} lacks skill {job.skill} "
                f"(it has {', '.join(sorted(self.crew.skills))})",
            )
        window = next((w for w in job.windows if w.end_s >= arrival), None)
        begin = max(arrival, window.start_s) if window is not None else arrival
        if job.windows and window is None:
            closes = max(w.end_s for w in job.windows)
            self.flag(
                job,
                "window",
                f"{self.stop(k, job)}: arrives {self.hhmm(arrival)} after its time window "
                f"closed at {self.hhmm(closes)}",
            )
        self.load += job.demand
        if self.load > self.crew.capacity + 1e-6:
            self.flag(
                job,
                "capacity",
                f"{self.stop(k, job)}: crew {self.crew.id} would carry {self.load:g}, above its "
                f"capacity {self.crew.capacity:g}",
            )
        self.work(k, job, arrival, begin)

    def work(self, k: int, job: Job, arrival: float, begin: float) -> None:
        """Serve a job from ``begin``; flag work past the end of the shift."""
        done = begin + job.service_s
        end = self.shift_end_s
        if arrival > end + 1e-3:
            self.flag(
                job,
                "shift_end",
                f"{self.stop(k, job)}: arrives {self.hhmm(arrival)} after shift end "
                f"{self.hhmm(end)}",
            )
        elif done > end + 1e-3:
            self.flag(
                job,
                "shift_end",
                f"{self.stop(k, job)}: work ends {self.hhmm(done)}, after shift end "
                f"{self.hhmm(end)}",
            )
        self.waiting_s += begin - arrival
        self.service_s += job.service_s
        self.clock = done
        self.steps.append(
            self.step(
                "job", arrival, done, waiting_s=begin - arrival, service_s=job.service_s,
                location_index=job.location_index, job_id=job.id, ref=job.ref,
            )
        )  # fmt: skip

    def route(self) -> Route:
        """Return the route with its totals."""
        day_h = (self.steps[-1].arrival_s - self.steps[0].departure_s) / 3600.0
        return Route(
            crew_id=self.crew.id,
            steps=tuple(self.steps),
            travel_s=self.travel_s,
            distance_m=self.distance_m,
            service_s=self.service_s,
            waiting_s=self.waiting_s,
            break_s=self.break_s,
            cost=self.crew.cost_per_hour * day_h,
        )
