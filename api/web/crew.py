"""The crew's phone view: ``/crew`` (today's stops, arrived / done / can't do, works offline).

A stop shows its state (:mod:`geo311.plans.stop_states`); a finished stop (done, can't do) has no
buttons left but, for a dispatcher, "Reopen".
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.deps import CatalogueDep, SettingsDep, StoreDep
from api.plans import service as _plans
from api.plans.stops import Actor
from api.principal import Principal
from api.scope import check_plan_id
from api.web import crew_actions, plan_view
from api.web.deps import PageRoute, check_csrf, page_user
from api.web.sessions import WebSession
from api.web.templating import render, staff_i18n
from geo311.db.store import Store
from geo311.errors import ConflictError, Geo311Error, InputError, NotFoundError
from geo311.plans import repo as plan_repo
from geo311.plans import stop_states
from geo311.plans.document import PlanDocument
from geo311.plans.stop_states import StopStateConflict
from geo311.requests import repo as request_repo
from geo311.staff import positions
from geo311.staff import store as auth_store

router = APIRouter(prefix="/crew", route_class=PageRoute, include_in_schema=False)
CrewPage = Annotated[WebSession, Depends(page_user("crew"))]
CrewOrDispatcher = Annotated[WebSession, Depends(page_user("crew", "dispatcher"))]
CrewId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def allow_crew(session: WebSession, crew_id: str) -> None:
    """Refuse (403) a crew user looking at another crew."""
    user = session.user
    if user.role == "crew" and user.crew_id != crew_id:
        raise HTTPException(
            403, f"you see only your own crew's stops ({user.crew_id}), not crew {crew_id!r}"
        )


def published_plan(store: Store, crew_id: str) -> dict[str, Any] | None:
    """Return the newest published plan that has a route for the crew, or None."""
    for row in auth_store.latest_publications(store, limit=30):
        doc = plan_repo.get_plan(store, int(row["plan_id"]))
        if any(r.get("crew_id") == crew_id for r in doc.get("routes") or []):
            return doc
    return None


REPORTS_SHOWN = 5
"""Most reports shown at a stop (their descriptions and photos); the rest are counted."""


def stop_reports(store: Store, work_order_id: int | None) -> list[dict[str, str]]:
    """Return what the residents wrote and photographed for a stop's work order, oldest first.

    Each item: ``id``, ``description`` and ``photo`` (a URL, or empty); only reports with a
    description or a photo, at most :data:`REPORTS_SHOWN`.
    """
    if work_order_id is None:
        return []
    found = request_repo.query_requests(
        store, request_repo.RequestFilters(work_order_id=work_order_id, limit=50)
    )
    shown = [
        {
            "id": r.service_request_id,
            "description": (r.description or "").strip(),
            "photo": (r.media_url or "").strip(),
        }
        for r in found
        if (r.description or "").strip() or (r.media_url or "").strip()
    ]
    return shown[:REPORTS_SHOWN]


def next_stop(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the first stop of the day that is not finished (done or can't do), or None."""
    return next((r for r in rows if not r["finished"]), None)


def mark_undoable(rows: list[dict[str, Any]], username: str, now: datetime) -> None:
    """Set each row's ``undoable``: a can't-do this user gave within the undo window."""
    window = stop_states.WINDOWS["undo"]
    for row in rows:
        cant = row.get("cant") or {}
        at = cant.get("at")
        row["undoable"] = bool(
            row["state"] == "cant_do"
            and cant.get("by") == username
            and at
            and now - datetime.fromisoformat(str(at)) <= window
        )


