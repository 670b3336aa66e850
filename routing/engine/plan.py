"""The plan a solve returns (VROOM-shaped): steps, routes, unassigned jobs, totals.

Every ``*_s`` value counts seconds from the plan's ``origin``; :meth:`Plan.to_dict` adds clock
times as ISO strings and :meth:`Plan.from_dict` reads that document back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from geo311.errors import RoutingError
from geo311.plans.document import clock_iso, unassigned_dict

DAY_S = 86400.0


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
        routes
            Every crew's route (crews without jobs count for nothing but travel totals).
        jobs_unassigned
            Number of unassigned jobs.
        solve_time_s
            Wall-clock time of the solve.
        objective
            OR-Tools objective.
        is_feasible
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
        next_shift_start_s
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
            return clock_iso(self.origin, t)

        routes = []
        for r in self.routes:
            d = asdict(r)
            for s in d["steps"]:
                s["arrival"] = clock(s["arrival_s"])
                s["departure"] = clock(s["departure_s"])
            routes.append(d)
        unassigned = [unassigned_dict(u, self.origin) for u in self.unassigned]
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
