"""Plan logic behind the plans and crews routers: solve, GeoJSON, maps, itineraries, stops.

The solver (:mod:`routing.dispatch`) and folium (:mod:`maps.routes`) are imported where they
are used, so that the API workers start fast.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from api.planner.staff import parse_at
from api.plans import stops as _stops
from api.plans.schemas import Itinerary, PlanRequest, ReplanRequest, Stop, StopDone
from api.plans.stops import Actor, Closing
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.model import WorkOrder
from geo311.plans.document import PlanDocument, StepDoc
from geo311.plans.repo import load_plan_document
from geo311.plans.stop_states import StopChange
from geo311.settings import Settings
from geo311.workorders import repo as work_order_repo
from routing.engine.crews import CrewConfig
from routing.itinerary import CrewItinerary
from routing.itinerary import crew_itinerary as build_crew_itinerary

if TYPE_CHECKING:  # OR-Tools: loaded on use
    from routing.engine.solve import SolveParams


def create_plan(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    body: PlanRequest,
    *,
    crews: CrewConfig | None = None,
) -> PlanDocument:
    """Solve the day's routes for the open work orders and store the plan.

    Parameters
    ----------
    store, catalogue, settings
        The application's objects.
    body : PlanRequest
        When, which crews, the solver's time limit and seed.
    crews
        The day's crews as the dispatcher set them (some off, shifts changed); when given,
        ``body.crews`` is not read.

    Returns
    -------
    PlanDocument
        The stored plan document with its ``plan_id``.
    """
    from routing.dispatch import save_day_plan

    return save_day_plan(store, solve_plan(store, catalogue, settings, body, crews=crews))


def solve_plan(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    body: PlanRequest,
    *,
    crews: CrewConfig | None = None,
) -> Any:
    """Solve the day's routes for the open work orders, without storing them.

    The parameters are :func:`create_plan`'s; returns the ``routing.dispatch.DayPlan``
    (store it with ``routing.dispatch.save_day_plan``).
    """
    from routing.dispatch import DayOptions, plan_day  # OR-Tools and the graph: load on use

    at = parse_at(body.at, ZoneInfo(settings.timezone))
    return plan_day(
        store,
        catalogue,
        at=at,
        options=DayOptions(
            settings=settings,
            crews=crews,
            crew_ids=None if crews is not None else body.crews,
            time_limit_s=body.time_limit_s,
            seed=settings.solver_seed if body.seed is None else body.seed,
        ),
    )


def solve_district_plan(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    *,
    at: datetime,
    district: str,
    crews: CrewConfig,
    params: SolveParams,
) -> tuple[PlanDocument, str]:
    """Solve one district's open work with the crews of its yards, without storing it.

    Parameters
    ----------
    store, catalogue, settings
        The application's objects.
    at : datetime, keyword-only
        The start of the shift.
    district : str, keyword-only
        A name of the city's districts.
    crews : CrewConfig, keyword-only
        The day's crews (the district's are taken from them: those of its yards).
    params : SolveParams, keyword-only
        The solver's time limit and seed (:class:`~routing.engine.solve.SolveParams`).

    Returns
    -------
    tuple
        The plan document (its ``district`` set) and its plan date, for ``geo311.plans.repo.save_plan``.

    Raises
    ------
    InputError
        When ``district`` is not one of the city's districts (names them).
    ConfigurationError
        When no yard with crews serves the district.
    """
    from api.scope import city_districts, in_district
    from geo311.workorders.open_view import open_work_orders_at
    from routing.dispatch import DistrictInputs, default_graph, plan_district_day, servable_groups

    areas = city_districts(str(settings.districts_file))
    areas.get(district)  # an unknown district: the message names the city's districts
    config = crews.for_district(district, only=len(areas) > 1)
    groups = servable_groups(config, catalogue)
    orders = open_work_orders_at(store, at, groups=groups, catalogue=catalogue)
    day = plan_district_day(
        in_district(orders, settings, district),
        DistrictInputs(
            district=district,
            crews=config,
            graph=default_graph(settings),
            catalogue=catalogue,
            at=at,
        ),
        params,
    )
    doc = day.to_document()
    doc.district = district
    return doc, str(day.plan_date)


def replan(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    plan_id: int,
    body: ReplanRequest,
    *,
    record: Callable[[PlanDocument], object] | None = None,
) -> PlanDocument:
    """Re-plan a stored plan from ``body.at``: locked stops stay, urgent work is added.

    ``record(new_plan)`` (e.g. its audit row) runs in the transaction that stores the new
    plan; the solving happens before, outside it.

    Returns
    -------
    PlanDocument
        The new plan document (``kind='replan'``, ``parent_plan_id=plan_id``), with the
        parent's district (:func:`routing.dispatch.editing.save_derived`).
    """
    from routing.dispatch import DayOptions, ReplanChanges, replan_day
    from routing.dispatch.editing import dispatcher_locks, save_derived

    parent = load_plan_document(store, plan_id)
    at = parse_at(body.at, ZoneInfo(settings.timezone))
    day_plan = replan_day(
        store,
        catalogue,
        parent,
        at=at,
        changes=ReplanChanges(
            locked_stops=body.locked_stops, new_work_order_ids=body.new_work_order_ids
        ),
        options=DayOptions(settings=settings, time_limit_s=body.time_limit_s),
    )
    with store.begin():  # the new plan and what records it commit together
        # the parent's district, day, done stops and still-valid locks go with the re-plan
        saved = save_derived(store, day_plan, parent, kind="replan", locks=dispatcher_locks(parent))
        if record is not None:
            record(saved)
    return saved


def request_crews(settings: Settings, body: PlanRequest) -> CrewConfig:
    """Return the crews of ``crews.toml``, only those of ``body.crews`` when it names some.

    Raises
    ------
    InputError
        Naming ``crews`` and the crew file's crews, when a named crew is not in it.
    """
    from dataclasses import replace

    from routing.engine.crews import load_crews

    config = load_crews(settings.crews_file)
    if not body.crews:
        return config
    known = [c.id for c in config.crews]
    unknown = sorted(set(body.crews) - set(known))
    if unknown:
        raise InputError(
            f"crews: {unknown} are not crews of {config.source}; use some of {known}",
            field="crews",
        )
    return replace(config, crews=tuple(c for c in config.crews if c.id in set(body.crews)))


def _ref(step: StepDoc) -> int | None:
    return int(step.ref) if step.ref is not None and step.ref.isdigit() else None


def _work_orders_of(store: Store, doc: PlanDocument) -> dict[int, WorkOrder]:
    refs = {ref for r in doc.routes for s in r.job_steps if (ref := _ref(s)) is not None}
    if not refs:
        return {}
    return {
        wo.work_order_id: wo for wo in work_order_repo.query_work_orders(store, ids=sorted(refs))
    }


def _point(step: StepDoc, orders: dict[int, WorkOrder]) -> tuple[float, float] | None:
    """Return ``(lon, lat)`` of a step: its street point, else its work order's point."""
    if step.lat is not None and step.lon is not None:
        return step.lon, step.lat
    ref = _ref(step)
    if ref is not None and ref in orders:
        return orders[ref].lon, orders[ref].lat
    return None


