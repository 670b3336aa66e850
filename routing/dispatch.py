"""The Boston dispatch pipeline: open work orders + street graph + OR-Tools -> the day's plan.

:func:`plan_day` takes the work orders open at a moment (:func:`geo311.workorders.open_work_orders_at`)
for the service groups the crews can serve, snaps them and the yard to the street graph,
computes the travel-time matrix, builds a :class:`~routing.problem.Problem` (on-site minutes,
skill and demand from the catalogue, priority from the SLA) and solves it. A work order
farther from every street than the snap limit is not an error: it comes back unassigned with
the distance as its reason. The result, a :class:`DayPlan`, keeps the problem, the plan, the
work orders, the snaps and the matrix (for street paths), and :meth:`DayPlan.to_dict` gives
the document that is stored (``store.save_plan``), drawn by ``maps`` and served by ``api``.

:func:`replan_day` re-plans a stored plan mid-day through :func:`routing.replan.replan`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from geo311.catalogue import Catalogue, load_catalogue
from geo311.errors import ConfigurationError, InputError, NotFoundError
from geo311.model import WorkOrder
from geo311.settings import Settings
from geo311.store import Store
from geo311.workorders import open_work_orders_at
from routing._directions import directions, instruction_dict
from routing.crews import CrewConfig, load_crews
from routing.graph import Snap, SnapError, StreetGraph, load_street_graph
from routing.matrix import RoutePath, TravelTimeMatrix, travel_time_matrix
from routing.problem import (
    PRIORITY_DUE_TODAY,
    PRIORITY_NAMES,
    Job,
    Problem,
    priority_from_sla,
)
from routing.replan import locked_from_time, replan
from routing.solve import Plan, Route, Step, Unassigned, solve

__all__ = [
    "OUTSIDE_GRAPH",
    "DayPlan",
    "default_graph",
    "job_id_for",
    "plan_day",
    "replan_day",
]

OUTSIDE_GRAPH = "outside_street_graph"
"""Reason code of a work order too far from every street of the graph to be routed."""

JOB_PREFIX = "wo-"


def job_id_for(work_order_id: int) -> str:
    """Return the job id of a work order in a plan (``wo-<id>``)."""
    return f"{JOB_PREFIX}{work_order_id}"


@lru_cache(maxsize=4)
def _cached_graph(path: str | None) -> StreetGraph:
    return load_street_graph(path)


def default_graph(settings: Settings | None = None) -> StreetGraph:
    """Return the street graph of the embedded OSM extract (loaded once per process).

    Parameters
    ----------
    settings : Settings, optional
        Settings whose ``osm_drive_file`` to load; default the embedded Back Bay extract.

    Returns
    -------
    StreetGraph
        The cached graph.
    """
    return _cached_graph(str(settings.osm_drive_file) if settings is not None else None)


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
        Work orders too far from every street (code :data:`OUTSIDE_GRAPH`).
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
        name = (
            self.catalogue.services[wo.service_code].name
            if wo.service_code in (self.catalogue.services)
            else wo.service_code
        )
        return f"{name}, {wo.address}" if wo.address else name

    def to_dict(self) -> dict[str, Any]:
        """Return the plan document to store, draw and serve.

        The plan's VROOM-like dict (:meth:`routing.solve.Plan.to_dict`) plus:

        * ``unassigned`` / ``sla_breaches`` also list the work orders outside the street graph
          (``summary.jobs_unassigned`` counts them);
        * per step: ``lat``/``lon`` (the street point), and for a job ``work_order_id``;
        * per route: ``geometry`` (``[[lat, lon], ...]`` along the streets, yard to yard) and
          ``legs`` (from/to step, ``coords``, street ``edges`` and turn-by-turn ``directions``);
        * ``jobs`` (job id -> work-order facts), ``locations`` (``[lat, lon]`` per matrix
          index), ``labels`` (job id -> "service, address"), ``crews``, ``depots``, ``at``,
          ``plan_date``, ``timezone`` and ``dispatch`` (counts and sources).

        Returns
        -------
        dict
            JSON-ready data; :func:`plan_from_document` reads the plan back.
        """
        doc = self.plan.to_dict()
        origin = self.problem.origin

        def clock(t: float | None) -> str | None:
            return None if t is None else (origin + timedelta(seconds=t)).isoformat()

        for u in self.outside:
            d = asdict(u)
            d["sla_due"] = clock(u.sla_due_s)
            doc["unassigned"].append(d)
        doc["summary"]["jobs_unassigned"] = len(doc["unassigned"])
        doc["sla_breaches"] = [u.job_id for u in self.sla_breaches()]
        locations = [[s.snapped_lat, s.snapped_lon] for s in self.snaps]
        for route_doc, route in zip(doc["routes"], self.plan.routes, strict=True):
            for step in route_doc["steps"]:
                idx = step.get("location_index")
                if idx is not None:
                    step["lat"], step["lon"] = locations[idx]
                if step.get("type") == "job" and step.get("ref") is not None:
                    step["work_order_id"] = int(step["ref"])
            legs = []
            geometry: list[list[float]] = []
            if route.job_ids and self.matrix is not None:
                for ka, kb, path in self.legs(route):
                    to = route.steps[kb]
                    dest = (
                        f"stop {route.job_ids.index(to.job_id) + 1}: {self.job_label(to.job_id)}"
                        if to.type == "job" and to.job_id is not None
                        else "the yard"
                    )
                    coords = [[round(a, 7), round(b, 7)] for a, b in path.coords]
                    for p in coords:
                        if not geometry or geometry[-1] != p:
                            geometry.append(p)
                    legs.append(
                        {
                            "from_step": ka,
                            "to_step": kb,
                            "duration_s": path.duration_s,
                            "distance_m": path.distance_m,
                            "coords": coords,
                            "edges": [
                                {
                                    "name": e.name,
                                    "highway": e.highway,
                                    "length_m": round(e.length_m, 2),
                                    "travel_time_s": round(e.travel_time_s, 3),
                                    "bearing_start": round(e.bearing_start, 1),
                                    "bearing_end": round(e.bearing_end, 1),
                                }
                                for e in path.edges
                            ],
                            "directions": [
                                instruction_dict(i)
                                for i in directions(path.edges, destination=dest)
                            ],
                        }
                    )
            route_doc["geometry"] = geometry
            route_doc["legs"] = legs
        jobs: dict[str, Any] = {}
        job_by_id = {j.id: j for j in self.problem.jobs}
        for job_id, wo in self.work_orders.items():
            job = job_by_id.get(job_id)
            service = self.catalogue.services.get(wo.service_code)
            jobs[job_id] = {
                "work_order_id": wo.work_order_id,
                "service_code": wo.service_code,
                "service_name": service.name if service else wo.service_code,
                "service_group": wo.service_group,
                "address": wo.address,
                "report_count": wo.report_count,
                "member_ids": list(wo.member_ids),
                "opened": wo.opened.isoformat(),
                "sla_due": wo.sla_due.isoformat(),
                "lat": wo.lat,
                "lon": wo.lon,
                "location_index": job.location_index if job else None,
                "on_site_min": job.service_s / 60.0 if job else None,
                "skill": job.skill if job else (service.skill if service else ""),
                "demand": job.demand if job else None,
                "priority": job.priority if job else None,
                "priority_name": PRIORITY_NAMES.get(job.priority, "") if job else "",
                "snap_distance_m": (self.snaps[job.location_index].distance_m if job else None),
            }
        crews_by_id = {c.id: c for c in self.crew_config.crews}
        yards = {y.id: y for y in self.crew_config.yards}
        doc.update(
            at=self.at.isoformat(),
            plan_date=self.plan_date,
            timezone=self.crew_config.timezone,
            locations=locations,
            labels={job_id: self.job_label(job_id) for job_id in self.work_orders},
            jobs=jobs,
            crews=[
                {
                    "id": c.id,
                    "label": c.label,
                    "skills": sorted(c.skills),
                    "shift_start": clock(c.shift.start_s),
                    "shift_end": clock(c.shift.end_s),
                    "capacity": c.capacity,
                    "capacity_unit": crews_by_id[c.id].capacity_unit if c.id in crews_by_id else "",
                    "cost_per_hour": c.cost_per_hour,
                    "breaks": [
                        {
                            "id": b.id,
                            "minutes": b.duration_s / 60.0,
                            "windows": [[clock(w.start_s), clock(w.end_s)] for w in b.windows],
                        }
                        for b in c.breaks
                    ],
                }
                for c in self.problem.crews
            ],
            depots=[
                {
                    "id": d.id,
                    "label": d.label,
                    "location_index": d.location_index,
                    "lat": locations[d.location_index][0],
                    "lon": locations[d.location_index][1],
                    "assumed": yards[d.id].assumed if d.id in yards else False,
                }
                for d in self.problem.depots
            ],
            dispatch={
                "work_orders_open": len(self.work_orders),
                "jobs": len(self.problem.jobs),
                "outside_street_graph": len(self.outside),
                "graph": self.graph_source,
                "crews_file": self.crew_config.source,
                **self.meta,
            },
        )
        return doc


# ---------------------------------------------------------------- building the problem


def _resolve_crews(
    crews: CrewConfig | str | Path | Sequence[str] | None,
    settings: Settings | None,
    known_skills: set[str],
) -> CrewConfig:
    if isinstance(crews, CrewConfig):
        return crews
    if isinstance(crews, str | Path):
        return load_crews(crews, known_skills=known_skills)
    path = settings.crews_file if settings is not None else None
    config = load_crews(path, known_skills=known_skills)
    if crews is None:
        return config
    ids = list(crews)
    if not ids:
        raise InputError(
            "crews is an empty list; name at least one crew or pass None", field="crews"
        )
    by_id = {c.id: c for c in config.crews}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise ConfigurationError(
            f"unknown crew ids {missing}; the crew file {config.source} has {sorted(by_id)}",
            field="crews",
        )
    return CrewConfig(
        timezone=config.timezone,
        yards=config.yards,
        crews=tuple(by_id[i] for i in ids),
        source=config.source,
    )


def _snap_yards(graph: StreetGraph, config: CrewConfig) -> list[Snap]:
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


def _snap_work_orders(
    graph: StreetGraph, orders: Sequence[WorkOrder]
) -> tuple[list[Snap | None], dict[int, float]]:
    """Snap every work order; those too far from any street get None and their distance."""
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


def _job_for(
    wo: WorkOrder,
    location_index: int,
    catalogue: Catalogue,
    problem_origin: datetime,
    day_start: datetime,
    *,
    urgent: bool = False,
) -> Job:
    service = catalogue.service(wo.service_code)
    priority = priority_from_sla(wo.sla_due, day_start=day_start)
    if urgent:
        priority = max(priority, PRIORITY_DUE_TODAY)
    return Job(
        id=job_id_for(wo.work_order_id),
        location_index=location_index,
        service_s=service.on_site_minutes_for(wo.report_count) * 60.0,
        skill=service.skill,
        demand=service.demand,
        priority=priority,
        sla_due_s=(wo.sla_due - problem_origin).total_seconds(),
        ref=str(wo.work_order_id),
    )


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
class _Built:
    problem: Problem
    work_orders: dict[str, WorkOrder]
    snaps: list[Snap]
    matrix: TravelTimeMatrix
    outside: list[Unassigned]


def _build(
    orders: Sequence[WorkOrder],
    *,
    config: CrewConfig,
    graph: StreetGraph,
    catalogue: Catalogue,
    origin: datetime,
    urgent_ids: frozenset[int] = frozenset(),
) -> _Built:
    crews = config.crews_for(origin=origin)
    day_start = origin + timedelta(seconds=min(c.shift.start_s for c in crews))
    yard_snaps = _snap_yards(graph, config)
    wo_snaps, far = _snap_work_orders(graph, orders)
    snaps = list(yard_snaps)
    jobs: list[Job] = []
    outside: list[Unassigned] = []
    work_orders: dict[str, WorkOrder] = {}
    for k, (wo, snap) in enumerate(zip(orders, wo_snaps, strict=True)):
        work_orders[job_id_for(wo.work_order_id)] = wo
        if snap is None:
            outside.append(_outside(wo, far[k], graph, catalogue, origin, day_start))
            continue
        jobs.append(
            _job_for(
                wo,
                len(snaps),
                catalogue,
                origin,
                day_start,
                urgent=wo.work_order_id in urgent_ids,
            )
        )
        snaps.append(snap)
    matrix = travel_time_matrix(graph, snaps)
    depots = config.depots({y.id: k for k, y in enumerate(config.yards)}, origin=origin)
    problem = Problem(
        depots=depots,
        crews=crews,
        jobs=tuple(jobs),
        durations_s=matrix.durations_s,
        distances_m=matrix.distances_m,
        origin=origin,
        known_skills=frozenset(s.skill for s in catalogue.services.values()),
    )
    return _Built(problem, work_orders, snaps, matrix, outside)


def _servable_groups(config: CrewConfig, catalogue: Catalogue) -> list[str]:
    skills = set().union(*(c.skills for c in config.crews))
    return sorted({s.group for s in catalogue.services.values() if s.skill in skills})


def _aware(at: datetime, name: str) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InputError(
            f"{name}={at!r} must be a timezone-aware datetime, e.g. 2015-10-06T07:00-04:00",
            field=name,
        )
    return at


def plan_day(
    store: Store,
    catalogue: Catalogue | None = None,
    *,
    at: datetime,
    crews: CrewConfig | str | Path | Sequence[str] | None = None,
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
        Service catalogue (on-site minutes, skills, demand, SLA); default
        ``settings.services_file`` or the embedded one.
    at : datetime, keyword-only
        The moment (aware) whose open work orders are planned; the shift is on its local day
        (the crew file's time zone, America/New_York).
    crews : CrewConfig, path, list of crew ids or None, keyword-only
        The crews: a loaded config, a crew file, ids of crews in the default file, or None for
        every crew of ``settings.crews_file`` / ``data/crews.toml``.
    graph : StreetGraph, keyword-only, optional
        Street graph; default the embedded Back Bay graph (loaded once per process).
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
        Problem, plan, work orders, snaps and matrix; ``to_dict()`` for storage.

    Raises
    ------
    InputError
        When ``at`` is naive or the crew list is empty.
    ConfigurationError
        When the crew file is invalid or the yard is not on the street graph.
    """
    at = _aware(at, "at")
    cat = catalogue or load_catalogue(
        settings.services_file if settings is not None else _default_services_file()
    )
    known = {s.skill for s in cat.services.values()}
    config = _resolve_crews(crews, settings, known)
    street = graph if graph is not None else default_graph(settings)
    origin = config.origin(at.astimezone(config.tz).date())
    orders = open_work_orders_at(store, at, groups=_servable_groups(config, cat), catalogue=cat)
    built = _build(orders, config=config, graph=street, catalogue=cat, origin=origin)
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
        catalogue=cat,
        graph_source=street.summary.source,
    )


