"""Work order -> routing job: the one place where a work order becomes a :class:`Job`.

Used by the day's dispatch (:mod:`routing.dispatch`) and by the season replay
(:mod:`routing.simulate.run`), so that both plan the same work the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo311.city.catalogue import Service
from routing.engine.problem import PRIORITY_DUE_TODAY, Job, priority_from_sla

__all__ = ["JOB_PREFIX", "DayClock", "job_id_for", "work_order_job"]

JOB_PREFIX = "wo-"


def job_id_for(work_order_id: int) -> str:
    """Return the job id of a work order in a plan (``wo-<id>``)."""
    return f"{JOB_PREFIX}{work_order_id}"


@dataclass(frozen=True)
class DayClock:
    """The clock of a day's routing problem.

    Attributes
    ----------
    origin
        The problem's time origin (second 0).
    day_start
        Start of the planned day, against which the SLA priority is taken.
    """

    origin: datetime
    day_start: datetime


def work_order_job(
    *,
    work_order_id: int,
    service: Service,
    report_count: int,
    sla_due: datetime,
    location_index: int,
    clock: DayClock,
    urgent: bool = False,
) -> Job:
    """Return the routing job of one work order.

    Parameters
    ----------
    work_order_id
        The work order's number; the job id is ``wo-<id>`` and its ``ref`` the number.
    service
        The work order's catalogue service (on-site minutes, skill, demand).
    report_count
        Reports merged into the work order (more reports, longer on site).
    sla_due
        When the work order is due (timezone-aware).
    location_index
        The job's row in the problem's travel-time matrix.
    clock
        The problem's time origin and the start of the planned day (the SLA priority is
        taken against it).
    urgent
        Raise the priority to at least "due today" (a re-plan's urgent insert).

    Returns
    -------
    Job
        The job, with ``sla_due_s`` relative to ``origin``.
    """
    origin = clock.origin
    priority = priority_from_sla(sla_due, day_start=clock.day_start)
    if urgent:
        priority = max(priority, PRIORITY_DUE_TODAY)
    return Job(
        id=job_id_for(work_order_id),
        location_index=location_index,
        service_s=service.on_site_minutes_for(report_count) * 60.0,
        skill=service.skill,
        demand=service.demand,
        priority=priority,
        sla_due_s=(sla_due - origin).total_seconds(),
        ref=str(work_order_id),
    )