def _stop(step: StepDoc, orders: dict[int, WorkOrder], done: set[str], state: str) -> Stop:
    ref = _ref(step)
    wo = orders.get(ref) if ref is not None else None
    point = _point(step, orders)
    return Stop(
        job_id=str(step.job_id),
        work_order_id=wo.work_order_id if wo else None,
        service_code=wo.service_code if wo else None,
        address=(wo.address or "") if wo else "",
        report_count=wo.report_count if wo else None,
        lat=point[1] if point else None,
        lon=point[0] if point else None,
        arrival=step.arrival.isoformat() if step.arrival else None,
        departure=step.departure.isoformat() if step.departure else None,
        service_s=step.service_s,
        done=str(step.job_id) in done,
        state=state,
    )


def itinerary(store: Store, doc: PlanDocument, crew_id: str) -> Itinerary:
    """Return a crew's itinerary: the ordered stops with address, service, reports and times.

    Parameters
    ----------
    store : Store
        Gives the work orders behind the stops.
    doc : PlanDocument
        A stored plan.
    crew_id : str
        The crew.

    Returns
    -------
    Itinerary
        ``plan_id``, ``crew_id``, ``stops`` and the route totals.

    Raises
    ------
    NotFoundError
        Naming the crews the plan has.
    """
    route = doc.route(crew_id)
    orders = _work_orders_of(store, doc)
    done = doc.done_for(crew_id)
    return Itinerary(
        plan_id=int(doc.plan_id or 0),
        crew_id=crew_id,
        stops=[_stop(s, orders, done, doc.state_of(str(s.job_id))) for s in route.job_steps],
        travel_s=route.travel_s,
        distance_m=route.distance_m,
        service_s=route.service_s,
    )