def _stop_rows(
    store: Store, doc: dict[str, Any], crew_id: str, tz: ZoneInfo
) -> list[dict[str, Any]]:
    it = _plans.itinerary(store, PlanDocument.from_dict(doc), crew_id).model_dump(mode="json")
    cant = doc.get("cant_do") or {}
    states = doc.get("stop_states") or {}
    names = {j: (v or {}).get("service_name") for j, v in (doc.get("jobs") or {}).items()}
    rows = []
    for order, stop in enumerate(it["stops"], start=1):
        job_id = stop["job_id"]
        rows.append(
            {
                **stop,
                "order": order,
                "eta": plan_view.clock(stop.get("arrival"), tz),
                "service": names.get(job_id) or stop.get("service_code") or "",
                "cant": cant.get(job_id),
                "state": states.get(job_id, "planned"),
                "state_text": stop_states.LABELS[states.get(job_id, "planned")],
                "finished": states.get(job_id) in stop_states.FINISHED,
                "keys": {a: uuid.uuid4().hex for a in crew_actions.ACTIONS},
                "reports": stop_reports(store, stop.get("work_order_id")),
            }
        )
    return rows


def _crew_page(
    request: Request,
    store: Store,
    settings: Any,
    crew_id: str,
    *,
    username: str,
    dispatcher: bool = False,
) -> Response:
    doc = published_plan(store, crew_id)
    context: dict[str, Any] = {
        "crew_id": crew_id,
        "plan": doc,
        "stops": [],
        "can_reopen": dispatcher,
    }
    if doc is not None:
        tz = ZoneInfo(str(doc.get("timezone") or settings.timezone))
        data = plan_view.map_data(doc)
        data["routes"] = [r for r in data["routes"] if r["crew_id"] == crew_id]
        labels = {c.get("id"): c.get("label") for c in doc.get("crews") or []}
        rows = _stop_rows(store, doc, crew_id, tz)
        words = staff_i18n(request)
        for row in rows:  # the service's name in the city's own words (its translations)
            row["service"] = words.city(row["service"])
            label = stop_states.LABELS[row["state"]]  # shown in the city's language
            row["state_text"] = words.gettext(label)
        mark_undoable(rows, username, datetime.now(UTC))
        context.update(
            stops=rows,
            next_stop=next_stop(rows),
            done_count=sum(1 for r in rows if r["finished"]),
            map_data=data,
            crew_label=labels.get(crew_id) or crew_id,
            presets=crew_actions.DONE_PRESETS,
            reasons=crew_actions.CANT_REASONS,
        )
    return render(request, "crew.html", context)


@router.get("", summary="My stops")
def my_stops(
    request: Request, session: CrewPage, store: StoreDep, settings: SettingsDep
) -> Response:
    """Show the signed-in crew's stops of its newest published plan."""
    user = session.user
    return _crew_page(request, store, settings, str(user.crew_id), username=user.username)


@router.get("/{crew_id}", summary="A crew's stops")
def crew_stops(
    request: Request,
    session: CrewOrDispatcher,
    store: StoreDep,
    settings: SettingsDep,
    crew_id: CrewId,
) -> Response:
    """Show a crew's stops (a crew sees only its own; a dispatcher sees any)."""
    allow_crew(session, crew_id)
    dispatcher = session.user.role == "dispatcher"
    return _crew_page(
        request, store, settings, crew_id, username=session.user.username, dispatcher=dispatcher
    )


@router.get("/{crew_id}/plans/{plan_id}.gpx", summary="A crew's route as GPX")
def crew_gpx(
    request: Request, session: CrewOrDispatcher, store: StoreDep, crew_id: CrewId, plan_id: PlanId
) -> Response:
    """Download the crew's route of a plan as GPX 1.1 (for a navigation app)."""
    from maps.itinerary import itinerary_gpx

    allow_crew(session, crew_id)
    doc = PlanDocument.from_dict(plan_repo.get_plan(store, plan_id))
    gpx = itinerary_gpx(_plans.crew_itinerary(doc, crew_id), i18n=staff_i18n(request))
    return Response(
        gpx,
        media_type="application/gpx+xml",
        headers={"Content-Disposition": f'attachment; filename="{crew_id}-plan-{plan_id}.gpx"'},
    )


def _wants_json(request: Request) -> bool:
    """Tell whether the phone's script sent the action (it reads JSON back)."""
    headers = request.headers
    return "json" in headers.get("content-type", "") or "application/json" in headers.get(
        "accept", ""
    )


