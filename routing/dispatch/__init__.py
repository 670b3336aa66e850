"""The dispatch application: open work orders + street graph + OR-Tools -> the day's plan.

:func:`plan_day` takes the work orders open at a moment (:func:`geo311.workorders.open_view.open_work_orders_at`)
for the service groups the crews can serve, snaps them and the yard to the street graph,
computes the travel-time matrix, builds a :class:`~routing.engine.problem.Problem` (on-site minutes,
skill and demand from the catalogue, priority from the SLA) and solves it. A work order
farther from every street than the snap limit is not an error: it comes back unassigned with
the distance as its reason. The result, a :class:`DayPlan`, keeps the problem, the plan, the
work orders, the snaps and the matrix (for street paths); :meth:`DayPlan.to_document` gives
the :class:`~geo311.plans.document.PlanDocument` that :func:`save_day_plan` stores, ``maps``
draws and ``api`` serves.

By district (:mod:`routing.dispatch.districts`): :func:`plan_districts` plans each district of
the city with its own yards and crews (:func:`plan_district` is the pure per-district step) and
reports the work outside every district once; :func:`save_district_plans` stores them together.

:func:`plan_day_with_horizon` plans today against a week's horizon
(:mod:`routing.dispatch.horizon`: the next working days as capacity buckets per crew, today's
priorities from them); only today is routed and published.

:func:`replan_day` re-plans a stored plan mid-day through :func:`routing.engine.replan.replan`.
"""

from __future__ import annotations

from geo311.plans.repo import load_plan_document
from routing.dispatch.build import (
    OUTSIDE_GRAPH,
    Built,
    build_problem,
    default_graph,
    resolve_crews,
    servable_groups,
    snap_work_orders,
    snap_yards,
)
from routing.dispatch.day import DayPlan
from routing.dispatch.districts import (
    OUTSIDE_DISTRICTS,
    DistrictDay,
    DistrictInputs,
    plan_district,
    plan_district_day,
    plan_districts,
    save_district_plans,
    split_by_district,
)
from routing.dispatch.horizon import (
    Horizon,
    HorizonBucket,
    horizon_days,
    horizon_problem,
    plan_horizon,
)
from routing.dispatch.planning import DayOptions, plan_day
from routing.dispatch.replanning import ReplanChanges, plan_from_document, replan_day
from routing.dispatch.store_io import save_day_plan
from routing.dispatch.summary import format_summary, route_summary_rows
from routing.dispatch.week import HORIZON_META_KEY, WeekPlan, plan_day_with_horizon
from routing.engine.jobs import job_id_for

__all__ = [
    "HORIZON_META_KEY",
    "OUTSIDE_DISTRICTS",
    "OUTSIDE_GRAPH",
    "Built",
    "DayOptions",
    "DayPlan",
    "DistrictDay",
    "DistrictInputs",
    "Horizon",
    "HorizonBucket",
    "ReplanChanges",
    "WeekPlan",
    "build_problem",
    "default_graph",
    "format_summary",
    "horizon_days",
    "horizon_problem",
    "job_id_for",
    "load_plan_document",
    "plan_day",
    "plan_day_with_horizon",
    "plan_district",
    "plan_district_day",
    "plan_districts",
    "plan_from_document",
    "plan_horizon",
    "replan_day",
    "resolve_crews",
    "route_summary_rows",
    "save_day_plan",
    "save_district_plans",
    "servable_groups",
    "snap_work_orders",
    "snap_yards",
    "split_by_district",
]
