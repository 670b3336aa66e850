"""The dispatcher's planning pages: "Plan the day" with progress, the plan, publishing it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api import _plans
from api._publish import publish_for_crews
from api.deps import CatalogueDep, SettingsDep, StoreDep
from api.principal import Principal
from api.schemas import PlanRequest
from api.scope import check_plan, check_planning, in_district
from api.web import audit, plan_view
from api.web.deps import PageRoute, action_user, page_user
from api.web.dispatch import day_crews, district_scope, moment, work_rows
from api.web.plan_jobs import PlanJob, plan_jobs
from api.web.sessions import WebSession
from api.web.templating import render
from geo311 import auth_store
from geo311.catalogue import Catalogue
from geo311.errors import ConflictError, InputError
from geo311.settings import Settings
from geo311.store import Store
from routing.crews import CrewConfig
from routing.plan_document import PlanDocument

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherPage = Annotated[WebSession, Depends(page_user("dispatcher"))]
DispatcherAction = Annotated[WebSession, Depends(action_user("dispatcher"))]
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


def _plan_summary(doc: dict[str, Any]) -> dict[str, Any]:
    summary = doc.get("summary") or {}
    return {
        "plan_id": doc.get("plan_id"),
        "at": doc.get("at"),
        "crews": [r.get("crew_id") for r in doc.get("routes") or []],
        "shifts": {
            str(c.get("id")): [c.get("shift_start"), c.get("shift_end")]
            for c in doc.get("crews") or []
        },
        "jobs_assigned": sum(
            1
            for r in doc.get("routes") or []
            for s in r.get("steps") or []
            if s.get("type") == "job"
        ),
        "jobs_unassigned": summary.get("jobs_unassigned", len(doc.get("unassigned") or [])),
        "district": doc.get("district"),
    }


def _runner(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    body: PlanRequest,
    user: str,
    crews: CrewConfig,
) -> Any:
    def run() -> dict[str, Any]:
        from routing.dispatch import save_day_plan

        day = _plans.solve_plan(store, catalogue, settings, body, crews=crews)
        with store.begin():  # the plan and its audit row commit together
            doc = save_day_plan(store, day).to_dict()
            audit.record(
                store, user, "plan.create", f"plan:{doc['plan_id']}", after=_plan_summary(doc)
            )
        return doc

    return run


@router.post("/plan", summary="Plan the day")
def start_plan(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    at: Annotated[str, Form(max_length=40)] = "",
    time_limit_s: Annotated[float, Form(gt=0, le=300)] = 10.0,
    districts: Annotated[str, Form(pattern="^(mine|all)$")] = "mine",
) -> Response:
    """Start the solver in a worker thread for the crews on duty; go to its progress page.

    A dispatcher with a district plans that district's work with its crews; asking for
    all districts is refused (403): only a dispatcher without a district plans the city.
    """
    scope = district_scope(session.user, districts)
    check_planning(Principal.of_user(session.user), scope)
    when = moment(at, settings)
    day = when.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    crews = day_crews(store, settings, day)
    user = session.user.username
    if scope is not None:
        run = _district_runner(store, catalogue, settings, when, scope, crews, user, time_limit_s)
    else:
        # The day's crews (some off, shifts changed) go to the existing path as a CrewConfig.
        body = PlanRequest(at=when.isoformat(), time_limit_s=time_limit_s)
        run = _runner(store, catalogue, settings, body, user, crews)
    job = plan_jobs(request.app.state).submit(run, user=user, time_limit_s=time_limit_s)
    return RedirectResponse(f"/dispatch/plan-jobs/{job.job_id}", status_code=303)


def _district_runner(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    when: datetime,
    district: str,
    crews: CrewConfig,
    user: str,
    time_limit_s: float,
) -> Callable[[], dict[str, Any]]:
    """Return the run that plans one district's open work with its crews and stores it."""

    def run() -> dict[str, Any]:
        doc, plan_date = _plans.solve_district_plan(
            store, catalogue, settings, at=when, district=district, crews=crews,
            time_limit_s=time_limit_s, seed=settings.solver_seed,
        )  # fmt: skip
        with store.begin():  # the plan and its audit row commit together
            plan_id = store.save_plan(doc.to_dict(), plan_date=plan_date)
            stored = store.get_plan(plan_id)
            audit.record(store, user, "plan.create", f"plan:{plan_id}", after=_plan_summary(stored))
        return stored

    return run


def _job(request: Request, job_id: str) -> PlanJob:
    job = plan_jobs(request.app.state).get(job_id)
    if job is None:
        raise HTTPException(404, f"no planning run {job_id}; start one from /dispatch")
    return job


@router.get("/plan-jobs/{job_id}.json", summary="Planning progress")
def plan_job_status(request: Request, _s: DispatcherPage, job_id: JobId) -> Response:
    """Return a planning run's state (for the progress page's script)."""
    status = _job(request, job_id).status()
    if status["state"] == "done":
        status["plan_url"] = f"/dispatch/plans/{status['plan_id']}"
    return JSONResponse(status, headers={"Cache-Control": "no-store"})