def _default_services_file() -> Path:
    from geo311.settings import REPO_DATA_DIR

    return REPO_DATA_DIR / "services.toml"


# ---------------------------------------------------------------- re-planning

_ROUTE_KEYS = frozenset(Route.__dataclass_fields__)


def plan_from_document(doc: Mapping[str, Any]) -> Plan:
    """Read the solver's :class:`~routing.solve.Plan` back from a stored plan document.

    Parameters
    ----------
    doc : mapping
        :meth:`DayPlan.to_dict` output (as stored).

    Returns
    -------
    Plan
        Routes and unassigned jobs (the extra keys of the document are ignored).
    """
    data = dict(doc)
    data["routes"] = [
        {k: v for k, v in r.items() if k in _ROUTE_KEYS} for r in doc.get("routes", [])
    ]
    return Plan.from_dict(data)


def _locked(
    previous: Plan,
    doc: Mapping[str, Any],
    now_s: float,
    locked_stops: Mapping[str, int | Sequence[str]] | None,
) -> dict[str, list[str]]:
    """Per crew, the prefix of its route that stays: given counts/ids, else done or started."""
    by_time = locked_from_time(previous, now_s)
    done = doc.get("done", {}) or {}
    out: dict[str, list[str]] = {}
    for r in previous.routes:
        ids = r.job_ids
        given = (locked_stops or {}).get(r.crew_id)
        if given is None:
            n = len(by_time.get(r.crew_id, []))
            done_here = [ids.index(j) + 1 for j in done.get(r.crew_id, []) if j in ids]
            n = max([n, *done_here])
        elif isinstance(given, int):
            if not 0 <= given <= len(ids):
                raise InputError(
                    f"locked_stops[{r.crew_id!r}]={given} is outside 0..{len(ids)} "
                    "(the crew's number of stops)",
                    field="locked_stops",
                )
            n = given
        else:
            wanted = list(given)
            unknown = [j for j in wanted if j not in ids]
            if unknown:
                raise InputError(
                    f"locked_stops[{r.crew_id!r}]: {unknown} are not stops of the crew "
                    f"(its stops: {ids})",
                    field="locked_stops",
                )
            n = max((ids.index(j) + 1 for j in wanted), default=0)
        out[r.crew_id] = ids[:n]
    unknown_crews = sorted(set(locked_stops or {}) - set(out))
    if unknown_crews:
        raise InputError(
            f"locked_stops names crews {unknown_crews} that the plan does not have "
            f"(crews: {sorted(out)})",
            field="locked_stops",
        )
    return out


