"""The dispatcher's work-order page: ``/dispatch/workorders/{id}`` (reports, timeline, audit).

It shows the work order's reports with the citizens' text and photos, the timeline of their
updates, the audit rows about it and the plans it is in; the dispatcher closes it there with a
note (role and CSRF checked, audited in the same transaction as the change).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from api.deps import CatalogueDep, SettingsDep, StoreDep
from api.principal import Principal
from api.scope import check_work_order
from api.web import audit
from api.web.deps import PageRoute, action_user, page_user
from api.web.dispatch import sla_state
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError, NotFoundError
from geo311.i18n import N_
from geo311.model import WorkOrder
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo

router = APIRouter(prefix="/dispatch", route_class=PageRoute, include_in_schema=False)
DispatcherPage = Annotated[WebSession, Depends(page_user("dispatcher"))]
DispatcherAction = Annotated[WebSession, Depends(action_user("dispatcher"))]
WorkOrderId = Annotated[int, Path(ge=1, le=2**31 - 1)]
AUDIT_ROWS_READ = 2000  # the newest audit rows searched for the work order's own
PLANS_READ = 20  # the newest plans searched for the work order's stops


def _when(value: datetime | None, tz: ZoneInfo) -> str:
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""


def _reports(store: Store, wo: WorkOrder, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Return the work order's reports with their text, photo and updates (oldest first)."""
    out = []
    for req in request_repo.query_requests(
        store, request_repo.RequestFilters(ids=list(wo.member_ids))
    ):
        updates = update_log.request_updates_of(store, req.service_request_id)
        photo = str(req.media_url or "")
        out.append(
            {
                "id": req.service_request_id,
                "requested": _when(req.requested_datetime, tz),
                "description": req.description or "",
                "address": req.address or "",
                "status": req.status,
                "notes": req.status_notes or "",
                # a photo served by geo311 is shown; another site's is only linked (no network)
                "photo": photo if photo.startswith("/") else "",
                "photo_link": photo if photo and not photo.startswith("/") else "",
                "updates": [
                    {
                        "at": _when(u.get("updated_datetime"), tz),
                        "status": u.get("status") or "",
                        "note": u.get("description") or "",
                        "photo": str(u.get("media_url") or "")
                        if str(u.get("media_url") or "").startswith("/")
                        else "",
                    }
                    for u in updates
                ],
            }
        )
    return out


