"""The planned day: :class:`DayPlan`, the problem and plan with what draws and explains them.

:func:`day_plan_document` writes it as the plan document (:mod:`geo311.plans.document`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.errors import InputError
from geo311.model import WorkOrder
from geo311.plans.document import (
    BreakDoc,
    CrewDoc,
    DepotDoc,
    DirectionDoc,
    DispatchDoc,
    EdgeDoc,
    JobDoc,
    LegDoc,
    PlanDocument,
    RouteDoc,
    StepDoc,
    SummaryDoc,
    UnassignedDoc,
    clock_at,
    unassigned_dict,
)
from routing.engine.crews import CrewConfig
from routing.engine.directions import directions, instruction_dict
from routing.engine.graph import Snap
from routing.engine.matrix import RoutePath, TravelTimeMatrix
from routing.engine.problem import PRIORITY_NAMES, Problem
from routing.engine.solve import Plan, Route, Step, Unassigned

__all__ = ["DayPlan", "day_plan_document"]


@dataclass
class DayPlan:
    """A planned day: the problem, the solved plan and what is needed to draw and explain it.

    Attributes
    ----------
    at : datetime
        The moment the open work orders were taken.
    problem : Problem
        The routing problem solved (location 0.. are the yards, then the jobs).
    plan : Plan
        The solver's plan.
    work_orders : dict
        Job id -> :class:`~geo311.model.WorkOrder`, for every job of the problem and every
        work order left outside the graph.
    snaps : list of Snap
        The street point of every matrix location index.
    matrix : TravelTimeMatrix or None
        The travel-time matrix (gives street paths); ``None`` for a plan read back from a
        document.
    outside : list of Unassigned
        Work orders too far from every street (code ``outside_street_graph``).
    crew_config : CrewConfig
        The crews and yards used.
    catalogue : Catalogue
        The service catalogue used.
    graph_source : str
        Where the street graph came from.
    meta : dict
        Extra facts stored with the plan (e.g. ``replanned_from``).
    """

    at: datetime
    problem: Problem
    plan: Plan
    work_orders: dict[str, WorkOrder]
    snaps: list[Snap]
    matrix: TravelTimeMatrix | None
    outside: list[Unassigned]
    crew_config: CrewConfig
    catalogue: Catalogue
    graph_source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def plan_date(self) -> str:
        """The planned day, ``YYYY-MM-DD`` (local time)."""
        return self.problem.origin.date().isoformat()

    @property
    def unassigned(self) -> list[Unassigned]:
        """Every work order left out: the solver's and those outside the street graph."""
        return list(self.plan.unassigned) + list(self.outside)

    def sla_breaches(self) -> list[Unassigned]:
        """Return the unserved work orders whose SLA falls due before the next shift starts.

        Returns
        -------
        list of Unassigned
            Sorted by due time (outside-graph work orders included, with their code).
        """
        limit = self.plan.next_shift_start_s
        out = [u for u in self.unassigned if u.sla_due_s is not None and u.sla_due_s < limit]
        return sorted(out, key=lambda u: (u.sla_due_s or 0.0, u.job_id))

    def path(self, i: int, j: int) -> RoutePath:
        """Return the street path between two matrix location indices.

        Raises
        ------
        InputError
            When the plan has no matrix (it was read back from a document).
        """
        if self.matrix is None:
            raise InputError(
                "this DayPlan has no travel-time matrix; re-plan it with plan_day() to get paths",
                field="matrix",
            )
        return self.matrix.path(i, j)

    def legs(self, route: Route) -> list[tuple[int, int, RoutePath]]:
        """Return ``(from_step, to_step, path)`` for each drive of a route (breaks skipped)."""
        places = [
            (k, s)
            for k, s in enumerate(route.steps)
            if s.type != "break" and s.location_index is not None
        ]
        out = []
        for (ka, a), (kb, b) in zip(places, places[1:], strict=False):
            assert a.location_index is not None and b.location_index is not None
            out.append((ka, kb, self.path(a.location_index, b.location_index)))
        return out

    def job_label(self, job_id: str) -> str:
        """Return ``"<service name>, <address>"`` for a job (or its id when unknown)."""
        wo = self.work_orders.get(job_id)
        if wo is None:
            return job_id
        service = self.catalogue.services.get(wo.service_code)
        name = service.name if service is not None else wo.service_code
        return f"{name}, {wo.address}" if wo.address else name

    def to_document(self) -> PlanDocument:
        """Return the plan document to store, draw and serve (:mod:`geo311.plans.document`).

        The solver's plan plus the work orders outside the street graph (in ``unassigned``,
        ``sla_breaches`` and ``summary.jobs_unassigned``), per step the street point and work
        order, per route the street ``geometry`` and ``legs`` with directions, and ``jobs``,
        ``locations``, ``labels``, ``crews``, ``depots``, ``at``, ``plan_date``,
        ``timezone`` and ``dispatch``.
        """
        return day_plan_document(self)

    def to_dict(self) -> dict[str, Any]:
        """Return :meth:`to_document` as JSON-ready data (what ``geo311.plans.repo.save_plan`` stores)."""
        return self.to_document().to_dict()


