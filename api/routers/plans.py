"""Dispatcher endpoints for plans: solve a day, read it (JSON, GeoJSON, map), re-plan."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from api import _plans
from api.deps import CatalogueDep, DispatcherDep, PlannerDep, SettingsDep, StoreDep
from api.schemas import (
    NON_JSON_ERRORS,
    STAFF_RESPONSES,
    FeatureCollection,
    PlanOut,
    PlanRequest,
    Problem,
    ReplanRequest,
)
from routing.plan_document import PlanDocument, load_plan_document

router = APIRouter(
    prefix="/plans",
    tags=["dispatcher"],
    responses=STAFF_RESPONSES,
)
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", response_model=PlanOut, summary="Plan a day", responses={400: {"model": Problem}})
def create_plan(
    body: PlanRequest,
    _role: DispatcherDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> PlanDocument:
    """Solve the crews' routes for a morning and store the plan (runs in a worker thread)."""
    return _plans.create_plan(store, catalogue, settings, body)


@router.get(
    "/{plan_id}", response_model=PlanOut, summary="A plan", responses={404: {"model": Problem}}
)
def get_plan(plan_id: PlanId, _role: PlannerDep, store: StoreDep) -> PlanDocument:
    """Return a stored plan: summary, routes, unassigned work with reasons."""
    return load_plan_document(store, plan_id)


@router.get(
    "/{plan_id}/geojson",
    response_model=FeatureCollection,
    summary="A plan as GeoJSON",
    responses={404: {"model": Problem}},
)
def get_plan_geojson(plan_id: PlanId, _role: PlannerDep, store: StoreDep) -> dict[str, Any]:
    """Return the plan's routes (lines) and stops (points) as GeoJSON (EPSG:4326)."""
    return _plans.plan_geojson(store, load_plan_document(store, plan_id))


@router.get(
    "/{plan_id}/map",
    response_class=HTMLResponse,
    summary="A plan's map (HTML)",
    responses={**NON_JSON_ERRORS, 200: {"content": {"text/html": {}}}},
)
def get_plan_map(plan_id: PlanId, _role: PlannerDep, store: StoreDep) -> HTMLResponse:
    """Return the plan drawn on a Folium map (a self-contained HTML page)."""
    return HTMLResponse(_plans.plan_map_html(load_plan_document(store, plan_id)))


@router.post(
    "/{plan_id}/replan",
    response_model=PlanOut,
    summary="Re-plan during the day",
    responses={404: {"model": Problem}},
)
def replan(
    plan_id: PlanId,
    body: ReplanRequest,
    _role: DispatcherDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> PlanDocument:
    """Re-plan from now: keep locked stops, add urgent work; stored as a child plan."""
    return _plans.replan(store, catalogue, settings, plan_id, body)


@router.post(
    "/{plan_id}/publish",
    summary="Publish a plan (citizens see the ETAs)",
    responses={404: {"model": Problem}},
)
def publish(
    plan_id: PlanId, _role: DispatcherDep, store: StoreDep, settings: SettingsDep
) -> dict[str, int]:
    """Publish a plan: each stop's ETA becomes its reports' Open311 ``expected_datetime``.

    Reports whose ETA an earlier published plan gave and this one no longer has lose it.
    """
    from zoneinfo import ZoneInfo

    from api._publish import publish_for_crews

    return publish_for_crews(store, plan_id, by=_role, tz=ZoneInfo(settings.timezone))