@router.get("/plan-jobs/{job_id}", summary="Planning progress page")
def plan_job_page(request: Request, _s: DispatcherPage, job_id: JobId) -> Response:
    """Show the progress of a planning run; once solved, go to the plan."""
    status = _job(request, job_id).status()
    if status["state"] == "done":
        return RedirectResponse(f"/dispatch/plans/{status['plan_id']}", status_code=302)
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

    doc = store.get_plan(plan_id)
    tz = ZoneInfo(str(doc.get("timezone") or settings.timezone))
    locks = dispatcher_locks(PlanDocument.from_dict(doc))
    columns = plan_view.crew_columns(doc, tz, locks=locks, units=settings.city.units)
    context = {
        "plan": doc,
        "columns": columns,
        "unassigned": plan_view.unassigned(doc),
        "breaches": len(doc.get("sla_breaches") or []),
        "map_data": plan_view.map_data(doc),
        "publication": auth_store.publication(store, plan_id),
        "summary": _plan_summary(doc),
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
    from geo311.workorders import open_work_orders_at

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


@router.post("/plans/{plan_id}/replan", summary="Re-plan a plan")
def replan_plan(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    plan_id: PlanId,
    mode: Annotated[str, Form(pattern="^(locked|now)$")],
    at: Annotated[str, Form(max_length=40)] = "",
    time_limit_s: Annotated[float, Form(gt=0, le=300)] = 10.0,
    new_work_order: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Solve the plan's day again in a worker thread; go to its progress page.

    ``mode=locked``: the whole day again, the dispatcher's locked stops kept on their crews
    in their order (an unpublished plan). ``mode=now``: the mid-day re-plan from ``at``:
    stops done or started stay too, and the ticked new work orders are inserted as urgent.
    """
    doc = PlanDocument.from_dict(store.get_plan(plan_id))
    check_plan(Principal.of_user(session.user), doc, plan_id)
    if mode == "locked" and auth_store.publication(store, plan_id) is not None:
        raise ConflictError(
            f"plan {plan_id} is published; use 'Re-plan now' to re-plan the rest of the day"
        )
    when = moment(at, settings) if mode == "now" else None
    ids = sorted(set(new_work_order or [])) if mode == "now" else []
    run = _replan_runner(
        store, catalogue, settings, doc, when, ids, session.user.username, time_limit_s
    )
    job = plan_jobs(request.app.state).submit(
        run, user=session.user.username, time_limit_s=time_limit_s
    )
    return RedirectResponse(f"/dispatch/plan-jobs/{job.job_id}", status_code=303)


def _replan_runner(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    doc: PlanDocument,
    when: datetime | None,
    new_ids: list[int],
    user: str,
    time_limit_s: float,
) -> Callable[[], dict[str, Any]]:
    """Return the run that re-plans the stored plan, stores the new one and audits it."""

    def run() -> dict[str, Any]:
        from routing.dispatch.editing import dispatcher_locks, replan_locked, save_derived

        locks = dispatcher_locks(doc)
        day = replan_locked(
            store, catalogue, doc, at=when, new_work_order_ids=new_ids, settings=settings,
            time_limit_s=time_limit_s, seed=settings.solver_seed,
        )  # fmt: skip
        with store.begin():  # the plan and its audit row commit together
            saved = save_derived(store, day, doc, kind="replan", locks=locks).to_dict()
            audit.record(
                store,
                user,
                "plan.replan",
                f"plan:{saved['plan_id']}",
                before={"plan_id": doc.plan_id, "locks": locks},
                after={
                    **_plan_summary(saved),
                    "mode": "now" if when is not None else "locked",
                    "at": when.isoformat() if when is not None else None,
                    "new_work_orders": new_ids,
                },
            )
        return saved

    return run


@router.post("/plans/{plan_id}/publish", summary="Publish a plan")
def publish_plan(
    session: DispatcherAction, store: StoreDep, settings: SettingsDep, plan_id: PlanId
) -> Response:
    """Publish a plan: its routes become the crews' itineraries of that day."""
    doc = store.get_plan(plan_id)
    check_plan(Principal.of_user(session.user), doc, plan_id)
    plan_date = str(doc.get("plan_date") or "")
    if not plan_date:
        raise InputError(f"plan {plan_id} has no plan_date; plan the day again", field="plan_id")
    publish_for_crews(  # the crews' itineraries, the reports' ETAs, the "scheduled" e-mails
        store,
        plan_id,
        by=session.user.username,
        tz=ZoneInfo(settings.timezone),
        audit={"plan_date": plan_date, **_plan_summary(doc)},
    )
    return RedirectResponse(f"/dispatch/plans/{plan_id}", status_code=303)