def _step(step: Step, origin: datetime, locations: list[list[float]]) -> StepDoc:
    where: dict[str, Any] = {}
    if step.location_index is not None:
        where["lat"], where["lon"] = locations[step.location_index]
    if step.type == "job" and step.ref is not None:
        where["work_order_id"] = int(step.ref)
    return StepDoc(
        **asdict(step),
        arrival=clock_at(origin, step.arrival_s),
        departure=clock_at(origin, step.departure_s),
        **where,
    )


def _leg(ka: int, kb: int, path: RoutePath, destination: str) -> LegDoc:
    return LegDoc(
        from_step=ka,
        to_step=kb,
        duration_s=path.duration_s,
        distance_m=path.distance_m,
        coords=[[round(a, 7), round(b, 7)] for a, b in path.coords],
        edges=[
            EdgeDoc(
                name=e.name,
                highway=e.highway,
                length_m=round(e.length_m, 2),
                travel_time_s=round(e.travel_time_s, 3),
                bearing_start=round(e.bearing_start, 1),
                bearing_end=round(e.bearing_end, 1),
            )
            for e in path.edges
        ],
        directions=[
            DirectionDoc(**instruction_dict(i))
            for i in directions(path.edges, destination=destination)
        ],
    )


def _route(day: DayPlan, route: Route, locations: list[list[float]]) -> RouteDoc:
    legs: list[LegDoc] = []
    geometry: list[list[float]] = []
    if route.job_ids and day.matrix is not None:
        for ka, kb, path in day.legs(route):
            to = route.steps[kb]
            dest = (
                f"stop {route.job_ids.index(to.job_id) + 1}: {day.job_label(to.job_id)}"
                if to.type == "job" and to.job_id is not None
                else "the yard"
            )
            leg = _leg(ka, kb, path, dest)
            for p in leg.coords:
                if not geometry or geometry[-1] != p:
                    geometry.append(p)
            legs.append(leg)
    fields = {k: v for k, v in asdict(route).items() if k != "steps"}
    steps = [_step(s, day.plan.origin, locations) for s in route.steps]
    return RouteDoc(**fields, steps=steps, geometry=geometry, legs=legs)


