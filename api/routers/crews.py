"""Crew endpoints: a crew's itinerary (JSON, HTML, GPX) and marking a stop done.

A crew token (role ``crew:<id>``) sees only its own itinerary; dispatchers and planners see all.
Marking a stop is audited with the token's user (or ``token:<id>``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.responses import HTMLResponse, Response

from api import _plans, scope
from api.deps import CatalogueDep, StaffDep, StoreDep
from api.principal import Principal
from api.schemas import NON_JSON_ERRORS, STAFF_RESPONSES, Itinerary, Problem, StopDone
from api.web import audit
from maps.itinerary import itinerary_gpx, itinerary_html
from routing.plan_document import load_plan_document

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


@router.post(
    "/{crew_id}/stops/{job_id}/done",
    response_model=Itinerary,
    summary="Mark a stop done",
    responses={409: {"model": Problem}},
)
def stop_done(
    plan_id: PlanId,
    crew_id: CrewId,
    job_id: Annotated[str, Path(max_length=64)],
    body: StopDone,
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
) -> Itinerary:
    """Mark a stop done: closes its work order (and its requests) with the crew's note.

    A dispatcher of a district marks only its district's plans' stops (403). The change and
    its ``stop.done`` audit row (the token's user, or ``token:<id>``) commit together.
    """
    _allow(who, crew_id)
    if who.role == "planner":
        raise HTTPException(403, "planners may not mark stops; use a crew or dispatcher token")
    scope.check_plan_id(who, store, plan_id)
    with store.begin():
        done = _plans.mark_stop_done(
            store,
            catalogue,
            plan_id,
            crew_id,
            job_id,
            status=body.status,
            closure_category=body.closure_category,
            note=body.note,
        )
        audit.record(
            store,
            who.actor,
            "stop.done",
            f"plan:{plan_id}:{crew_id}:{job_id}",
            before={"done": False},
            after={"done": True, **body.model_dump()},
        )
    return done
