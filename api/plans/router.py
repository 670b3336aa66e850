"""Dispatcher endpoints for plans: solve a day, read it (JSON, GeoJSON, map), re-plan."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api import scope
from api.deps import CatalogueDep, DispatcherDep, PlannerDep, SettingsDep, StoreDep
from api.planner import staff as _staff
from api.plans import service as _plans
from api.plans.schemas import PlanOut, PlanRequest, ReplanRequest
from api.schemas import NON_JSON_ERRORS, STAFF_RESPONSES, Problem
from api.web import audit
from api.workorders.schemas import FeatureCollection
from geo311.errors import NotFoundError
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.plans.repo import load_plan_document

router = APIRouter(
    prefix="/plans",
    tags=["dispatcher"],
    responses=STAFF_RESPONSES,
)
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.post("", response_model=PlanOut, summary="Plan a day", responses={400: {"model": Problem}})
def create_plan(
    body: PlanRequest,
    who: DispatcherDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> PlanDocument:
    """Solve the crews' routes for a morning and store the plan (runs in a worker thread).

    With ``district`` (default: the token's district) only that district's work with the
    crews of its yards; a dispatcher of a district plans only its own (403). The plan and
    its ``plan.create`` audit row (the token's user, or ``token:<id>``) commit together.
    """
    district = body.district or who.district
    scope.check_planning(who, district)
    if district is None:
        day = _plans.solve_plan(store, catalogue, settings, body)
        doc, plan_date = day.to_document(), str(day.plan_date)
    else:
        from routing.engine.solve import SolveParams  # OR-Tools: loaded on use

        seed = settings.solver_seed if body.seed is None else body.seed
        doc, plan_date = _plans.solve_district_plan(
            store, catalogue, settings, at=_staff.parse_at(body.at, ZoneInfo(settings.timezone)),
            district=district, crews=_plans.request_crews(settings, body),
            params=SolveParams(time_limit_s=body.time_limit_s, seed=seed),
        )  # fmt: skip
    with store.begin():
        plan_id = plan_repo.save_plan(store, doc.to_dict(), plan_date=plan_date)
        audit.record(
            store, who.actor, "plan.create", f"plan:{plan_id}",
            after={"plan_id": plan_id, "at": body.at, "district": district},
        )  # fmt: skip
    return load_plan_document(store, plan_id)


@router.get(
    "/{plan_id}", response_model=PlanOut, summary="A plan", responses={404: {"model": Problem}}
)
def get_plan(plan_id: PlanId, _role: PlannerDep, store: StoreDep) -> PlanDocument:
    """Return a stored plan: summary, routes, unassigned work with reasons."""
    return load_plan_document(store, plan_id)


class HorizonCrewOut(BaseModel):
    """One crew's bucket of one day: estimated load against the time it has."""

    crew_id: str
    capacity_min: float
    load_min: float
    job_ids: list[str] = Field(default_factory=list)


class HorizonDayOut(BaseModel):
    """One working day of the horizon: the jobs it gets (earliest due first), per crew."""

    date: str
    jobs: list[str] = Field(default_factory=list)
    crews: list[HorizonCrewOut] = Field(default_factory=list)


class HorizonOut(BaseModel):
    """Which work a plan's week puts on which day (today first); ``beyond``: no day had room."""

    plan_id: int
    days: list[HorizonDayOut]
    beyond: list[str] = Field(default_factory=list)


@router.get(
    "/{plan_id}/horizon",
    response_model=HorizonOut,
    summary="A plan's week: which work goes on which day",
    responses={404: {"model": Problem}},
)
def get_plan_horizon(plan_id: PlanId, _role: PlannerDep, store: StoreDep) -> dict[str, Any]:
    """Return the horizon a plan was made against (404 for a plan made without one)."""
    forecast = load_plan_document(store, plan_id).meta.get("horizon")
    if not forecast:
        raise NotFoundError(
            f"plan {plan_id} was made without a horizon; plan with the week's horizon "
            "(/dispatch/horizon) to get one"
        )
    return {"plan_id": plan_id, **forecast}


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
def get_plan_map(
    plan_id: PlanId, _role: PlannerDep, store: StoreDep, settings: SettingsDep
) -> HTMLResponse:
    """Return the plan drawn on a Folium map (a self-contained HTML page)."""
    return HTMLResponse(_plans.plan_map_html(load_plan_document(store, plan_id), settings))


@router.post(
    "/{plan_id}/replan",
    response_model=PlanOut,
    summary="Re-plan during the day",
    responses={404: {"model": Problem}},
)
def replan(
    plan_id: PlanId,
    body: ReplanRequest,
    who: DispatcherDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> PlanDocument:
    """Re-plan from now: keep locked stops, add urgent work; stored as a child plan.

    The child keeps the plan's district; a dispatcher of a district re-plans only its
    district's plans (403). Audited as ``plan.replan``.
    """
    scope.check_plan_id(who, store, plan_id)

    def record(doc: PlanDocument) -> None:  # in the transaction that stores the re-plan
        audit.record(
            store, who.actor, "plan.replan", f"plan:{doc.plan_id}",
            before={"plan_id": plan_id}, after={"plan_id": doc.plan_id, "at": body.at},
        )  # fmt: skip

    return _plans.replan(store, catalogue, settings, plan_id, body, record=record)


@router.post(
    "/{plan_id}/publish",
    summary="Publish a plan (citizens see the ETAs)",
    responses={404: {"model": Problem}},
)
def publish(
    plan_id: PlanId, who: DispatcherDep, store: StoreDep, settings: SettingsDep
) -> dict[str, int]:
    """Publish a plan: each stop's ETA becomes its reports' Open311 ``expected_datetime``.

    Reports whose ETA an earlier published plan gave and this one no longer has lose it. A
    dispatcher of a district publishes only its district's plans (403); the ``plan.publish``
    audit row names the token's user (or ``token:<id>``).
    """
    from api.plans.publish import publish_for_crews

    scope.check_plan_id(who, store, plan_id)
    return publish_for_crews(store, plan_id, by=who.actor, tz=ZoneInfo(settings.timezone))
