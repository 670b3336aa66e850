"""Building the day's routing problem: crews, street snaps, jobs, the travel-time matrix.

Public so that the CLI's matrix report and the benchmarks use the same steps as
:func:`routing.dispatch.plan_day`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from geo311.city.catalogue import Catalogue
from geo311.errors import ConfigurationError, InputError
from geo311.model import WorkOrder
from geo311.settings import Settings
from routing.engine.crews import CrewConfig, load_crews
from routing.engine.graph import Snap, SnapError, StreetGraph, load_street_graph
from routing.engine.jobs import DayClock, job_id_for, work_order_job
from routing.engine.matrix import TravelTimeMatrix, travel_time_matrix
from routing.engine.problem import Job, Problem, priority_from_sla
from routing.engine.solve import Unassigned

__all__ = [
    "OUTSIDE_GRAPH",
    "Built",
    "build_problem",
    "default_graph",
    "require_aware",
    "resolve_crews",
    "servable_groups",
    "snap_work_orders",
    "snap_yards",
]

OUTSIDE_GRAPH = "outside_street_graph"
"""Reason code of a work order too far from every street of the graph to be routed."""


@lru_cache(maxsize=4)
def _cached_graph(path: str | None, metric_crs: str = "") -> StreetGraph:
    if metric_crs:
        return load_street_graph(path, metric_crs=metric_crs)
    return load_street_graph(path)


def default_graph(settings: Settings | None = None) -> StreetGraph:
    """Return the street graph of the embedded OSM extract (loaded once per process).

    Parameters
    ----------
    settings : Settings, optional
        Settings whose ``osm_drive_file`` to load (in the city's ``metric_crs``); default
        the default settings' city.

    Returns
    -------
    StreetGraph
        The cached graph.
    """
    if settings is None:
        return _cached_graph(None)
    return _cached_graph(str(settings.osm_drive_file), settings.city.metric_crs)


def require_aware(at: datetime, name: str) -> datetime:
    """Return ``at`` when it is an aware datetime.

    Raises
    ------
    InputError
        Naming ``name`` and an example, when ``at`` is naive or not a datetime.
    """
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InputError(
            f"{name}={at!r} must be a timezone-aware datetime, e.g. 2015-10-06T07:00-04:00",
            field=name,
        )
    return at


def resolve_crews(
    *,
    crews: CrewConfig | None,
    crews_file: str | Path | None,
    crew_ids: Sequence[str] | None,
    settings: Settings | None,
    known_skills: set[str],
) -> CrewConfig:
    """Return the crews to plan for.

    Parameters
    ----------
    crews : CrewConfig or None, keyword-only
        A loaded crew configuration (wins over ``crews_file``).
    crews_file : str or Path or None, keyword-only
        A crew file; default ``settings.crews_file`` or ``data/crews.toml``.
    crew_ids : sequence of str or None, keyword-only
        Only these crews of the configuration, in this order (None: every crew).
    settings : Settings or None, keyword-only
        Gives the default crew file.
    known_skills : set of str, keyword-only
        Skills of the catalogue (a crew with another skill is a configuration error).

    Returns
    -------
    CrewConfig
        The crews, yards and time zone.

    Raises
    ------
    InputError
        When ``crew_ids`` is empty.
    ConfigurationError
        When a crew id is not in the configuration.
    """
    if crews is not None:
        config = crews
    else:
        path = crews_file if crews_file is not None else (settings and settings.crews_file)
        config = load_crews(path or None, known_skills=known_skills)
    if crew_ids is None:
        return config
    ids = list(crew_ids)
    if not ids:
        raise InputError(
            "crew_ids is an empty list; name at least one crew or pass None", field="crew_ids"
        )
    by_id = {c.id: c for c in config.crews}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ConfigurationError(
            f"unknown crew ids {missing}; the crew file {config.source} has {sorted(by_id)}",
            field="crew_ids",
        )
    return CrewConfig(
        timezone=config.timezone,
        yards=config.yards,
        crews=tuple(by_id[i] for i in ids),
        source=config.source,
    )


def snap_yards(graph: StreetGraph, config: CrewConfig) -> list[Snap]:
    """Return the street point of every yard (its OSM node when it has one).

    Raises
    ------
    ConfigurationError
        When a yard is farther from every street than the snap limit.
    """
    out = []
    for y in config.yards:
        if y.osm_node is not None and int(y.osm_node) in graph.node_index:
            out.append(graph.snap_to_node(int(y.osm_node), label=y.id))
            continue
        try:
            out.append(graph.snap(y.lat, y.lon, label=y.id))
        except SnapError as exc:
            raise ConfigurationError(
                f"yard {y.id!r} ({y.lat}, {y.lon}) is not on the street graph "
                f"{graph.summary.source}: {exc}; move the yard in the crew file",
                field="yards",
            ) from None
    return out


def snap_work_orders(
    graph: StreetGraph, orders: Sequence[WorkOrder]
) -> tuple[list[Snap | None], dict[int, float]]:
    """Snap every work order; those too far from any street get None and their distance.

    Returns
    -------
    tuple
        The snaps (None for a work order off the graph) and ``{order index: distance m}``
        of the work orders off the graph.
    """
    if not orders:
        return [], {}
    lats = [wo.lat for wo in orders]
    lons = [wo.lon for wo in orders]
    labels = [job_id_for(wo.work_order_id) for wo in orders]
    try:
        return list(graph.snap_many(lats, lons, labels=labels)), {}
    except SnapError as exc:
        far = dict(zip(exc.indices, exc.distances_m, strict=True))
    keep = [k for k in range(len(orders)) if k not in far]
    snaps: list[Snap | None] = [None] * len(orders)
    if keep:
        got = graph.snap_many(
            [lats[k] for k in keep], [lons[k] for k in keep], labels=[labels[k] for k in keep]
        )
        for k, s in zip(keep, got, strict=True):
            snaps[k] = s
    return snaps, far


def servable_groups(config: CrewConfig, catalogue: Catalogue) -> list[str]:
    """Return the service groups whose skill some crew of ``config`` has."""
    skills = set().union(*(c.skills for c in config.crews))
    return sorted({s.group for s in catalogue.services.values() if s.skill in skills})


def _outside(
    wo: WorkOrder,
    distance_m: float,
    graph: StreetGraph,
    catalogue: Catalogue,
    origin: datetime,
    day_start: datetime,
) -> Unassigned:
    service = catalogue.services.get(wo.service_code)
    where = f" ({wo.address})" if wo.address else ""
    return Unassigned(
        job_id=job_id_for(wo.work_order_id),
        code=OUTSIDE_GRAPH,
        reason=(
            f"work order {wo.work_order_id}{where} is {distance_m:,.0f} m from the nearest "
            f"street of the routing graph (snap limit {graph.max_snap_distance_m:g} m): "
            f"outside the mapped street network {graph.summary.source}"
        ),
        priority=priority_from_sla(wo.sla_due, day_start=day_start) if service else 0,
        ref=str(wo.work_order_id),
        location_index=-1,
        sla_due_s=(wo.sla_due - origin).total_seconds(),
    )


@dataclass
class Built:
    """A built routing problem and what explains it.

    Attributes
    ----------
    problem : Problem
        Yards first (location 0..), then the jobs.
    work_orders : dict
        Job id -> work order, the ones outside the graph included.
    snaps : list of Snap
        Street point of every matrix location.
    matrix : TravelTimeMatrix
        Travel times and street paths between the snaps.
    outside : list of Unassigned
        Work orders too far from every street (code :data:`OUTSIDE_GRAPH`).
    """

    problem: Problem
    work_orders: dict[str, WorkOrder]
    snaps: list[Snap]
    matrix: TravelTimeMatrix
    outside: list[Unassigned]


def build_problem(
    orders: Sequence[WorkOrder],
    *,
    config: CrewConfig,
    graph: StreetGraph,
    catalogue: Catalogue,
    origin: datetime,
    urgent_ids: frozenset[int] = frozenset(),
) -> Built:
    """Snap the yards and work orders, compute the matrix and build the routing problem.

    Parameters
    ----------
    orders : sequence of WorkOrder
        The work orders, in job order.
    config, graph, catalogue
        Crews and yards, street graph, service catalogue (keyword-only).
    origin : datetime, keyword-only
        Time 0 of the problem (local midnight of the planned day).
    urgent_ids : frozenset of int, keyword-only
        Work orders whose priority is raised to at least "due today".

    Returns
    -------
    Built
        The problem and its work orders, snaps, matrix and outside-graph work orders.
    """
    crews = config.crews_for(origin=origin)
    day_start = origin + timedelta(seconds=min(c.shift.start_s for c in crews))
    snaps = snap_yards(graph, config)
    wo_snaps, far = snap_work_orders(graph, orders)
    jobs: list[Job] = []
    outside: list[Unassigned] = []
    work_orders: dict[str, WorkOrder] = {}
    for k, (wo, snap) in enumerate(zip(orders, wo_snaps, strict=True)):
        work_orders[job_id_for(wo.work_order_id)] = wo
        if snap is None:
            outside.append(_outside(wo, far[k], graph, catalogue, origin, day_start))
            continue
        jobs.append(
            work_order_job(
                work_order_id=wo.work_order_id,
                service=catalogue.service(wo.service_code),
                report_count=wo.report_count,
                sla_due=wo.sla_due,
                location_index=len(snaps),
                clock=DayClock(origin=origin, day_start=day_start),
                urgent=wo.work_order_id in urgent_ids,
            )
        )
        snaps.append(snap)
    matrix = travel_time_matrix(graph, snaps)
    problem = Problem(
        depots=config.depots({y.id: k for k, y in enumerate(config.yards)}, origin=origin),
        crews=crews,
        jobs=tuple(jobs),
        durations_s=matrix.durations_s,
        distances_m=matrix.distances_m,
        origin=origin,
        known_skills=frozenset(s.skill for s in catalogue.services.values()),
    )
    return Built(problem, work_orders, snaps, matrix, outside)