def _refused(exc: Exception) -> JSONResponse:
    """Return a refused action as the phone's script reads it: ``ok``, ``error``, ``state``."""
    if isinstance(exc, HTTPException):
        code, text = exc.status_code, str(exc.detail)
    else:
        codes = ((NotFoundError, 404), (ConflictError, 409))
        code = next((c for kind, c in codes if isinstance(exc, kind)), 400)
        text = str(exc)
    body: dict[str, Any] = {"ok": False, "error": text}
    if isinstance(exc, StopStateConflict):
        body["state"] = exc.state
    return JSONResponse(body, status_code=code)


def _after(session: WebSession, action: crew_actions.CrewAction) -> RedirectResponse:
    """Where a plain form goes back to: the crew page, or the plan page after a reopen."""
    if action.action == "reopen":
        target = f"/dispatch/plans/{action.plan_id}#stop-{action.job_id}"
    else:
        target = "/crew" if session.user.role == "crew" else f"/crew/{action.crew_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/position", summary="Share the crew's position with the dispatchers")
async def crew_position(
    request: Request, session: CrewPage, store: StoreDep, settings: SettingsDep
) -> Response:
    """Store the signed-in crew's position (pressed "Share my position"); audited.

    The crew is the signed-in user's, never the form's; CSRF-checked like the crew's other
    actions; a bad ``lat``, ``lon`` or ``accuracy`` is a 400 naming the field.
    """
    await check_csrf(request, session)
    lat, lon, accuracy = await crew_actions.read_position(request)
    user = session.user
    position = positions.CrewPosition(
        crew_id=str(user.crew_id),
        lat=lat,
        lon=lon,
        accuracy_m=accuracy,
        at=datetime.now(UTC),
        by_user=user.username,
    )
    await run_in_threadpool(crew_actions.share_position, store, position)
    at = position.at.isoformat(timespec="seconds")
    clock = position.at.astimezone(ZoneInfo(settings.timezone)).strftime("%H:%M")
    return JSONResponse({"ok": True, "crew_id": position.crew_id, "at": at, "clock": clock})


@router.post("/actions", summary="A stop action (done, can't do, arrive, reopen), sent once")
async def crew_action(
    request: Request, store: StoreDep, catalogue: CatalogueDep, settings: SettingsDep
) -> Response:
    """Apply a crew's stop action exactly once (idempotency key); JSON or form (with a photo).

    A crew acts on its own stops of the plan published for its day; a dispatcher on any stop
    of a published plan, and may reopen a finished one. The phone's script
    (``Accept: application/json``) gets a refused action back as JSON
    ``{"ok": false, "error": ..., "state": ...}`` with the status, so it can show the reason
    and the stop's state.
    """
    try:
        action, session, photo = await crew_actions.read_action(request, store)
    except InputError as exc:
        if not _wants_json(request):
            raise
        return _refused(exc)
    try:
        allow_crew(session, action.crew_id)
        who = Principal.of_user(session.user)  # a dispatcher of a district: its plans only
        await run_in_threadpool(check_plan_id, who, store, action.plan_id)
        action, new_photo = await crew_actions.attach_photo(request, action, photo, settings)
    except (InputError, HTTPException) as exc:
        if not _wants_json(request):
            raise
        return _refused(exc)
    user = session.user
    actor = Actor(user.username, user.role, user.crew_id)
    try:
        result, duplicate = await run_in_threadpool(
            crew_actions.apply_once, store, catalogue, action, actor
        )
    except BaseException as exc:
        if new_photo is not None:  # refused: the photo this request stored is nobody's
            new_photo.unlink(missing_ok=True)
        if _wants_json(request) and isinstance(exc, HTTPException | Geo311Error):
            return _refused(exc)
        raise
    if duplicate and new_photo is not None:  # applied before, with another photo or none
        new_photo.unlink(missing_ok=True)
    if _wants_json(request):
        return JSONResponse({**result, "duplicate": duplicate})
    return _after(session, action)
