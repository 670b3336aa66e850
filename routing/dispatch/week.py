"""Planning today against a week's horizon: the open work orders, bucketed by day, today solved.

:func:`plan_day_with_horizon` is :func:`routing.dispatch.plan_day` with a look ahead: the open
work goes into per-crew capacity buckets of the next working days
(:func:`routing.dispatch.horizon.plan_horizon`), today's problem gets the priorities of that
forecast (:func:`routing.dispatch.horizon.horizon_problem`) and is solved. Only today is routed:
the :class:`~routing.dispatch.DayPlan` is saved and published as any day's plan; the forecast
travels in its document's ``meta["horizon"]`` for the dispatcher's horizon page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from routing.dispatch.build import (
    build_problem,
)
from routing.dispatch.day import DayPlan
from routing.dispatch.horizon import (
    DEFAULT_DAYS,
    Horizon,
    horizon_days,
    horizon_problem,
    plan_horizon,
)
from routing.dispatch.planning import DayOptions, day_inputs
from routing.engine.solve import solve

__all__ = ["HORIZON_META_KEY", "WeekPlan", "plan_day_with_horizon"]

HORIZON_META_KEY = "horizon"
"""Key of the horizon forecast in a plan document's ``meta``."""


@dataclass
class WeekPlan:
    """Today's plan and the horizon it was planned against.

    Attributes
    ----------
    day : DayPlan
        Today's routes (what is saved and published); its document's ``meta["horizon"]``
        holds ``horizon.to_dict()``.
    horizon : Horizon
        Which work the forecast puts on which working day.
    """

    day: DayPlan
    horizon: Horizon


def plan_day_with_horizon(
    store: Store,
    catalogue: Catalogue | None = None,
    *,
    at: datetime,
    days: int = DEFAULT_DAYS,
    options: DayOptions | None = None,
) -> WeekPlan:
    """Plan today's routes for the work orders open at ``at``, against a ``days``-day horizon.

    Parameters
    ----------
    store : Store
        The store holding the work orders.
    catalogue : Catalogue, optional
        Service catalogue; default the one of ``settings.services_file``.
    at : datetime, keyword-only
        The moment (aware) whose open work orders are planned; today is its local day.
    days : int, keyword-only
        Working days in the horizon, today included.
    options : DayOptions, keyword-only, optional
        Crews, street graph, settings and solver budget, as for
        :func:`routing.dispatch.plan_day`.

    Returns
    -------
    WeekPlan
        Today's plan (``day.to_document()`` to store and publish) and the horizon.

    Raises
    ------
    InputError
        When ``at`` is naive, ``days`` < 1 or ``options.crew_ids`` is empty.
    ConfigurationError
        When the crew file is invalid or the yard is not on the street graph.
    """
    opts = options or DayOptions()
    inputs = day_inputs(store, catalogue, at=at, options=opts)
    at, cat, config, street, orders = (
        inputs.at, inputs.catalogue, inputs.config, inputs.street, inputs.orders,
    )  # fmt: skip
    today = at.astimezone(config.tz).date()
    built = build_problem(
        orders, config=config, graph=street, catalogue=cat, origin=config.origin(today)
    )
    horizon = plan_horizon(built.problem, days=horizon_days(today, days))
    problem = horizon_problem(built.problem, horizon)
    plan = solve(problem, opts.solve_params())
    plan.meta[HORIZON_META_KEY] = horizon.to_dict()
    day = DayPlan(
        at=at, problem=problem, plan=plan, work_orders=built.work_orders, snaps=built.snaps,
        matrix=built.matrix, outside=built.outside, crew_config=config, catalogue=cat,
        graph_source=street.summary.source,
    )  # fmt: skip
    return WeekPlan(day=day, horizon=horizon)
