"""Plan logic behind the plans and crews routers: solve, GeoJSON, maps, itineraries, stops."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import HTTPException

from api._staff import parse_at
from api.schemas import PlanRequest, ReplanRequest
from geo311.catalogue import Catalogue
from geo311.errors import ConflictError, NotFoundError
from geo311.model import WorkOrder
from geo311.settings import Settings
from geo311.store import Store
from routing import itinerary as itineraries
from routing.itinerary import CrewItinerary


def _stored(
    store: Store, plan_doc: dict[str, Any], *, plan_date: str, kind: str, parent: int | None = None
) -> dict[str, Any]:
    plan_id = store.save_plan(plan_doc, plan_date=plan_date, kind=kind, parent_plan_id=parent)
    return store.get_plan(plan_id)


def _pipeline(name: str) -> Any:
    """Return a function of the Boston planning pipeline (``routing.dispatch``), or 503."""
    try:
        dispatch = importlib.import_module("routing.dispatch")
    except ImportError:
        raise HTTPException(
            503, "the planning pipeline (routing.dispatch) is not installed on this server"
        ) from None
    return getattr(dispatch, name)


def create_plan(
    store: Store, catalogue: Catalogue, settings: Settings, body: PlanRequest
) -> dict[str, Any]:
    """Solve the day's routes for the open work orders and store the plan.

    Parameters
    ----------
    store, catalogue, settings
        The application's objects.
    body : PlanRequest
        When, which crews, the solver's time limit and seed.

    Returns
    -------
    dict
        The stored plan document with its ``plan_id``.
    """
    at = parse_at(body.at, ZoneInfo(settings.timezone))
    plan_day = _pipeline("plan_day")
    plan = plan_day(
        store,
        catalogue,
        settings=settings,
        at=at,
        crews=body.crews,
        time_limit_s=body.time_limit_s,
        seed=settings.solver_seed if body.seed is None else body.seed,
    )
    doc = plan.to_dict() if hasattr(plan, "to_dict") else dict(plan)
    return _stored(store, doc, plan_date=at.date().isoformat(), kind="plan")


def replan(
    store: Store, catalogue: Catalogue, settings: Settings, plan_id: int, body: ReplanRequest
) -> dict[str, Any]:
    """Re-plan a stored plan from ``body.at``: locked stops stay, urgent work is added.

    Returns
    -------
    dict
        The new plan document (``kind='replan'``, ``parent_plan_id=plan_id``).
    """
    parent = store.get_plan(plan_id)
    at = parse_at(body.at, ZoneInfo(settings.timezone))
    replan_day = _pipeline("replan_day")
    plan = replan_day(
        store,
        catalogue,
        parent,
        settings=settings,
        at=at,
        locked_stops=body.locked_stops,
        new_work_order_ids=body.new_work_order_ids,
        time_limit_s=body.time_limit_s,
    )
    doc = plan.to_dict() if hasattr(plan, "to_dict") else dict(plan)
    return _stored(store, doc, plan_date=at.date().isoformat(), kind="replan", parent=plan_id)


def _work_orders_of(store: Store, plan_doc: dict[str, Any]) -> dict[int, WorkOrder]:
    refs: set[int] = set()
    for route in plan_doc.get("routes", []):
        for step in route.get("steps", []):
            ref = step.get("ref")
            if step.get("type") == "job" and ref is not None and str(ref).isdigit():
                refs.add(int(ref))
    if not refs:
        return {}
    return {wo.work_order_id: wo for wo in store.query_work_orders(ids=sorted(refs))}


def _point(step: dict[str, Any], orders: dict[int, WorkOrder]) -> tuple[float, float] | None:
    if step.get("lat") is not None and step.get("lon") is not None:
        return float(step["lon"]), float(step["lat"])
    ref = step.get("ref")
    if ref is not None and str(ref).isdigit() and int(ref) in orders:
        wo = orders[int(ref)]
        return wo.lon, wo.lat
    return None


def route_of(plan_doc: dict[str, Any], crew_id: str) -> dict[str, Any]:
    """Return one crew's route of a plan document.

    Raises
    ------
    NotFoundError
        Naming the crews the plan has.
    """
    for route in plan_doc.get("routes", []):
        if route.get("crew_id") == crew_id:
            return dict(route)
    crews = ", ".join(str(r.get("crew_id")) for r in plan_doc.get("routes", []))
    raise NotFoundError(
        f"crew {crew_id!r} has no route in plan {plan_doc.get('plan_id')}; crews: {crews}"
    )


def itinerary(store: Store, plan_doc: dict[str, Any], crew_id: str) -> dict[str, Any]:
    """Return a crew's itinerary: the ordered stops with address, service, reports and times.

    Parameters
    ----------
    store : Store
        Gives the work orders behind the stops.
    plan_doc : dict
        A stored plan.
    crew_id : str
        The crew.

    Returns
    -------
    dict
        ``plan_id``, ``crew_id``, ``stops`` (list) and the route totals.
    """
    route = route_of(plan_doc, crew_id)
    orders = _work_orders_of(store, plan_doc)
    done = set(plan_doc.get("done", {}).get(crew_id, []))
    stops = []
    for step in route.get("steps", []):
        if step.get("type") != "job":
            continue
        ref = step.get("ref")
        wo = orders.get(int(ref)) if ref is not None and str(ref).isdigit() else None
        point = _point(step, orders)
        stops.append(
            {
                "job_id": str(step.get("job_id")),
                "work_order_id": wo.work_order_id if wo else None,
                "service_code": wo.service_code if wo else None,
                "address": wo.address if wo else "",
                "report_count": wo.report_count if wo else None,
                "lat": point[1] if point else None,
                "lon": point[0] if point else None,
                "arrival": step.get("arrival"),
                "departure": step.get("departure"),
                "service_s": step.get("service_s"),
                "done": str(step.get("job_id")) in done,
            }
        )
    return {
        "plan_id": int(plan_doc["plan_id"]),
        "crew_id": crew_id,
        "stops": stops,
        "travel_s": float(route.get("travel_s", 0.0)),
        "distance_m": float(route.get("distance_m", 0.0)),
        "service_s": float(route.get("service_s", 0.0)),
    }


def crew_itinerary(plan_doc: dict[str, Any], crew_id: str) -> CrewItinerary:
    """Return a crew's printable itinerary (:func:`routing.itinerary.crew_itinerary`).

    Parameters
    ----------
    plan_doc : dict
        A stored plan (``routing.dispatch.DayPlan.to_dict`` with its ``plan_id``).
    crew_id : str
        The crew.

    Returns
    -------
    CrewItinerary
        Stops, legs with turn-by-turn directions and ETAs, for ``itinerary_html/gpx/text``.

    Raises
    ------
    NotFoundError
        Naming the crews the plan has.
    InputError
        When the plan document has no street legs (not made by ``routing.dispatch``).
    """
    route_of(plan_doc, crew_id)  # the 404 names the plan and its crews
    return itineraries.crew_itinerary(plan_doc, crew_id)


def plan_geojson(store: Store, plan_doc: dict[str, Any]) -> dict[str, Any]:
    """Return a plan's routes (LineString per crew) and stops (Points) as GeoJSON."""
    orders = _work_orders_of(store, plan_doc)
    features: list[dict[str, Any]] = []
    for route in plan_doc.get("routes", []):
        crew = route.get("crew_id")
        coords = []
        order = 0
        for step in route.get("steps", []):
            point = _point(step, orders)
            if point is None:
                continue
            coords.append(list(point))
            if step.get("type") == "job":
                order += 1
                features.append(
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": list(point)},
                        "properties": {
                            "crew_id": crew,
                            "order": order,
                            "job_id": step.get("job_id"),
                            "ref": step.get("ref"),
                            "arrival": step.get("arrival"),
                        },
                    }
                )
        if len(coords) >= 2:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "LineString", "coordinates": coords},
                    "properties": {"crew_id": crew, "distance_m": route.get("distance_m")},
                }
            )
    return {"type": "FeatureCollection", "features": features}