def replan_day(
    store: Store,
    catalogue: Catalogue | None,
    plan: int | Mapping[str, Any],
    *,
    at: datetime,
    locked_stops: Mapping[str, int | Sequence[str]] | None = None,
    new_work_order_ids: Sequence[int] = (),
    crews: CrewConfig | str | Path | None = None,
    graph: StreetGraph | None = None,
    settings: Settings | None = None,
    time_limit_s: float = 5.0,
    seed: int = 0,
) -> DayPlan:
    """Re-plan a stored plan at ``at``: locked stops stay, new urgent work orders are added.

    Parameters
    ----------
    store : Store
        The store (work orders, and the plan when ``plan`` is an id).
    catalogue : Catalogue or None
        Service catalogue; None for the default.
    plan : int or mapping
        A stored plan id, or the stored document (:meth:`DayPlan.to_dict`).
    at : datetime, keyword-only
        Now (aware).
    locked_stops : mapping, keyword-only, optional
        Crew id -> number of leading stops kept, or the job ids done/in progress (the route is
        kept up to the last of them). Crews not named keep every stop whose service started by
        ``at`` or that the document marks ``done``.
    new_work_order_ids : sequence of int, keyword-only
        Urgent work orders to add (priority at least "due today").
    crews : CrewConfig or path, keyword-only, optional
        The crew file the plan was made with (default: settings or ``data/crews.toml``).
    graph, settings, time_limit_s, seed
        As for :func:`plan_day`.

    Returns
    -------
    DayPlan
        The new plan (``meta['replanned_from']`` is the parent plan id when known).

    Raises
    ------
    NotFoundError
        When the plan or a new work order does not exist.
    InputError
        When ``at`` is naive or a locked stop is not a stop of its crew.
    """
    at = _aware(at, "at")
    doc: Mapping[str, Any] = store.get_plan(plan) if isinstance(plan, int) else plan
    cat = catalogue or load_catalogue(
        settings.services_file if settings is not None else _default_services_file()
    )
    known = {s.skill for s in cat.services.values()}
    base = _resolve_crews(crews, settings, known)
    crew_ids = [str(c["id"]) for c in doc.get("crews", [])]
    if crew_ids:  # the crews the plan was made for, in its order
        by_id = {c.id: c for c in base.crews}
        missing = [c for c in crew_ids if c not in by_id]
        if missing:
            raise ConfigurationError(
                f"plan crews {missing} are not in the crew file {base.source}; pass the crew "
                "file the plan was made with (crews=...)",
                field="crews",
            )
        base = CrewConfig(
            timezone=base.timezone,
            yards=base.yards,
            crews=tuple(by_id[c] for c in crew_ids),
            source=base.source,
        )
    street = graph if graph is not None else default_graph(settings)
    previous = plan_from_document(doc)
    origin = previous.origin.astimezone(base.tz)
    jobs_doc: Mapping[str, Any] = doc.get("jobs", {})
    prev_ids = sorted(
        (int(j["work_order_id"]) for j in jobs_doc.values() if j.get("location_index") is not None),
        key=lambda w: int(jobs_doc[job_id_for(w)]["location_index"]),
    )
    new_ids = [int(w) for w in new_work_order_ids if int(w) not in set(prev_ids)]
    found = {wo.work_order_id: wo for wo in store.query_work_orders(ids=prev_ids + new_ids)}
    missing_wo = [w for w in new_ids if w not in found]
    if missing_wo:
        raise NotFoundError(
            f"new_work_order_ids {missing_wo} do not exist; pass stored work orders"
        )
    gone = [w for w in prev_ids if w not in found]
    if gone:
        raise NotFoundError(
            f"work orders {gone} of plan {doc.get('plan_id')} no longer exist; plan the day anew"
        )
    orders = [found[w] for w in prev_ids] + [found[w] for w in new_ids]
    built = _build(
        orders,
        config=base,
        graph=street,
        catalogue=cat,
        origin=origin,
        urgent_ids=frozenset(new_ids),
    )
    # the previous jobs keep their location indices (the locked steps refer to them)
    for j in built.problem.jobs:
        prev = jobs_doc.get(j.id)
        if prev is not None and int(prev["location_index"]) != j.location_index:
            raise InputError(
                f"job {j.id}: its location moved since plan {doc.get('plan_id')} "
                "(different street graph or work-order point); plan the day anew",
                field="plan",
            )
    now_s = (at - origin).total_seconds()
    locked = _locked(previous, doc, now_s, locked_stops)
    new_plan = replan(
        built.problem, previous, now_s=now_s, locked=locked, time_limit_s=time_limit_s, seed=seed
    )
    # work orders outside the graph stay unassigned with their reason
    outside = built.outside + [
        Unassigned(**{k: v for k, v in u.items() if k in Unassigned.__dataclass_fields__})
        for u in doc.get("unassigned", [])
        if u.get("code") == OUTSIDE_GRAPH and u.get("job_id") not in built.work_orders
    ]
    return DayPlan(
        at=at,
        problem=built.problem,
        plan=new_plan,
        work_orders=built.work_orders,
        snaps=built.snaps,
        matrix=built.matrix,
        outside=outside,
        crew_config=base,
        catalogue=cat,
        graph_source=street.summary.source,
        meta={
            "replanned_from": doc.get("plan_id"),
            "locked": locked,
            "new_work_orders": new_ids,
        },
    )


