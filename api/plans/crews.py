"""Crew endpoints: a crew's itinerary (JSON, HTML, GPX) and a stop's actions.

Done, can't do and arrive (a crew on its own stops of its day's published plan, or a
dispatcher), reopen (a dispatcher): :func:`api.plans.stops.act`, the state machine of
:mod:`geo311.plans.stop_states`; a refused change answers 409 with the stop's ``state``.

A crew token (role ``crew:<id>``) sees only its own itinerary; dispatchers and planners see all.
A dispatcher of a district acts only on its district's plans; every stop change is audited
with the token's user (or ``token:<id>``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse, Response

from api import scope
from api.deps import CatalogueDep, StaffDep, StoreDep
from api.plans import service as _plans
from api.plans import stops as _stops
from api.plans.schemas import Itinerary, StopCantDo, StopDone, StopReopen
from api.plans.stops import Actor
from api.principal import Principal
from api.schemas import NON_JSON_ERRORS, STAFF_RESPONSES, Problem
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans.repo import load_plan_document
from geo311.plans.stop_states import StopChange
from maps.itinerary import itinerary_gpx, itinerary_html

router = APIRouter(
    prefix="/plans/{plan_id}/crews",
    tags=["crews"],
    responses=STAFF_RESPONSES,
)
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
CrewId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


def _allow(who: Principal, crew_id: str) -> None:
    if who.role == "crew" and who.crew_id != crew_id:
        raise HTTPException(
            403, f"a crew token sees only its own itinerary; this one is for {who.crew_id!r}"
        )


@router.get(
    "/{crew_id}.html",
    response_class=HTMLResponse,
    summary="A crew's itinerary (HTML)",
    responses={**NON_JSON_ERRORS, 200: {"content": {"text/html": {}}}},
)
def get_itinerary_html(
    plan_id: PlanId, crew_id: CrewId, who: StaffDep, store: StoreDep
) -> HTMLResponse:
    """Return the itinerary as a printable HTML page."""
    _allow(who, crew_id)
    it = _plans.crew_itinerary(load_plan_document(store, plan_id), crew_id)
    return HTMLResponse(itinerary_html(it))


@router.get(
    "/{crew_id}.gpx",
    response_class=Response,
    summary="A crew's itinerary (GPX)",
    responses={**NON_JSON_ERRORS, 200: {"content": {"application/gpx+xml": {}}}},
)
def get_itinerary_gpx(plan_id: PlanId, crew_id: CrewId, who: StaffDep, store: StoreDep) -> Response:
    """Return the itinerary as GPX 1.1 for a navigation device."""
    _allow(who, crew_id)
    it = _plans.crew_itinerary(load_plan_document(store, plan_id), crew_id)
    return Response(itinerary_gpx(it), media_type="application/gpx+xml")


@router.get("/{crew_id}", response_model=Itinerary, summary="A crew's itinerary (JSON)")
def get_itinerary(plan_id: PlanId, crew_id: CrewId, who: StaffDep, store: StoreDep) -> Itinerary:
    """Return the crew's ordered stops with address, service, reports and times."""
    _allow(who, crew_id)
    return _plans.itinerary(store, load_plan_document(store, plan_id), crew_id)


JobId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
STOP_RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"model": Problem, "description": "the stop's state refuses it (body has `state`)"}
}


@router.post(
    "/{crew_id}/stops/{job_id}/done",
    response_model=Itinerary,
    summary="Mark a stop done",
    responses=STOP_RESPONSES,
)
def stop_done(
    plan_id: PlanId,
    crew_id: CrewId,
    job_id: JobId,
    body: StopDone,
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
) -> Itinerary:
    """Mark a stop done: closes its work order (and its requests) with the crew's note.

    A crew token acts only on its own stops of the plan published for its day; a dispatcher
    on any stop of a published plan.
    """
    _allow(who, crew_id)
    scope.check_plan_id(who, store, plan_id)
    return _plans.mark_stop_done(
        store,
        catalogue,
        plan_id,
        crew_id,
        job_id,
        actor=Actor.from_principal(who),
        done=body,
    )


def _act(store: Store, catalogue: Catalogue, who: Principal, change: StopChange) -> Itinerary:
    _allow(who, change.crew_id)
    scope.check_plan_id(who, store, change.plan_id)
    _stops.act(store, catalogue, Actor.from_principal(who), change)
    return _plans.itinerary(store, load_plan_document(store, change.plan_id), change.crew_id)


@router.post(
    "/{crew_id}/stops/{job_id}/cant",
    response_model=Itinerary,
    summary="Return a stop to the dispatcher (can't do)",
    responses=STOP_RESPONSES,
)
def stop_cant_do(
    plan_id: PlanId,
    crew_id: CrewId,
    job_id: JobId,
    body: StopCantDo,
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
) -> Itinerary:
    """Mark a stop can't-do with a reason: its work order stays open for the dispatcher."""
    change = StopChange(
        plan_id, job_id, crew_id, "cant_do", Actor.from_principal(who).name,
        reason=body.reason, note=body.note,
    )  # fmt: skip
    return _act(store, catalogue, who, change)


@router.post(
    "/{crew_id}/stops/{job_id}/arrive",
    response_model=Itinerary,
    summary="Say the crew is at a stop",
    responses=STOP_RESPONSES,
)
def stop_arrive(
    plan_id: PlanId,
    crew_id: CrewId,
    job_id: JobId,
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
) -> Itinerary:
    """Mark a planned stop arrived (the crew is working on it)."""
    change = StopChange(plan_id, job_id, crew_id, "arrive", Actor.from_principal(who).name)
    return _act(store, catalogue, who, change)


@router.post(
    "/{crew_id}/stops/{job_id}/reopen",
    response_model=Itinerary,
    summary="Reopen a finished stop (dispatcher)",
    responses=STOP_RESPONSES,
)
def stop_reopen(
    plan_id: PlanId,
    crew_id: CrewId,
    job_id: JobId,
    body: StopReopen,
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
) -> Itinerary:
    """Put a done or can't-do stop back to planned (dispatchers only; audited)."""
    change = StopChange(
        plan_id, job_id, crew_id, "reopen", Actor.from_principal(who).name, note=body.note
    )
    return _act(store, catalogue, who, change)
