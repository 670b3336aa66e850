"""The dispatcher's planning pages: "Plan the day" with progress, the plan, publishing it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from api.deps import CatalogueDep, SettingsDep, StoreDep
from api.plans.publish import publish_for_crews
from api.principal import Principal
from api.scope import check_plan, check_planning, city_districts, in_district
from api.web import plan_view
from api.web.deps import PageRoute, action_user, page_user
from api.web.dispatch import district_scope, moment, work_rows
from api.web.plan_jobs import job_status, local_day, plan_summary
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.settings import Settings
from geo311.staff import store as auth_store

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherPage = Annotated[WebSession, Depends(page_user("dispatcher"))]
DispatcherAction = Annotated[WebSession, Depends(action_user("dispatcher"))]
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


def _submit(
    request: Request, store: Store, kind: str, params: dict[str, Any], user: str
) -> Response:
    """Queue a planning job and go to its progress page (a worker of any process runs it)."""
    job_id = jobs_store.submit(store, kind, params, created_by=user)
    wake = getattr(request.app.state, "wake_job_workers", None)
    if wake is not None:
        wake()
    return RedirectResponse(f"/dispatch/plan-jobs/{job_id}", status_code=303)


class PlanForm(BaseModel):
    """The console's "plan the day" form: when, how long to solve, which districts."""

    at: str = Field("", max_length=40)
    time_limit_s: float = Field(10.0, gt=0, le=300)
    districts: str = Field("mine", pattern="^(mine|all)$")
    district: str = Field("", max_length=120)


@router.post("/plan", summary="Plan the day")
def start_plan(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    settings: SettingsDep,
    form: Annotated[PlanForm, Form()],
) -> Response:
    """Queue "plan the day" for the crews on duty (a job worker solves it); go to its progress.

    ``district`` (the console's choice) plans that district's work with the crews of its
    yards, as ``geo311 plan --district`` does. Without it, a dispatcher with a district plans
    that district; asking for another district, or for all of them, is refused (403): only a
    dispatcher without a district plans the whole city (``districts=all``).
    """
    scope = form.district.strip() or district_scope(session.user, form.districts)
    check_planning(Principal.of_user(session.user), scope)
    if scope is not None:
        city_districts(str(settings.districts_file)).get(scope)  # unknown: names the known
    when = moment(form.at, settings)
    params = {
        "at": when.isoformat(),
        "day": local_day(when, settings),
        "time_limit_s": form.time_limit_s,
    }
    if scope is not None:
        return _submit(
            request, store, "district", {**params, "district": scope}, session.user.username
        )
    # The day's crews (some off, shifts changed) are read by the worker when it starts.
    return _submit(request, store, "plan", params, session.user.username)


def _job(store: Store, job_id: str) -> dict[str, Any]:
    status = job_status(store, job_id)
    if status is None:
        raise HTTPException(404, f"no planning run {job_id}; start one from /dispatch")
    return status


def _done_url(status: dict[str, Any]) -> str:
    """Where a finished run leads: its plan (a horizon run: the plan's horizon page)."""
    suffix = "/horizon" if status["kind"] == "horizon" else ""
    return f"/dispatch/plans/{status['plan_id']}{suffix}"


@router.get("/plan-jobs/{job_id}.json", summary="Planning progress")
def plan_job_status(_s: DispatcherPage, store: StoreDep, job_id: JobId) -> Response:
    """Return a planning run's state from its row (for the progress page's script)."""
    status = _job(store, job_id)
    if status["state"] == "done":
        status["plan_url"] = _done_url(status)
    return JSONResponse(status, headers={"Cache-Control": "no-store"})


@router.get("/plan-jobs/{job_id}", summary="Planning progress page")
def plan_job_page(request: Request, _s: DispatcherPage, store: StoreDep, job_id: JobId) -> Response:
    """Show the progress of a planning run; once solved, go to the plan; failed, say why."""
    status = _job(store, job_id)
    if status["state"] == "done":
        return RedirectResponse(_done_url(status), status_code=302)
    return render(request, "plan_progress.html", {"job": status})


