"""Planning by district: each district's work orders with its own yard(s) and crews.

:func:`plan_district` is a pure function of small explicit inputs (the district's work
orders, its crews and yards, the street graph or its file, the catalogue, the moment) that
returns the district's typed :class:`~geo311.plans.document.PlanDocument`; it is what a task
scheduler runs once per district. :func:`plan_districts` reads the store, splits the open
work by district (:mod:`geo311.city.districts`), plans each district and counts the work outside
every district once, per neighbourhood, instead of listing it as unassigned jobs.
:func:`save_district_plans` stores the plans of one day together (a shared ``day`` id).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from geo311.city.catalogue import Catalogue
from geo311.city.districts import OUTSIDE, Districts, load_districts
from geo311.db.store import Store
from geo311.model import WorkOrder
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.plans.repo import load_plan_document
from geo311.requests import repo as request_repo
from geo311.settings import Settings
from geo311.workorders.open_view import open_work_orders_at
from routing.dispatch.build import (
    _cached_graph,
    default_graph,
    require_aware,
    resolve_crews,
    servable_groups,
)
from routing.dispatch.day import DayPlan
from routing.dispatch.planning import DayInputs, DayOptions, catalogue_for, solve_day
from routing.engine.crews import CrewConfig
from routing.engine.graph import StreetGraph
from routing.engine.solve import SolveParams

if TYPE_CHECKING:
    from routing.distributed import TaskOptions

__all__ = [
    "OUTSIDE_DISTRICTS",
    "DistrictDay",
    "DistrictInputs",
    "plan_district",
    "plan_district_day",
    "plan_districts",
    "save_district_plans",
    "split_by_district",
]

OUTSIDE_DISTRICTS = "outside the city's districts"
"""How work that lies in no district is reported (once, counted per neighbourhood)."""


def split_by_district(
    orders: Sequence[WorkOrder], districts: Districts, *, margin_m: float = 50.0
) -> tuple[dict[str, list[WorkOrder]], list[WorkOrder]]:
    """Return the work orders of each district and those outside every district.

    Parameters
    ----------
    orders
        Work orders (their point decides).
    districts
        The city's districts.
    margin_m
        A point this close to a district joins it (see :meth:`Districts.assign`).

    Returns
    -------
    tuple
        ``{district name: [work orders]}`` (every district, in file order) and the rest.
    """
    names = districts.assign([o.lat for o in orders], [o.lon for o in orders], margin_m=margin_m)
    by_name: dict[str, list[WorkOrder]] = {n: [] for n in districts.names}
    outside: list[WorkOrder] = []
    for wo, name in zip(orders, names, strict=True):
        (outside if name == OUTSIDE else by_name[str(name)]).append(wo)
    return by_name, outside


def _graph(graph: StreetGraph | str | Path, metric_crs: str) -> StreetGraph:
    return graph if isinstance(graph, StreetGraph) else _cached_graph(str(graph), metric_crs)


@dataclass(frozen=True, kw_only=True)
class DistrictInputs:
    """What one district's day is planned from (no store, no settings: cheap to send).

    Parameters
    ----------
    district : str
        The district's name (written as the document's ``district``).
    crews : CrewConfig
        The district's yards and crews (:meth:`CrewConfig.for_district`).
    graph : StreetGraph, str or Path
        The street graph, or its file (loaded once per process: cheap to send to a worker).
    catalogue : Catalogue
        The service catalogue.
    at : datetime
        The moment planned (aware).
    metric_crs : str
        Projected CRS (metres) to load ``graph`` from a file in (the city's ``metric_crs``).
    """

    district: str
    crews: CrewConfig
    graph: StreetGraph | str | Path
    catalogue: Catalogue
    at: datetime
    metric_crs: str = ""


def plan_district_day(
    orders: Sequence[WorkOrder], inputs: DistrictInputs, params: SolveParams | None = None
) -> DayPlan:
    """Plan one district's day (the :class:`DayPlan`; see :func:`plan_district`)."""
    at = require_aware(inputs.at, "at")
    street = _graph(inputs.graph, inputs.metric_crs)
    day = DayInputs(at, inputs.catalogue, inputs.crews, street, list(orders))
    return solve_day(day, params or SolveParams(), meta={"district": inputs.district})


def plan_district(
    orders: Sequence[WorkOrder], inputs: DistrictInputs, params: SolveParams | None = None
) -> PlanDocument:
    """Plan one district's day: a pure function of its inputs (no store, no settings).

    Parameters
    ----------
    orders
        The district's open work orders.
    inputs
        The district, its crews, the street graph, the catalogue and the moment.
    params
        Solver settings (:class:`~routing.engine.solve.SolveParams`; its defaults when
        omitted).

    Returns
    -------
    PlanDocument
        The district's plan (not stored: no ``plan_id``), ``district`` set.
    """
    day = plan_district_day(orders, inputs, params)
    doc = day.to_document()
    doc.district = inputs.district
    return doc


@dataclass
class DistrictDay:
    """The district plans of one day and the work outside every district.

    Attributes
    ----------
    plans : dict
        District name -> :class:`DayPlan`.
    outside : dict
        Neighbourhood -> number of open work orders outside the planned districts.
    outside_label : str
        How that work is described (outside the city's districts, or the planned one).
    failed : dict
        District name -> why its plan could not be made (the other plans are kept).
    """

    plans: dict[str, DayPlan]
    outside: dict[str, int] = field(default_factory=dict)
    outside_label: str = OUTSIDE_DISTRICTS
    failed: dict[str, str] = field(default_factory=dict)

    def outside_lines(self) -> list[str]:
        """Return the one report of the work outside the planned districts."""
        total = sum(self.outside.values())
        if not total:
            return [f"no open work order lies {self.outside_label}"]
        parts = ", ".join(f"{n} {k}" for k, n in sorted(self.outside.items(), key=lambda x: -x[1]))
        return [f"{total} open work orders lie {self.outside_label} (not planned): {parts}"]


def neighbourhood_counts(store: Store, orders: Sequence[WorkOrder]) -> dict[str, int]:
    """Count work orders per neighbourhood (their first report's; ``unknown`` when blank)."""
    firsts = [wo.member_ids[0] for wo in orders if wo.member_ids]
    found = {
        r.service_request_id: r.neighborhood
        for r in request_repo.query_requests(store, request_repo.RequestFilters(ids=firsts))
    }
    counts: Counter[str] = Counter()
    for wo in orders:
        hood = found.get(wo.member_ids[0], "") if wo.member_ids else ""
        counts[hood.strip() or "unknown neighbourhood"] += 1
    return dict(counts)


def plan_districts(
    store: Store,
    catalogue: Catalogue | None = None,
    *,
    at: datetime,
    names: Sequence[str] | None = None,
    districts: Districts | None = None,
    options: DayOptions | None = None,
    tasks: TaskOptions | None = None,
) -> DistrictDay:
    """Plan the districts ``names`` (default all) from the work orders open at ``at``.

    Parameters
    ----------
    store
        The store holding the work orders.
    catalogue
        The service catalogue (default ``settings.services_file``).
    at
        The moment planned (aware).
    names
        The districts to plan; default every district of the city.
    districts
        Loaded districts instead of the settings' file.
    options
        Crews, street graph, settings (the districts file, crew file and street graph by
        default) and the solver budget per district (:class:`DayOptions`).
    tasks
        Plan the districts as tasks (:func:`routing.distributed.run_tasks`): on a Dask
        scheduler, local worker processes or a runner (each district then solves with one
        search worker); ``progress`` is called with each district's
        :class:`routing.distributed.TaskEvent`. None: every district in this process, one
        after the other.

    Returns
    -------
    DistrictDay
        One :class:`DayPlan` per district and the work outside the planned districts,
        counted per neighbourhood.
    """
    at = require_aware(at, "at")
    opts = options or DayOptions()
    cfg = opts.settings or Settings()
    graph = opts.graph
    cat = catalogue_for(catalogue, cfg)
    areas = districts if districts is not None else load_districts(cfg.districts_file)
    chosen = list(names) if names is not None else areas.names
    for n in chosen:
        areas.get(n)  # unknown names fail before any work
    config = resolve_crews(
        crews=opts.crews,
        crews_file=opts.crews_file,
        crew_ids=opts.crew_ids,
        settings=cfg,
        known_skills={s.skill for s in cat.services.values()},
    )
    street = graph if graph is not None else default_graph(cfg)
    orders = open_work_orders_at(store, at, groups=servable_groups(config, cat), catalogue=cat)
    by_name, outside = split_by_district(orders, areas)
    outside += [wo for n, wos in by_name.items() if n not in chosen for wo in wos]
    as_tasks = tasks is not None and (
        tasks.cluster is not None or tasks.workers is not None or tasks.runner is not None
    )
    params = replace(opts.solve_params(), workers=1) if as_tasks else opts.solve_params()
    items = {
        n: (
            by_name[n],
            DistrictInputs(
                district=n,
                crews=config.for_district(n, only=len(areas) > 1),
                # a task gets the graph's file, loaded once per worker, not the loaded graph
                graph=str(cfg.osm_drive_file) if as_tasks and graph is None else street,
                metric_crs=cfg.city.metric_crs if as_tasks and graph is None else "",
                catalogue=cat,
                at=at,
            ),
            params,
        )
        for n in chosen
    }
    plans, failed = _run_districts(items, tasks if as_tasks else None)
    label = OUTSIDE_DISTRICTS if names is None else "outside the planned district"
    return DistrictDay(plans, neighbourhood_counts(store, outside), label, failed)


_Task = tuple[Sequence[WorkOrder], DistrictInputs, SolveParams]


def _district_task(task: _Task) -> DayPlan:
    """One district's plan as a task (module level: it is pickled to the workers)."""
    return plan_district_day(*task)


def _run_districts(
    items: Mapping[str, _Task], tasks: TaskOptions | None
) -> tuple[dict[str, DayPlan], dict[str, str]]:
    """Plan every district here, or as tasks on a cluster; failures are kept apart."""
    if tasks is None:
        return {n: _district_task(task) for n, task in items.items()}, {}
    from routing.distributed import TaskFailure

    got = tasks.run(_district_task, items)
    plans = {n: r for n, r in got.items() if not isinstance(r, TaskFailure)}
    failed = {n: f"{r.error}: {r.message}" for n, r in got.items() if isinstance(r, TaskFailure)}
    return plans, failed


def save_district_plans(store: Store, day: DistrictDay) -> list[PlanDocument]:
    """Store the district plans of one day together and return them as stored.

    Every document gets its ``district``, the shared ``day`` id (``<date>/<12 hex>``) and
    the day's ``outside_districts`` counts.

    Parameters
    ----------
    store
        The store.
    day
        The planned districts.

    Returns
    -------
    list of PlanDocument
        The stored documents (with ``plan_id``), in district order.
    """
    day_id = ""
    out = []
    for name, plan in day.plans.items():
        if not day_id:
            day_id = f"{plan.plan_date}/{uuid.uuid4().hex[:12]}"
        doc = plan.to_document()
        doc.district, doc.day = name, day_id
        doc.outside_districts = dict(day.outside)
        plan_id = plan_repo.save_plan(store, doc.to_dict(), plan_date=plan.plan_date)
        out.append(load_plan_document(store, plan_id))
    return out