def plan_map_html(plan_doc: dict[str, Any]) -> str:
    """Return the plan's crew routes on a Folium map (:func:`maps.routes.routes_map`).

    Parameters
    ----------
    plan_doc : dict
        A stored plan (``routing.dispatch.DayPlan.to_dict`` with its ``plan_id``).

    Returns
    -------
    str
        A self-contained HTML page: each crew's street path and numbered stops, the yard
        (an empty map of Boston when no crew has a stop).
    """
    from maps._common import base_map
    from maps.routes import route_drawings_from_plan, routes_map

    drawings = route_drawings_from_plan(
        plan_doc, locations=plan_doc.get("locations") or [], labels=plan_doc.get("labels")
    )
    if not drawings:
        return str(base_map().get_root().render())
    fmap = routes_map(
        drawings,
        title=f"Plan {plan_doc.get('plan_id')}",
        timezone=str(plan_doc.get("timezone") or "America/New_York"),
    )
    return str(fmap.get_root().render())


def mark_stop_done(
    store: Store,
    catalogue: Catalogue,
    plan_id: int,
    crew_id: str,
    job_id: str,
    *,
    status: str,
    closure_category: str,
    note: str,
) -> dict[str, Any]:
    """Record a stop as done in the plan and close its work order with the crew's note.

    Raises
    ------
    NotFoundError
        If the plan, the crew's route or the stop does not exist.
    ConflictError
        If the stop is already done.
    """
    from api._workflow import apply_status

    doc = store.get_plan(plan_id)
    route = route_of(doc, crew_id)
    steps = [s for s in route.get("steps", []) if s.get("type") == "job"]
    step = next((s for s in steps if str(s.get("job_id")) == job_id), None)
    if step is None:
        raise NotFoundError(
            f"job_id {job_id!r} is not a stop of crew {crew_id!r} in plan {plan_id}; "
            "use a job_id from the itinerary"
        )
    done = doc.setdefault("done", {})
    crew_done = done.setdefault(crew_id, [])
    if job_id in crew_done:
        raise ConflictError(f"job_id {job_id!r} is already done")
    ref = step.get("ref")
    if ref is not None and str(ref).isdigit():
        wo = store.get_work_order(int(ref))
        if catalogue.state(wo.status).is_open:
            apply_status(
                store,
                catalogue,
                int(ref),
                status=status,
                note=note,
                closure_category=closure_category,
            )
    crew_done.append(job_id)
    doc.setdefault("done_at", {})[job_id] = datetime.now(UTC).isoformat()
    payload = {k: v for k, v in doc.items() if k not in ("plan_id", "kind", "parent_plan_id")}
    store.update_plan(plan_id, payload)
    return itinerary(store, store.get_plan(plan_id), crew_id)
