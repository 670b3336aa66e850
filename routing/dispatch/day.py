"""The planned day: :class:`DayPlan`, the problem and plan with what draws and explains them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.errors import InputError
from geo311.model import WorkOrder
from routing.dispatch.document import day_plan_document
from routing.engine.crews import CrewConfig
from routing.engine.graph import Snap
from routing.engine.matrix import RoutePath, TravelTimeMatrix
from routing.engine.problem import Problem
from routing.engine.solve import Plan, Route, Unassigned
from routing.plan_document import PlanDocument

__all__ = ["DayPlan"]


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
        """Return the plan document to store, draw and serve (:mod:`routing.plan_document`).

        The solver's plan plus the work orders outside the street graph (in ``unassigned``,
        ``sla_breaches`` and ``summary.jobs_unassigned``), per step the street point and work
        order, per route the street ``geometry`` and ``legs`` with directions, and ``jobs``,
        ``locations``, ``labels``, ``crews``, ``depots``, ``at``, ``plan_date``,
        ``timezone`` and ``dispatch``.
        """
        return day_plan_document(self)

    def to_dict(self) -> dict[str, Any]:
        """Return :meth:`to_document` as JSON-ready data (what ``store.save_plan`` stores)."""
        return self.to_document().to_dict()