def _jobs(day: DayPlan) -> dict[str, JobDoc]:
    jobs: dict[str, JobDoc] = {}
    job_by_id = {j.id: j for j in day.problem.jobs}
    for job_id, wo in day.work_orders.items():
        job = job_by_id.get(job_id)
        service = day.catalogue.services.get(wo.service_code)
        jobs[job_id] = JobDoc(
            work_order_id=wo.work_order_id,
            service_code=wo.service_code,
            service_name=service.name if service else wo.service_code,
            service_group=wo.service_group,
            address=wo.address,
            report_count=wo.report_count,
            member_ids=list(wo.member_ids),
            opened=wo.opened,
            sla_due=wo.sla_due,
            lat=wo.lat,
            lon=wo.lon,
            location_index=job.location_index if job else None,
            on_site_min=job.service_s / 60.0 if job else None,
            skill=job.skill if job else (service.skill if service else ""),
            demand=job.demand if job else None,
            priority=job.priority if job else None,
            priority_name=PRIORITY_NAMES.get(job.priority, "") if job else "",
            snap_distance_m=day.snaps[job.location_index].distance_m if job else None,
        )
    return jobs


def _crews(day: DayPlan) -> list[CrewDoc]:
    origin = day.problem.origin
    units = {c.id: c.capacity_unit for c in day.crew_config.crews}
    return [
        CrewDoc(
            id=c.id,
            label=c.label,
            skills=sorted(c.skills),
            shift_start=clock_at(origin, c.shift.start_s),
            shift_end=clock_at(origin, c.shift.end_s),
            capacity=c.capacity,
            capacity_unit=units.get(c.id, ""),
            cost_per_hour=c.cost_per_hour,
            breaks=[
                BreakDoc(
                    id=b.id,
                    minutes=b.duration_s / 60.0,
                    windows=[
                        [clock_at(origin, w.start_s), clock_at(origin, w.end_s)] for w in b.windows
                    ],
                )
                for b in c.breaks
            ],
        )
        for c in day.problem.crews
    ]


def _depots(day: DayPlan, locations: list[list[float]]) -> list[DepotDoc]:
    yards = {y.id: y for y in day.crew_config.yards}
    return [
        DepotDoc(
            id=d.id,
            label=d.label,
            location_index=d.location_index,
            lat=locations[d.location_index][0],
            lon=locations[d.location_index][1],
            assumed=yards[d.id].assumed if d.id in yards else False,
        )
        for d in day.problem.depots
    ]


def _dispatch(day: DayPlan) -> DispatchDoc:
    return DispatchDoc(
        work_orders_open=len(day.work_orders),
        jobs=len(day.problem.jobs),
        outside_street_graph=len(day.outside),
        graph=day.graph_source,
        crews_file=day.crew_config.source,
        **day.meta,
    )


def day_plan_document(day: DayPlan) -> PlanDocument:
    """Return the document of a planned day (what is stored, drawn and served).

    Parameters
    ----------
    day : DayPlan
        The plan.

    Returns
    -------
    PlanDocument
        The solver's plan, the work orders outside the street graph among the unassigned,
        street points, geometry and legs with directions, jobs, crews, depots and dispatch
        facts.
    """
    plan = day.plan
    locations = [[s.snapped_lat, s.snapped_lon] for s in day.snaps]
    unassigned = [UnassignedDoc(**unassigned_dict(u, plan.origin)) for u in plan.unassigned]
    unassigned += [UnassignedDoc(**unassigned_dict(u, day.problem.origin)) for u in day.outside]
    summary = {**asdict(plan.summary), "jobs_unassigned": len(unassigned)}
    return PlanDocument(
        origin=plan.origin,
        summary=SummaryDoc(**summary),
        routes=[_route(day, r, locations) for r in plan.routes],
        unassigned=unassigned,
        sla_breaches=[u.job_id for u in day.sla_breaches()],
        violations=list(plan.violations),
        next_shift_start_s=plan.next_shift_start_s,
        next_shift_start=clock_at(plan.origin, plan.next_shift_start_s),
        meta=plan.meta,
        at=day.at,
        plan_date=day.plan_date,
        timezone=day.crew_config.timezone,
        locations=locations,
        labels={job_id: day.job_label(job_id) for job_id in day.work_orders},
        jobs=_jobs(day),
        crews=_crews(day),
        depots=_depots(day, locations),
        dispatch=_dispatch(day),
    )