@router.get("/plans/{plan_id}", summary="A plan")
def plan_page(
    request: Request,
    session: DispatcherPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    plan_id: PlanId,
) -> Response:
    """Show a plan: one column per crew with ordered stops and ETAs, unassigned work, breaches.

    An unpublished plan can be changed by hand (move, lock, drop) and solved again keeping
    the locked stops; any plan can be re-planned mid-day with new urgent work.
    """
    from routing.dispatch.editing import dispatcher_locks

    doc = plan_repo.get_plan(store, plan_id)
    tz = ZoneInfo(str(doc.get("timezone") or settings.timezone))
    locks = dispatcher_locks(PlanDocument.from_dict(doc))
    columns = plan_view.crew_columns(doc, tz, locks=locks, units=settings.city.units)
    for n, col in enumerate(columns):
        col["colour"] = plan_view.route_colour(n)  # the map's line of that crew
    unassigned = plan_view.unassigned(doc)
    context = {
        "plan": doc,
        "columns": columns,
        "unassigned": unassigned,
        "unassigned_groups": plan_view.unassigned_groups(unassigned),
        "breaches": len(doc.get("sla_breaches") or []),
        "map_data": plan_view.map_data(doc),
        "publication": auth_store.publication(store, plan_id),
        "summary": plan_summary(doc),
        "crew_choices": [(c["crew_id"], c["label"]) for c in columns],
        "new_work": _new_work(store, catalogue, settings, doc, session.user),
        "replan_at": _replan_at(doc, settings),
        "time_limit_s": settings.solver_time_limit_s,
    }
    return render(request, "plan.html", context)


NEW_WORK_ROWS = 50  # the most urgent open work orders not in the plan, offered for "Re-plan now"


def _new_work(
    store: Store, catalogue: Catalogue, settings: Settings, doc: dict[str, Any], user: Any
) -> list[dict[str, Any]]:
    """Return the open work orders not in the plan (its district's), most urgent first."""
    from geo311.workorders.open_view import open_work_orders_at

    tz = ZoneInfo(settings.timezone)
    at = moment(str(doc.get("at") or "") or None, settings)
    known = {j.get("work_order_id") for j in (doc.get("jobs") or {}).values()}
    district = doc.get("district") or district_scope(user, "mine")
    orders = [
        wo
        for wo in in_district(
            open_work_orders_at(store, at, catalogue=catalogue), settings, district
        )
        if wo.work_order_id not in known
    ]
    rows = work_rows(orders, catalogue, at, tz)
    return sorted(rows, key=lambda r: r["sla_due_ts"])[:NEW_WORK_ROWS]


def _replan_at(doc: dict[str, Any], settings: Settings) -> str:
    """Return the form's default moment of a mid-day re-plan: now on the plan's day, else its start."""
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(tz)
    if str(doc.get("plan_date")) == now.date().isoformat():
        return now.strftime("%Y-%m-%dT%H:%M")
    at = doc.get("at")
    return datetime.fromisoformat(str(at)).astimezone(tz).strftime("%Y-%m-%dT%H:%M") if at else ""


class ReplanForm(BaseModel):
    """A plan page's re-plan form: the mode, the moment, the time limit, the new work."""

    mode: str = Field(pattern="^(locked|now)$")
    at: str = Field("", max_length=40)
    time_limit_s: float = Field(10.0, gt=0, le=300)
    new_work_order: list[int] | None = None


@router.post("/plans/{plan_id}/replan", summary="Re-plan a plan")
def replan_plan(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    settings: SettingsDep,
    plan_id: PlanId,
    form: Annotated[ReplanForm, Form()],
) -> Response:
    """Queue the plan's day to be solved again by a job worker; go to its progress page.

    ``mode=locked``: the whole day again, the dispatcher's locked stops kept on their crews
    in their order (an unpublished plan). ``mode=now``: the mid-day re-plan from ``at``:
    stops done or started stay too, and the ticked new work orders are inserted as urgent.
    """
    doc = PlanDocument.from_dict(plan_repo.get_plan(store, plan_id))
    check_plan(Principal.of_user(session.user), doc, plan_id)
    mode = form.mode
    if mode == "locked" and auth_store.publication(store, plan_id) is not None:
        raise ConflictError(
            f"plan {plan_id} is published; use 'Re-plan now' to re-plan the rest of the day"
        )
    when = moment(form.at, settings) if mode == "now" else None
    params = {
        "plan_id": plan_id,
        "mode": mode,
        "at": when.isoformat() if when is not None else None,
        "new_work_order_ids": sorted(set(form.new_work_order or [])) if mode == "now" else [],
        "time_limit_s": form.time_limit_s,
    }
    return _submit(request, store, "replan", params, session.user.username)


@router.post("/plans/{plan_id}/publish", summary="Publish a plan")
def publish_plan(
    session: DispatcherAction, store: StoreDep, settings: SettingsDep, plan_id: PlanId
) -> Response:
    """Publish a plan: its routes become the crews' itineraries of that day."""
    doc = plan_repo.get_plan(store, plan_id)
    check_plan(Principal.of_user(session.user), doc, plan_id)
    plan_date = str(doc.get("plan_date") or "")
    if not plan_date:
        raise InputError(f"plan {plan_id} has no plan_date; plan the day again", field="plan_id")
    publish_for_crews(  # the crews' itineraries, the reports' ETAs, the "scheduled" e-mails
        store,
        plan_id,
        by=session.user.username,
        tz=ZoneInfo(settings.timezone),
        audit={"plan_date": plan_date, **plan_summary(doc)},
    )
    return RedirectResponse(f"/dispatch/plans/{plan_id}", status_code=303)
