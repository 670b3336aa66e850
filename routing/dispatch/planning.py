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
from routing.engine.solve import solve

__all__ = ["DayInputs", "catalogue_for", "day_inputs", "plan_day"]


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


def day_inputs(  # noqa: PLR0913 - parameter object pending (issue 22, listed in the i22-params report)
    store: Store,
    catalogue: Catalogue | None,
    *,
    at: datetime,
    crews: CrewConfig | None,
    crews_file: str | Path | None,
    crew_ids: Sequence[str] | None,
    graph: StreetGraph | None,
    settings: Settings | None,
) -> DayInputs:
    """Resolve a day's inputs as :func:`plan_day` documents them (shared with the week's plan).

    Raises
    ------
    InputError
        When ``at`` is naive or ``crew_ids`` is empty.
    """
    at = require_aware(at, "at")
    cat = catalogue_for(catalogue, settings)
    config = resolve_crews(
        crews=crews, crews_file=crews_file, crew_ids=crew_ids, settings=settings,
        known_skills={s.skill for s in cat.services.values()},
    )  # fmt: skip
    street = graph if graph is not None else default_graph(settings)
    orders = open_work_orders_at(store, at, groups=servable_groups(config, cat), catalogue=cat)
    return DayInputs(at, cat, config, street, list(orders))


def plan_day(  # noqa: PLR0913 - parameter object pending (issue 22, listed in the i22-params report)
    store: Store,
    catalogue: Catalogue | None = None,
    *,
    at: datetime,
    crews: CrewConfig | None = None,
    crews_file: str | Path | None = None,
    crew_ids: Sequence[str] | None = None,
    graph: StreetGraph | None = None,
    settings: Settings | None = None,
    time_limit_s: float = 10.0,
    seed: int = 0,
    workers: int | None = None,
) -> DayPlan:
    """Plan the day's crew routes for the work orders open at ``at``.

    Parameters
    ----------
    store : Store
        The store holding the work orders.
    catalogue : Catalogue, optional
        Service catalogue (on-site minutes, skills, demand, SLA); default the one of
        ``settings.services_file``.
    at : datetime, keyword-only
        The moment (aware) whose open work orders are planned; the shift is on its local day
        (the crew file's time zone).
    crews : CrewConfig, keyword-only, optional
        A loaded crew configuration (instead of ``crews_file``).
    crews_file : str or Path, keyword-only, optional
        The crew file; default ``settings.crews_file`` / ``data/crews.toml``.
    crew_ids : sequence of str, keyword-only, optional
        Plan for these crews only (default every crew of the file).
    graph : StreetGraph, keyword-only, optional
        Street graph; default the city's street graph (loaded once per process).
    settings : Settings, keyword-only, optional
        Gives the default catalogue, crew file and OSM extract.
    time_limit_s : float, keyword-only
        Solver time limit in seconds.
    seed : int, keyword-only
        Solver seed.
    workers : int, keyword-only, optional
        Parallel searches (default: one per core, at most two).

    Returns
    -------
    DayPlan
        Problem, plan, work orders, snaps and matrix; ``to_document()`` for storage.

    Raises
    ------
    InputError
        When ``at`` is naive or ``crew_ids`` is empty.
    ConfigurationError
        When the crew file is invalid or the yard is not on the street graph.
    """
    day = day_inputs(
        store, catalogue, at=at, crews=crews, crews_file=crews_file, crew_ids=crew_ids,
        graph=graph, settings=settings,
    )  # fmt: skip
    return solve_day(
        day.orders, config=day.config, street=day.street, catalogue=day.catalogue, at=day.at,
        time_limit_s=time_limit_s, seed=seed, workers=workers,
    )  # fmt: skip


def solve_day(  # noqa: PLR0913 - parameter object pending (issue 22, listed in the i22-params report)
    orders: Sequence[WorkOrder],
    *,
    config: CrewConfig,
    street: StreetGraph,
    catalogue: Catalogue,
    at: datetime,
    time_limit_s: float,
    seed: int,
    workers: int | None,
    meta: dict[str, Any] | None = None,
) -> DayPlan:
    """Build the problem of these work orders and crews, solve it and return the day's plan.

    The one step behind :func:`plan_day` (the city's open work) and a district's plan.
    """
    origin = config.origin(at.astimezone(config.tz).date())
    built = build_problem(orders, config=config, graph=street, catalogue=catalogue, origin=origin)
    plan = solve(built.problem, time_limit_s=time_limit_s, seed=seed, workers=workers)
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
