"""The dispatcher's week: today planned against a horizon of working days, and which work goes when.

"Plan today with the week's horizon" queues a planning run of kind ``horizon`` (a job worker
runs :func:`run_horizon`): the open work goes into per-crew capacity buckets of the next
working days, today is routed with the priorities of that forecast and stored as a plan of
kind ``horizon`` (published like any plan: only today's routes). The page shows, for such a
plan, each day of the horizon with its crews' estimated load and the work orders it puts
there, and the work beyond the horizon.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SettingsDep, StoreDep
from api.principal import Principal
from api.scope import check_planning
from api.web import audit
from api.web.deps import PageRoute, action_user, page_user
from api.web.dispatch import day_crews, moment
from api.web.plan_jobs import local_day, plan_summary
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.i18n import N_
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.plans.jobs import Job
from geo311.settings import Settings

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherPage = Annotated[WebSession, Depends(page_user("dispatcher"))]
DispatcherAction = Annotated[WebSession, Depends(action_user("dispatcher"))]
PlanId = Annotated[int, Path(ge=1, le=2**31 - 1)]
# The day names, translated on the page (`date.weekday()` order; English = `strftime("%A")`).
WEEKDAYS = (
    N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
    N_("Saturday"), N_("Sunday"),
)  # fmt: skip

HORIZON_KIND = "horizon"
"""Kind of a planning run and of the plan it stores."""


@router.post("/horizon", summary="Plan today with the week's horizon")
def start_horizon(
    request: Request,
    session: DispatcherAction,
    store: StoreDep,
    settings: SettingsDep,
    at: Annotated[str, Form(max_length=40)] = "",
    days: Annotated[int, Form(ge=1, le=10)] = 5,
    time_limit_s: Annotated[float, Form(gt=0, le=300)] = 10.0,
) -> Response:
    """Queue today's plan against a ``days``-day horizon for the city's crews on duty.

    The horizon spans the whole city: a dispatcher with a district is refused (403).
    """
    check_planning(Principal.of_user(session.user), None)
    when = moment(at, settings)
    params = {
        "at": when.isoformat(),
        "day": local_day(when, settings),
        "days": days,
        "time_limit_s": time_limit_s,
    }
    job_id = jobs_store.submit(store, HORIZON_KIND, params, created_by=session.user.username)
    wake = getattr(request.app.state, "wake_job_workers", None)
    if wake is not None:
        wake()
    return RedirectResponse(f"/dispatch/plan-jobs/{job_id}", status_code=303)


def run_horizon(
    store: Store, catalogue: Catalogue, settings: Settings, job: Job
) -> Callable[[], int]:
    """Solve today against the horizon (the crews on duty as the dispatcher set them)."""
    from routing.dispatch import DayOptions, plan_day_with_horizon, save_day_plan

    params = job["params"]
    week = plan_day_with_horizon(
        store,
        catalogue,
        at=datetime.fromisoformat(params["at"]),
        days=int(params["days"]),
        options=DayOptions(
            settings=settings,
            crews=day_crews(store, settings, params["day"]),
            time_limit_s=float(params["time_limit_s"]),
            seed=settings.solver_seed,
        ),
    )

    def save() -> int:
        doc = save_day_plan(store, week.day, kind=HORIZON_KIND).to_dict()
        audit.record(
            store, job["created_by"], "plan.create", f"plan:{doc['plan_id']}",
            after={**plan_summary(doc), "horizon_days": int(params["days"])},
        )  # fmt: skip
        return int(doc["plan_id"])

    return save


def horizon_days_view(doc: dict[str, Any], tz: ZoneInfo) -> list[dict[str, Any]]:
    """Return the horizon of a stored plan, one entry per day, for the page.

    Each day: ``date``, ``weekday``, ``today``, ``crews`` (``label``, ``load_min``,
    ``capacity_min``, ``percent``) and ``work`` (``work_order_id``, ``label``, ``due``,
    ``late``: due before that day), earliest due first.
    """
    forecast = (doc.get("meta") or {}).get(HORIZON_KIND) or {}
    labels = doc.get("labels") or {}
    jobs = doc.get("jobs") or {}
    crew_labels = {c.get("id"): c.get("label") for c in doc.get("crews") or []}
    out = []
    for k, day in enumerate(forecast.get("days") or []):
        when = date.fromisoformat(day["date"])
        crews = [
            {
                "label": crew_labels.get(c["crew_id"]) or c["crew_id"],
                "load_min": round(c["load_min"]),
                "capacity_min": round(c["capacity_min"]),
                "percent": round(100 * c["load_min"] / c["capacity_min"])
                if c["capacity_min"]
                else 0,
            }
            for c in day.get("crews") or []
        ]
        work = [_work_row(j, labels, jobs, tz, when) for j in day.get("jobs") or []]
        out.append(
            {
                "date": day["date"],
                "weekday": WEEKDAYS[when.weekday()],
                "today": k == 0,
                "crews": crews,
                "work": work,
            }
        )
    return out


def _work_row(
    job_id: str, labels: dict[str, Any], jobs: dict[str, Any], tz: ZoneInfo, day: date | None
) -> dict[str, Any]:
    job = jobs.get(job_id) or {}
    due_text = job.get("sla_due")
    due = datetime.fromisoformat(str(due_text)).astimezone(tz) if due_text else None
    return {
        "work_order_id": job.get("work_order_id") or job_id,
        "label": labels.get(job_id) or job_id,
        "due": due.strftime("%a %b %d %Y, %H:%M") if due else "",
        "late": bool(due and (day is None or due.date() < day)),
    }


def _page(
    request: Request, settings: Settings, doc: dict[str, Any] | None, at_value: str
) -> Response:
    tz = ZoneInfo(str((doc or {}).get("timezone") or settings.timezone))
    forecast = ((doc or {}).get("meta") or {}).get(HORIZON_KIND) or {}
    jobs = (doc or {}).get("jobs") or {}
    labels = (doc or {}).get("labels") or {}
    context = {
        "plan": doc,
        "days": horizon_days_view(doc, tz) if doc else [],
        "beyond": [_work_row(j, labels, jobs, tz, None) for j in forecast.get("beyond") or []],
        "has_horizon": bool(forecast),
        "at_value": at_value,
        "time_limit_s": settings.solver_time_limit_s,
    }
    return render(request, "horizon.html", context)


@router.get("/horizon", summary="The week's horizon")
def horizon_page(
    request: Request, _s: DispatcherPage, store: StoreDep, settings: SettingsDep, at: str = ""
) -> Response:
    """Show the newest plan made with the horizon (or none yet) and the form to make one."""
    plan_id = plan_repo.latest_plan_id(store, kind=HORIZON_KIND)
    doc = plan_repo.get_plan(store, plan_id) if plan_id is not None else None
    at_value = moment(at or None, settings).strftime("%Y-%m-%dT%H:%M")
    return _page(request, settings, doc, at_value)


@router.get("/plans/{plan_id}/horizon", summary="A plan's horizon")
def plan_horizon_page(
    request: Request,
    _s: DispatcherPage,
    store: StoreDep,
    settings: SettingsDep,
    plan_id: PlanId,
) -> Response:
    """Show which work the horizon of a stored plan puts on which day."""
    doc = plan_repo.get_plan(store, plan_id)
    if not (doc.get("meta") or {}).get(HORIZON_KIND):
        raise InputError(
            f"plan {plan_id} was made without a horizon; plan today with the week's horizon "
            "at /dispatch/horizon",
            field="plan_id",
        )
    at_value = moment(str(doc.get("at") or "") or None, settings).strftime("%Y-%m-%dT%H:%M")
    return _page(request, settings, doc, at_value)
