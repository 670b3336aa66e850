"""Planning a day: the open work orders the crews can serve, on the street graph, solved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.db.store import Store
from geo311.model import WorkOrder
from geo311.settings import Settings
from geo311.workorders.open_view import open_work_orders_at
from routing.dispatch.build import (
    build_problem,
    default_graph,
    require_aware,
    resolve_crews,
    servable_groups,
)
from routing.dispatch.day import DayPlan
from routing.engine.crews import CrewConfig
from routing.engine.graph import StreetGraph
from routing.engine.solve import SolveParams, solve

__all__ = ["DayInputs", "DayOptions", "catalogue_for", "day_inputs", "plan_day", "solve_day"]


def catalogue_for(catalogue: Catalogue | None, settings: Settings | None) -> Catalogue:
    """Return ``catalogue``, else the one of ``settings.services_file`` (default settings)."""
    if catalogue is not None:
        return catalogue
    return load_catalogue((settings or Settings()).services_file)


@dataclass(frozen=True)
class DayInputs:
    """What a day is planned from: the moment, catalogue, crews, street graph and open work."""

    at: datetime
    catalogue: Catalogue
    config: CrewConfig
    street: StreetGraph
    orders: list[WorkOrder]


@dataclass(frozen=True, kw_only=True)
class DayOptions:
    """What a day is planned with: its crews, street graph, settings and solver budget.

    Parameters
    ----------
    crews : CrewConfig, optional
        A loaded crew configuration (instead of ``crews_file``).
    crews_file : str or Path, optional
        The crew file; default ``settings.crews_file`` / ``data/crews.toml``.
    crew_ids : sequence of str, optional
        Plan for these crews only (default every crew of the file).
    graph : StreetGraph, optional
        Street graph; default the city's street graph (loaded once per process).
    settings : Settings, optional
        Gives the default catalogue, crew file and OSM extract.
    time_limit_s : float
        Solver time limit in seconds.
    seed : int
        Solver seed.
    workers : int, optional
        Parallel searches (default: one per core, at most two).
    """

    crews: CrewConfig | None = None
    crews_file: str | Path | None = None
    crew_ids: Sequence[str] | None = None
    graph: StreetGraph | None = None
    settings: Settings | None = None
    time_limit_s: float = 10.0
    seed: int = 0
    workers: int | None = None

    def solve_params(self) -> SolveParams:
        """Return the solver's part: time limit, seed and workers."""
        return SolveParams(time_limit_s=self.time_limit_s, seed=self.seed, workers=self.workers)


def day_inputs(
    store: Store, catalogue: Catalogue | None, *, at: datetime, options: DayOptions
) -> DayInputs:
    """Resolve a day's inputs as :func:`plan_day` documents them (shared with the week's plan).

    Raises
    ------
    InputError
        When ``at`` is naive or ``options.crew_ids`` is empty.
    """
    at = require_aware(at, "at")
    settings = options.settings
    cat = catalogue_for(catalogue, settings)
    config = resolve_crews(
        crews=options.crews, crews_file=options.crews_file, crew_ids=options.crew_ids,
        settings=settings, known_skills={s.skill for s in cat.services.values()},
    )  # fmt: skip
    street = options.graph if options.graph is not None else default_graph(settings)
    orders = open_work_orders_at(store, at, groups=servable_groups(config, cat), catalogue=cat)
    return DayInputs(at, cat, config, street, list(orders))


def plan_day(
    store: Store,
    catalogue: Catalogue | None = None,
    *,
    at: datetime,
    options: DayOptions | None = None,
) -> DayPlan:
    """Plan the day's crew routes for the work orders open at ``at``.

    Parameters
    ----------
    store : Store
        The store holding the work orders.
    catalogue : Catalogue, optional
        Service catalogue (on-site minutes, skills, demand, SLA); default the one of
        ``options.settings.services_file``.
    at : datetime, keyword-only
        The moment (aware) whose open work orders are planned; the shift is on its local day
        (the crew file's time zone).
    options : DayOptions, keyword-only, optional
        Crews, street graph, settings and solver budget (:class:`DayOptions`; its defaults
        when omitted).

    Returns
    -------
    DayPlan
        Problem, plan, work orders, snaps and matrix; ``to_document()`` for storage.

    Raises
    ------
    InputError
        When ``at`` is naive or ``options.crew_ids`` is empty.
    ConfigurationError
        When the crew file is invalid or the yard is not on the street graph.
    """
    opts = options or DayOptions()
    day = day_inputs(store, catalogue, at=at, options=opts)
    return solve_day(day, opts.solve_params())


def solve_day(
    day: DayInputs, params: SolveParams, *, meta: dict[str, Any] | None = None
) -> DayPlan:
    """Build the problem of these work orders and crews, solve it and return the day's plan.

    The one step behind :func:`plan_day` (the city's open work) and a district's plan.

    Parameters
    ----------
    day
        The moment, catalogue, crews, street graph and work orders planned.
    params
        The solver's options.
    meta
        Added to the plan's ``meta`` (e.g. its district).

    Returns
    -------
    DayPlan
        The day's plan.
    """
    at, config, street, catalogue = day.at, day.config, day.street, day.catalogue
    orders = day.orders
    origin = config.origin(at.astimezone(config.tz).date())
    built = build_problem(orders, config=config, graph=street, catalogue=catalogue, origin=origin)
    plan = solve(built.problem, params)
    return DayPlan(
        at=at,
        problem=built.problem,
        plan=plan,
        work_orders=built.work_orders,
        snaps=built.snaps,
        matrix=built.matrix,
        outside=built.outside,
        crew_config=config,
        catalogue=catalogue,
        graph_source=street.summary.source,
        meta=dict(meta or {}),
    )