def _timeline(reports: list[dict[str, Any]], wo: WorkOrder, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Return the work order's events in time order: reports made, their updates, closure.

    ``what`` is an English message translated on the page with its ``args``.
    """
    events: list[dict[str, Any]] = [
        {"at": _when(wo.opened, tz), "what": N_("Work order opened"), "args": {}}
    ]
    for r in reports:
        made = {"at": r["requested"], "what": N_("Report %(id)s made"), "args": {"id": r["id"]}}
        events.append(made)
        for u in r["updates"]:
            args = {"id": r["id"], "status": u["status"], "note": u["note"]}
            events.append(
                {"at": u["at"], "what": N_("Report %(id)s: %(status)s %(note)s"), "args": args}
            )
    if wo.closed_datetime is not None:
        closed = {"note": wo.status_notes}
        events.append(
            {"at": _when(wo.closed_datetime, tz), "what": N_("Closed: %(note)s"), "args": closed}
        )
    return sorted(events, key=lambda e: str(e["at"]))


def _plans_with(
    store: Store, work_order_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the newest plans holding the work order: as a stop, and left unassigned.

    A stop: plan id, date, crew, stop number and job id. Unassigned (an unpublished plan
    whose job is on the street graph): plan id, date, job id and the plan's crews, so the
    dispatcher can give it to a crew there (the plan page's checked hand edit).
    """
    stops: list[dict[str, Any]] = []
    unassigned: list[dict[str, Any]] = []
    newest = plan_repo.latest_plan_id(store) or 0
    for plan_id in range(newest, max(0, newest - PLANS_READ), -1):
        try:
            doc = plan_repo.get_plan(store, plan_id)
        except NotFoundError:  # a gap in the ids (a plan deleted)
            continue
        stops += _stops_of(doc, plan_id, work_order_id)
        jobs = doc.get("jobs") or {}
        for u in doc.get("unassigned") or []:
            job = jobs.get(str(u.get("job_id"))) or {}
            if str(job.get("work_order_id")) != str(work_order_id):
                continue
            if job.get("location_index") is None or auth_store.publication(store, plan_id):
                continue
            crews = [
                (str(c.get("id")), str(c.get("label") or c.get("id")))
                for c in doc.get("crews") or []
            ]
            unassigned.append(
                {"plan_id": plan_id, "date": doc.get("plan_date"), "job_id": str(u.get("job_id")),
                 "crews": crews}
            )  # fmt: skip
    return stops, unassigned


def _stops_of(doc: dict[str, Any], plan_id: int, work_order_id: int) -> list[dict[str, Any]]:
    found = []
    for route in doc.get("routes") or []:
        jobs = [s for s in route.get("steps") or [] if s.get("type") == "job"]
        for n, step in enumerate(jobs, start=1):
            if str(step.get("work_order_id") or step.get("ref")) == str(work_order_id):
                found.append(
                    {"plan_id": plan_id, "date": doc.get("plan_date"),
                     "crew_id": route.get("crew_id"), "order": n,
                     "job_id": str(step.get("job_id"))}
                )  # fmt: skip
    return found


def _audit_of(store: Store, work_order_id: int) -> list[dict[str, Any]]:
    obj = f"workorder:{work_order_id}"
    return [r for r in auth_store.audit_rows(store, limit=AUDIT_ROWS_READ) if r["object"] == obj]


def closing_states(catalogue: Catalogue) -> list[tuple[str, str]]:
    """Return the states a dispatcher may close a work order with (code, label)."""
    return [(s.code, s.label) for s in catalogue.states.values() if not s.is_open]


@router.get("/workorders/{work_order_id}", summary="A work order")
def work_order_page(
    request: Request,
    session: DispatcherPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    work_order_id: WorkOrderId,
) -> Response:
    """Show one work order: its reports (text, photos), timeline, audit, plans and actions."""
    wo = work_order_repo.get_work_order(store, work_order_id)
    check_work_order(Principal.of_user(session.user), wo, settings)
    tz = ZoneInfo(settings.timezone)
    now = datetime.now(tz)
    reports = _reports(store, wo, tz)
    plans, assignable = _plans_with(store, work_order_id)
    service = catalogue.services.get(wo.service_code)
    state = catalogue.states.get(wo.status)
    context = {
        "wo": wo,
        "service": service.name if service else wo.service_code,
        "status": state.label if state else wo.status,
        "is_open": wo.closed_datetime is None and (state is None or state.is_open),
        "opened": _when(wo.opened, tz),
        "sla_due": _when(wo.sla_due, tz),
        "reports": reports,
        "timeline": _timeline(reports, wo, tz),
        "audit": _audit_of(store, work_order_id),
        "plans": plans,
        "assignable": assignable,
        "closing": closing_states(catalogue),
        # a dispatcher splits an open report out of a work order of two or more reports
        "splittable": [
            r["id"]
            for r in reports
            if len(reports) > 1 and (st := catalogue.states.get(r["status"])) and st.is_open
        ],
        "map_data": [
            [round(wo.lat, 5), round(wo.lon, 5), wo.work_order_id, wo.address, sla_state(wo, now)]
        ],
    }
    return render(request, "workorder.html", context)


class CloseForm(BaseModel):
    """The close form of a work order: the closing state, the citizens' note, the category."""

    status: str = Field(max_length=64)
    note: str = Field(max_length=2000)
    closure_category: str = Field("", max_length=120)


@router.post("/workorders/{work_order_id}/close", summary="Close a work order")
def close_work_order(
    session: DispatcherAction,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    work_order_id: WorkOrderId,
    form: Annotated[CloseForm, Form()],
) -> Response:
    """Close a work order and its open reports with a note the citizens read (audited)."""
    from geo311.workorders.workflow import StatusChange, apply_status

    status, note, closure_category = form.status, form.note, form.closure_category
    if status not in dict(closing_states(catalogue)):
        raise InputError(f"status: {status!r} does not close a work order; pick one of the list")
    if not note.strip():
        raise InputError("note: write what was done; the citizens read it", field="note")
    check_work_order(
        Principal.of_user(session.user),
        work_order_repo.get_work_order(store, work_order_id),
        settings,
    )
    with store.begin():  # the change and its audit row commit together
        before = work_order_repo.get_work_order(store, work_order_id)
        wo = apply_status(
            store,
            catalogue,
            work_order_id,
            StatusChange(
                status=status, note=note.strip(), closure_category=closure_category.strip()
            ),
            timezone=settings.timezone,
        )
        audit.record(
            store, session.user.username, "workorder.status", f"workorder:{work_order_id}",
            before={"status": before.status},
            after={"status": wo.status, "note": note.strip(), "closure_category": closure_category},
        )  # fmt: skip
    return RedirectResponse(f"/dispatch/workorders/{work_order_id}", status_code=303)


@router.post("/workorders/{work_order_id}/merge", summary="Merge another work order into this one")
def merge_work_order(
    session: DispatcherAction,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    work_order_id: WorkOrderId,
    other: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> Response:
    """Move every report of work order ``other`` into this one (audited on both)."""
    from geo311.workorders.merging import merge_work_orders

    principal = Principal.of_user(session.user)
    for wid in (work_order_id, other):
        check_work_order(principal, work_order_repo.get_work_order(store, wid), settings)
    with store.begin():  # the merge and its audit rows commit together
        before = work_order_repo.get_work_order(store, other)
        wo = merge_work_orders(store, catalogue, into=work_order_id, other=other)
        for obj, role in ((work_order_id, "into"), (other, "other")):
            audit.record(
                store, session.user.username, "workorder.merge", f"workorder:{obj}",
                before={"other": other, "reports": list(before.member_ids), "role": role},
                after={"into": work_order_id, "reports": list(wo.member_ids)},
            )  # fmt: skip
    return RedirectResponse(f"/dispatch/workorders/{work_order_id}", status_code=303)


@router.post("/workorders/{work_order_id}/split", summary="Split a report into a new work order")
def split_work_order(
    session: DispatcherAction,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    work_order_id: WorkOrderId,
    request_id: Annotated[str, Form(min_length=1, max_length=64)],
) -> Response:
    """Move one report out into a new work order (audited on both) and show the new one."""
    from geo311.workorders.merging import split_report

    check_work_order(
        Principal.of_user(session.user),
        work_order_repo.get_work_order(store, work_order_id),
        settings,
    )
    with store.begin():  # the split and its audit rows commit together
        new = split_report(store, catalogue, work_order_id, request_id=request_id)
        for obj in (work_order_id, new.work_order_id):
            audit.record(
                store, session.user.username, "workorder.split", f"workorder:{obj}",
                before={"work_order_id": work_order_id, "report": request_id},
                after={"work_order_id": new.work_order_id, "report": request_id},
            )  # fmt: skip
    return RedirectResponse(f"/dispatch/workorders/{new.work_order_id}", status_code=303)
