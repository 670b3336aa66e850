"""The dispatcher's planning pages: "Plan the day" with progress, the plan, publishing it."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api import _plans
from api._publish import publish_for_crews
from api.deps import CatalogueDep, SettingsDep, StoreDep
from api.schemas import PlanRequest
from api.web import audit, plan_view
from api.web.deps import PageRoute, action_user, page_user
from api.web.dispatch import day_crews, moment
from api.web.plan_jobs import PlanJob, plan_jobs
from api.web.sessions import WebSession
from api.web.templating import render
from geo311 import auth_store
from geo311.catalogue import Catalogue
from geo311.errors import InputError
from geo311.settings import Settings
from geo311.store import Store
from routing.crews import CrewConfig

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
        doc = _plans.create_plan(store, catalogue, settings, body, crews=crews).to_dict()
        audit.record(store, user, "plan.create", f"plan:{doc['plan_id']}", after=_plan_summary(doc))
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
) -> Response:
    """Start the solver in a worker thread for the crews on duty; go to its progress page."""
    when = moment(at, settings)
    day = when.astimezone(ZoneInfo(settings.timezone)).date().isoformat()
    crews = day_crews(store, settings, day)
    # The day's crews (some off, shifts changed) go to the existing code path as a CrewConfig.
    body = PlanRequest(at=when.isoformat(), time_limit_s=time_limit_s)
    job = plan_jobs(request.app.state).submit(
        _runner(store, catalogue, settings, body, session.user.username, crews),
        user=session.user.username,
        time_limit_s=time_limit_s,
    )
    return RedirectResponse(f"/dispatch/plan-jobs/{job.job_id}", status_code=303)


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
    request: Request, _s: DispatcherPage, store: StoreDep, settings: SettingsDep, plan_id: PlanId
) -> Response:
    """Show a plan: one column per crew with ordered stops and ETAs, unassigned work, breaches."""
    doc = store.get_plan(plan_id)
    tz = ZoneInfo(str(doc.get("timezone") or settings.timezone))
    context = {
        "plan": doc,
        "columns": plan_view.crew_columns(doc, tz),
        "unassigned": plan_view.unassigned(doc),
        "breaches": len(doc.get("sla_breaches") or []),
        "map_data": plan_view.map_data(doc),
        "publication": auth_store.publication(store, plan_id),
        "summary": _plan_summary(doc),
    }
    return render(request, "plan.html", context)


@router.post("/plans/{plan_id}/publish", summary="Publish a plan")
def publish_plan(
    session: DispatcherAction, store: StoreDep, settings: SettingsDep, plan_id: PlanId
) -> Response:
    """Publish a plan: its routes become the crews' itineraries of that day."""
    doc = store.get_plan(plan_id)
    plan_date = str(doc.get("plan_date") or "")
    if not plan_date:
        raise InputError(f"plan {plan_id} has no plan_date; plan the day again", field="plan_id")
    publish_for_crews(
        store, plan_id, by=session.user.username, tz=ZoneInfo(settings.timezone)
    )  # the crews' itineraries, the reports' ETAs and the reporters' "scheduled" e-mails
    audit.record(
        store,
        session.user.username,
        "plan.publish",
        f"plan:{plan_id}",
        before={"published": False},
        after={"published": True, "plan_date": plan_date, **_plan_summary(doc)},
    )
    return RedirectResponse(f"/dispatch/plans/{plan_id}", status_code=303)
