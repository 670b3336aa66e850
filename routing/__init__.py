"""geo311 routing package: the routing engine and the planning built on it.

The engine (street graph, travel-time matrices, the routing problem, the solver, re-planning,
crew files) depends on nothing of geo311 but its errors and settings types. Its public API is
re-exported here and imported on first use, so that ``import routing.x`` (e.g. in a solver
worker process) does not load the street-graph and numba stack.

``solve`` and ``replan`` are not re-exported: ``routing.solve`` and ``routing.replan`` are the
modules of those names (import the functions from them: ``from routing.solve import solve``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geo311.lazy import lazy_exports

if TYPE_CHECKING:
    from routing.checks import check_routes
    from routing.crews import CrewConfig, load_crews, parse_crews
    from routing.dispatch import DayPlan, default_graph, plan_day, replan_day, save_day_plan
    from routing.graph import Snap, SnapError, StreetGraph, build_street_graph, load_street_graph
    from routing.itinerary import crew_itinerary
    from routing.jobs import job_id_for, work_order_job
    from routing.matrix import RoutePath, TravelTimeMatrix, travel_time_matrix
    from routing.plan import Plan, Route, Step, Summary, Unassigned
    from routing.plan_document import PlanDocument, load_plan_document
    from routing.problem import Break, Crew, Depot, Job, Problem, TimeWindow
    from routing.reasons import precheck
    from routing.replan import locked_from_time
    from routing.simulate import run_simulation
    from routing.solve import build_plan, default_workers

_EXPORTS = {
    "check_routes": "routing.checks",
    "CrewConfig": "routing.crews",
    "load_crews": "routing.crews",
    "parse_crews": "routing.crews",
    "Snap": "routing.graph",
    "SnapError": "routing.graph",
    "StreetGraph": "routing.graph",
    "build_street_graph": "routing.graph",
    "load_street_graph": "routing.graph",
    "RoutePath": "routing.matrix",
    "TravelTimeMatrix": "routing.matrix",
    "travel_time_matrix": "routing.matrix",
    "Plan": "routing.plan",
    "Route": "routing.plan",
    "Step": "routing.plan",
    "Summary": "routing.plan",
    "Unassigned": "routing.plan",
    "Break": "routing.problem",
    "Crew": "routing.problem",
    "Depot": "routing.problem",
    "Job": "routing.problem",
    "Problem": "routing.problem",
    "TimeWindow": "routing.problem",
    "precheck": "routing.reasons",
    "locked_from_time": "routing.replan",
    "build_plan": "routing.solve",
    "default_workers": "routing.solve",
    # the day-planning application built on the engine
    "PlanDocument": "routing.plan_document",
    "load_plan_document": "routing.plan_document",
    "work_order_job": "routing.jobs",
    "job_id_for": "routing.jobs",
    "DayPlan": "routing.dispatch",
    "plan_day": "routing.dispatch",
    "replan_day": "routing.dispatch",
    "save_day_plan": "routing.dispatch",
    "default_graph": "routing.dispatch",
    "crew_itinerary": "routing.itinerary",
    "run_simulation": "routing.simulate",
}

__all__ = [
    "Break",
    "DayPlan",
    "PlanDocument",
    "crew_itinerary",
    "default_graph",
    "job_id_for",
    "load_plan_document",
    "plan_day",
    "replan_day",
    "run_simulation",
    "save_day_plan",
    "work_order_job",
    "Crew",
    "CrewConfig",
    "Depot",
    "Job",
    "Plan",
    "Problem",
    "Route",
    "RoutePath",
    "Snap",
    "SnapError",
    "Step",
    "StreetGraph",
    "Summary",
    "TimeWindow",
    "TravelTimeMatrix",
    "Unassigned",
    "build_plan",
    "build_street_graph",
    "check_routes",
    "default_workers",
    "load_crews",
    "load_street_graph",
    "locked_from_time",
    "parse_crews",
    "precheck",
    "travel_time_matrix",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
