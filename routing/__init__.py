"""geo311 routing package: the routing engine and the planning built on it.

The engine (street graph, travel-time matrices, the routing problem, the solver, re-planning,
crew files) depends on nothing of geo311 but its errors and settings types. Its public API is
re-exported here and imported on first use, so that ``import routing.x`` (e.g. in a solver
worker process) does not load the street-graph and numba stack.

``solve`` and ``replan`` are not re-exported: ``routing.engine.solve`` and ``routing.engine.replan`` are the
modules of those names (import the functions from them: ``from routing.engine.solve import solve``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geo311.lazy import lazy_exports

if TYPE_CHECKING:
    from geo311.plans.document import PlanDocument
    from geo311.plans.repo import load_plan_document
    from routing.dispatch import (
        DayOptions,
        DayPlan,
        ReplanChanges,
        default_graph,
        plan_day,
        replan_day,
        save_day_plan,
    )
    from routing.engine.checks import check_routes
    from routing.engine.crews import CrewConfig, load_crews, parse_crews
    from routing.engine.graph import (
        Snap,
        SnapError,
        StreetGraph,
        build_street_graph,
        load_street_graph,
    )
    from routing.engine.jobs import job_id_for, work_order_job
    from routing.engine.matrix import RoutePath, TravelTimeMatrix, travel_time_matrix
    from routing.engine.plan import Plan, Route, Step, Summary, Unassigned
    from routing.engine.problem import Break, Crew, Depot, Job, Problem, TimeWindow
    from routing.engine.reasons import precheck
    from routing.engine.replan import locked_from_time
    from routing.engine.solve import SolveParams, build_plan, default_workers
    from routing.itinerary import crew_itinerary
    from routing.simulate.run import run_simulation

_EXPORTS = {
    "check_routes": "routing.engine.checks",
    "CrewConfig": "routing.engine.crews",
    "load_crews": "routing.engine.crews",
    "parse_crews": "routing.engine.crews",
    "Snap": "routing.engine.graph",
    "SnapError": "routing.engine.graph",
    "StreetGraph": "routing.engine.graph",
    "build_street_graph": "routing.engine.graph",
    "load_street_graph": "routing.engine.graph",
    "RoutePath": "routing.engine.matrix",
    "TravelTimeMatrix": "routing.engine.matrix",
    "travel_time_matrix": "routing.engine.matrix",
    "Plan": "routing.engine.plan",
    "Route": "routing.engine.plan",
    "Step": "routing.engine.plan",
    "Summary": "routing.engine.plan",
    "Unassigned": "routing.engine.plan",
    "Break": "routing.engine.problem",
    "Crew": "routing.engine.problem",
    "Depot": "routing.engine.problem",
    "Job": "routing.engine.problem",
    "Problem": "routing.engine.problem",
    "TimeWindow": "routing.engine.problem",
    "precheck": "routing.engine.reasons",
    "locked_from_time": "routing.engine.replan",
    "SolveParams": "routing.engine.solve",
    "build_plan": "routing.engine.solve",
    "default_workers": "routing.engine.solve",
    # the day-planning application built on the engine
    "PlanDocument": "geo311.plans.document",
    "load_plan_document": "geo311.plans.repo",
    "work_order_job": "routing.engine.jobs",
    "job_id_for": "routing.engine.jobs",
    "DayOptions": "routing.dispatch",
    "DayPlan": "routing.dispatch",
    "ReplanChanges": "routing.dispatch",
    "plan_day": "routing.dispatch",
    "replan_day": "routing.dispatch",
    "save_day_plan": "routing.dispatch",
    "default_graph": "routing.dispatch",
    "crew_itinerary": "routing.itinerary",
    "run_simulation": "routing.simulate.run",
}

__all__ = [
    "Break",
    "DayOptions",
    "DayPlan",
    "ReplanChanges",
    "SolveParams",
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