def route_summary_rows(day_plan: DayPlan) -> list[dict[str, Any]]:
    """Return one summary row per crew: stops, travel/on-site minutes, km, first/last ETA.

    Parameters
    ----------
    day_plan : DayPlan
        The plan.

    Returns
    -------
    list of dict
        Keys ``crew``, ``stops``, ``travel_min``, ``on_site_min``, ``km``, ``first_eta``,
        ``last_eta`` (local ``HH:MM`` or ``-``), ``day_h``.
    """
    tz = ZoneInfo(day_plan.crew_config.timezone)
    rows = []
    for r in day_plan.plan.routes:
        jobs = [s for s in r.steps if s.type == "job"]

        def hm(step: Step | None) -> str:
            if step is None:
                return "-"
            return day_plan.problem.clock(step.arrival_s).astimezone(tz).strftime("%H:%M")

        rows.append(
            {
                "crew": r.crew_id,
                "stops": len(jobs),
                "travel_min": r.travel_s / 60.0,
                "on_site_min": r.service_s / 60.0,
                "km": r.distance_m / 1000.0,
                "first_eta": hm(jobs[0] if jobs else None),
                "last_eta": hm(jobs[-1] if jobs else None),
                "day_h": r.duration_s / 3600.0 if jobs else 0.0,
            }
        )
    return rows