def crew_itinerary(doc: PlanDocument, crew_id: str) -> CrewItinerary:
    """Return a crew's printable itinerary (:func:`routing.itinerary.crew_itinerary`).

    Parameters
    ----------
    doc : PlanDocument
        A stored plan (with its ``plan_id``).
    crew_id : str
        The crew.

    Returns
    -------
    CrewItinerary
        Stops, legs with turn-by-turn directions and ETAs, for :mod:`maps.itinerary`.

    Raises
    ------
    NotFoundError
        Naming the plan and the crews it has.
    InputError
        When the plan document has no street legs (not made by ``routing.dispatch``).
    """
    doc.route(crew_id)  # the 404 names the plan and its crews
    return build_crew_itinerary(doc, crew_id)


def _stop_feature(crew: str | None, order: int, step: StepDoc, point: tuple[float, float]) -> Any:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(point)},
        "properties": {
            "crew_id": crew,
            "order": order,
            "job_id": step.job_id,
            "ref": step.ref,
            "arrival": step.arrival.isoformat() if step.arrival else None,
        },
    }


def plan_geojson(store: Store, doc: PlanDocument) -> dict[str, Any]:
    """Return a plan's routes (LineString per crew) and stops (Points) as GeoJSON."""
    orders = _work_orders_of(store, doc)
    features: list[dict[str, Any]] = []
    for route in doc.routes:
        coords = []
        order = 0
        for step in route.steps:
            point = _point(step, orders)
            if point is None:
                continue
            coords.append(list(point))
            if step.type == "job":
                order += 1
                features.append(_stop_feature(route.crew_id, order, step, point))
        if len(coords) >= 2:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": coords},
                    "properties": {"crew_id": route.crew_id, "distance_m": route.distance_m},
                }
            )
    return {"type": "FeatureCollection", "features": features}


def plan_map_html(doc: PlanDocument, settings: Settings) -> str:
    """Return the plan's crew routes on a Folium map (:func:`maps.routes.plan_map`).

    Parameters
    ----------
    doc
        A stored plan (with its ``plan_id``).
    settings
        The application's settings: the city whose street lines the page carries.

    Returns
    -------
    str
        A self-contained HTML page: each crew's street path and numbered stops, the yard
        (an empty map of the city when no crew has a stop), on the city's streets drawn into
        the page (no tiles needed).
    """
    from maps.routes import plan_map  # folium: load on use
    from maps.streetlayer import city_streets

    return str(plan_map(doc, streets=city_streets(settings)).get_root().render())


def mark_stop_done(
    store: Store,
    catalogue: Catalogue,
    plan_id: int,
    crew_id: str,
    job_id: str,
    *,
    actor: Actor,
    done: StopDone,
) -> Itinerary:
    """Mark a stop done (:func:`api.plans.stops.act`): its row, its work order closed, audited.

    ``done`` carries the crew's note and the state and closure category its work order
    closes with.

    Raises
    ------
    NotFoundError
        If the plan, the crew's route or the stop does not exist.
    ConflictError
        If the plan is not (or no longer) published for the crew, or the stop is finished
        (a :class:`~geo311.plans.stop_states.StopStateConflict` naming its state).
    """
    change = StopChange(plan_id, job_id, crew_id, "done", actor.name, note=done.note)
    closing = Closing(done.status, done.closure_category)
    _stops.act(store, catalogue, actor, change, closing=closing)
    return itinerary(store, load_plan_document(store, plan_id), crew_id)
