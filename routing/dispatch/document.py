"""The plan document of a :class:`~routing.dispatch.day.DayPlan` (:mod:`routing.plan_document`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from routing.engine.directions import directions, instruction_dict
from routing.engine.matrix import RoutePath
from routing.engine.problem import PRIORITY_NAMES
from routing.engine.solve import Route, Step
from routing.plan_document import (
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

if TYPE_CHECKING:
    from routing.dispatch.day import DayPlan

__all__ = ["day_plan_document"]


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