def format_summary(day_plan: DayPlan, *, max_listed: int = 10) -> list[str]:
    """Return the printable summary: the crew table, unassigned reasons and SLA breaches.

    Parameters
    ----------
    day_plan : DayPlan
        The plan.
    max_listed : int, keyword-only
        How many unassigned work orders and SLA breaches to list one by one.

    Returns
    -------
    list of str
        Lines to print.
    """
    s = day_plan.plan.summary
    lines = [
        f"plan for {day_plan.plan_date} (open work orders at {day_plan.at.isoformat()}): "
        f"{len(day_plan.work_orders)} open work orders, {len(day_plan.problem.jobs)} on the "
        f"street graph, {s.jobs_served} served, {len(day_plan.unassigned)} unassigned; "
        f"solved in {s.solve_time_s:.1f} s, feasible: {s.is_feasible}",
        "",
        f"{'crew':<16}{'stops':>6}{'travel min':>12}{'on-site min':>13}{'km':>7}"
        f"{'first ETA':>11}{'last ETA':>10}{'day h':>7}",
    ]
    for row in route_summary_rows(day_plan):
        lines.append(
            f"{row['crew']:<16}{row['stops']:>6}{row['travel_min']:>12.1f}"
            f"{row['on_site_min']:>13.1f}{row['km']:>7.2f}{row['first_eta']:>11}"
            f"{row['last_eta']:>10}{row['day_h']:>7.2f}"
        )
    un = day_plan.unassigned
    if un:
        by_code: dict[str, int] = {}
        for u in un:
            by_code[u.code] = by_code.get(u.code, 0) + 1
        lines += [
            "",
            f"unassigned ({len(un)}): " + ", ".join(f"{c} {n}" for c, n in sorted(by_code.items())),
        ]
        shown = sorted(un, key=lambda u: (u.code == OUTSIDE_GRAPH, -u.priority, u.job_id))
        for u in shown[:max_listed]:
            lines.append(
                f"  {u.job_id} [{PRIORITY_NAMES.get(u.priority, u.priority)}] {u.code}: {u.reason}"
            )
        if len(un) > max_listed:
            lines.append(f"  ... and {len(un) - max_listed} more (see plan.json 'unassigned')")
    breaches = day_plan.sla_breaches()
    in_graph = [b for b in breaches if b.code != OUTSIDE_GRAPH]
    lines += [
        "",
        f"SLA breaches implied (unserved, due before the next shift starts at "
        f"{day_plan.problem.clock(day_plan.plan.next_shift_start_s):%Y-%m-%d %H:%M}): "
        f"{len(breaches)} ({len(in_graph)} on the street graph, "
        f"{len(breaches) - len(in_graph)} outside it)",
    ]
    tz = ZoneInfo(day_plan.crew_config.timezone)
    for b in in_graph[:max_listed]:
        due = day_plan.problem.clock(b.sla_due_s or 0.0).astimezone(tz)
        lines.append(f"  {b.job_id} due {due:%Y-%m-%d %H:%M} ({b.code})")
    if len(in_graph) > max_listed:
        lines.append(f"  ... and {len(in_graph) - max_listed} more")
    return lines
