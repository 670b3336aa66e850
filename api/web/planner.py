"""The planner's dashboard: ``/planner`` (filters, tables, charts, CSV, maps, the what-if)."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, ValidationError

from api.deps import CatalogueDep, CityDep, SettingsDep, SimulationsDep, StoreDep
from api.planner import staff as _staff
from api.planner.schemas import SimulationRequest
from api.web import audit, planner_charts
from api.web.deps import PageRoute, action_user, page_user
from api.web.planner_calibrated import calibrated_view
from api.web.planner_filters import (
    OUTSIDE,
    PlannerFilters,
    chosen_period,
    parse_filters,
    requests_with_points,
)
from api.web.planner_view import COLUMNS, dashboard, filtered_metrics, metrics_table, weekly_table
from api.web.planner_whatif import result_view
from api.web.sessions import WebSession
from api.web.templating import render, staff_i18n, templates
from geo311.city.catalogue import Catalogue
from geo311.errors import NotFoundError

__all__ = ["COLUMNS", "OUTSIDE", "chosen_period", "metrics_table", "router"]

router = APIRouter(prefix="/planner", route_class=PageRoute, include_in_schema=False)
PlannerPage = Annotated[WebSession, Depends(page_user("planner", "dispatcher"))]
PlannerAction = Annotated[WebSession, Depends(action_user("planner", "dispatcher"))]
Grouping = Literal["service", "neighborhood"]
SimulationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class DashboardQuery(BaseModel):
    """The dashboard's filters: the period (``from``, ``to``), a service, an area, a moment."""

    at: str | None = Field(
        None, max_length=40, description="backlog moment, ISO 8601 (default: the latest request)"
    )
    start: str | None = Field(None, alias="from", max_length=10, description="a date, YYYY-MM-DD")
    end: str | None = Field(None, alias="to", max_length=10, description="a date, YYYY-MM-DD")
    service: str | None = Field(None, max_length=40, description="a service code")
    neighbourhood: str | None = Field(None, max_length=100, description="a neighbourhood's name")


class MetricsQuery(DashboardQuery):
    """The dashboard's filters and what the metrics table is grouped by."""

    by: Grouping = "service"


class WhatifForm(BaseModel):
    """The what-if form: the season and the crew counts to replay."""

    start: str = Field("2015-09-01", max_length=10)
    end: str = Field("2015-11-30", max_length=10)
    service: str = Field("", max_length=20)
    crews_sweep: str = Field("1..6", max_length=40)


STALE = timedelta(days=2)
"""Data whose latest request is older than this shows its backlog as of that request."""
WHATIF_GROUPS = ("potholes", "streetlights")
"""The service groups a what-if can replay (besides both)."""
CALIBRATED_SERVICES = Literal["streetlight_outage"]
"""Services whose records carry waiting time (Pothole Repair (Internal) cases are opened and
closed at the same moment by the crews themselves, so they carry none)."""


def _backlog_at(at: str | None, settings: Any, frame: pd.DataFrame) -> datetime:
    """Return the backlog's moment: ``at`` (local), else now, or the data's latest request.

    Data whose latest request is older than :data:`STALE` (a demo, an old extract) is read
    as of that request, not of today (when everything would be years old).
    """
    tz = ZoneInfo(settings.timezone)
    if at:
        return _staff.parse_at(at, tz)
    latest = frame["requested_datetime"].max() if len(frame) else None
    now = datetime.now(tz)
    if latest is None or pd.isna(latest) or now - latest.to_pydatetime() <= STALE:
        return now
    return latest.to_pydatetime().astimezone(tz)


def _filters(
    catalogue: Catalogue,
    start: str | None,
    end: str | None,
    service: str | None,
    area: str | None,
) -> PlannerFilters:
    return parse_filters(
        start=start, end=end, service=service, neighbourhood=area, catalogue=catalogue
    )


def _whatif_groups(catalogue: Catalogue) -> list[tuple[str, str]]:
    return [(key, catalogue.groups.get(key, key)) for key in WHATIF_GROUPS]


def _calibrated_services(catalogue: Catalogue) -> list[tuple[str, str]]:
    codes = get_args(CALIBRATED_SERVICES)
    return [(c, catalogue.services[c].name) for c in codes if c in catalogue.services]


@router.get("", summary="Planner dashboard")
def planner_page(
    request: Request,
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    city: CityDep,
    query: Annotated[DashboardQuery, Query()],
) -> Response:
    """Show the dashboard for the requests that pass the filters (period, service, area).

    The metrics, the trend by week and the backlog by age (tables, charts, CSV), the maps and
    the what-if form.
    """
    start, end = query.start, query.end
    filters = _filters(catalogue, start, end, query.service, query.neighbourhood)
    tz = ZoneInfo(settings.timezone)
    frame = requests_with_points(store)
    moment = _backlog_at(query.at, settings, frame)
    context = {
        **dashboard(store, catalogue, city, frame, filters, moment, tz),
        "form": {},
        "error": "",
        "at": moment.strftime("%Y-%m-%dT%H:%M"),
        "period": {"from": start or "", "to": end or ""},
        "whatif_groups": _whatif_groups(catalogue),
        "calibrated_services": _calibrated_services(catalogue),
    }
    return render(request, "planner.html", context)


def _csv(frame: pd.DataFrame, filename: str) -> Response:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/metrics.csv", summary="Metrics as CSV")
def metrics_csv(
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    query: Annotated[MetricsQuery, Query()],
) -> Response:
    """Download the metrics table as CSV (the requests that pass the dashboard's filters)."""
    by = query.by
    filters = _filters(catalogue, query.start, query.end, query.service, query.neighbourhood)
    tz = ZoneInfo(settings.timezone)
    frame = filtered_metrics(requests_with_points(store), by, filters=filters, tz=tz)
    if by == "service" and not frame.empty:
        names = {code: s.name for code, s in catalogue.services.items()}
        frame.insert(1, "service_name", [names.get(str(c), str(c)) for c in frame["service"]])
    return _csv(frame, f"metrics_by_{by}.csv")


@router.get("/weekly.csv", summary="Trend by week as CSV")
def weekly_csv(
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    query: Annotated[DashboardQuery, Query()],
) -> Response:
    """Download the trend by week (received, closed, median days to close) as CSV."""
    filters = _filters(catalogue, query.start, query.end, query.service, query.neighbourhood)
    frame = weekly_table(requests_with_points(store), filters, ZoneInfo(settings.timezone))
    return _csv(frame, "weekly_trend.csv")


@router.get("/backlog.csv", summary="Backlog by age as CSV")
def backlog_csv(
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    query: Annotated[DashboardQuery, Query()],
) -> Response:
    """Download the backlog by age (open work orders per service group and age) as CSV."""
    filters = _filters(catalogue, None, None, query.service, query.neighbourhood)
    frame = requests_with_points(store)
    moment = _backlog_at(query.at, settings, frame)
    ids = None
    if filters.service or filters.neighbourhood:
        ids = set(filters.select(frame)["service_request_id"].astype(str))
    table = planner_charts.backlog_table(store, catalogue, at=moment, requests=ids)
    return _csv(table, f"backlog_{moment.strftime('%Y-%m-%dT%H%M')}.csv")


@router.get("/maps/{name}", summary="A planner's map")
def planner_map(
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    name: Literal["hotspots", "open-work"],
) -> Response:
    """Return the hotspot map or the open-work map (a full HTML page).

    The dashboard draws its own maps inside the page; this stays for links made before.
    """
    from api.planner.maps import render_map

    return HTMLResponse(render_map(name, store, catalogue, settings, plan_id=None))


@router.post("/whatif", summary="Start a what-if")
def start_whatif(
    request: Request,
    session: PlannerAction,
    runner: SimulationsDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    form: Annotated[WhatifForm, Form()],
) -> Response:
    """Replay a season with K crews (a sweep) in the simulation worker; go to its page."""
    start, end, service, crews_sweep = form.start, form.end, form.service, form.crews_sweep
    values = {"from": start, "to": end, "service": service or None, "crews_sweep": crews_sweep}
    try:
        body = SimulationRequest.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        context = {
            "tables": [],
            "form": form.model_dump(),
            "error": problems,
            "at": "",
            "whatif_groups": _whatif_groups(catalogue),
            "calibrated_services": _calibrated_services(catalogue),
        }
        return render(request, "planner.html", context, status_code=400)
    doc = runner.submit(body, store=store, created_by=session.user.username)
    sim_id = int(doc["simulation_id"])
    audit.record(
        store, session.user.username, "simulation.start", f"simulation:{sim_id}", after=values
    )
    return RedirectResponse(f"/planner/whatif/{sim_id}", status_code=303)


def _result_html(doc: dict[str, Any], catalogue: Catalogue, simulation_id: int, i18n: Any) -> str:
    """Return a done what-if's result (a chart and a table per service group) as HTML.

    ``i18n`` is the staff pages' :class:`~geo311.i18n.Localizer` (the city's language).
    """
    template = templates.env.get_template("_whatif_result.html")
    if (doc.get("request") or {}).get("calibrated"):
        result = doc["result"]
        name = catalogue.service(result["service"]).name
        view = calibrated_view(result, service_name=name)
        return template.render(calibrated=view, simulation_id=simulation_id, sim=doc, i18n=i18n)
    result = doc.get("result") or {"groups": {}}
    blocks = result_view(result, group_names=catalogue.groups)
    return template.render(blocks=blocks, simulation_id=simulation_id, sim=doc, i18n=i18n)


@router.post("/whatif/calibrated", summary="Start the calibrated what-if")
def start_calibrated(
    session: PlannerAction,
    runner: SimulationsDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    service: Annotated[CALIBRATED_SERVICES, Form()] = "streetlight_outage",
    target_p90_days: Annotated[float, Form(gt=0, le=365)] = 7.0,
) -> Response:
    """Replay the City's year as it did it and with geo311 (a job); go to its page."""
    catalogue.service(service)  # the city's catalogue must know it
    doc = runner.submit_calibrated(
        service=service,
        target_p90_days=target_p90_days,
        store=store,
        created_by=session.user.username,
    )
    sim_id = int(doc["simulation_id"])
    after = {"calibrated": True, "service": service, "target_p90_days": target_p90_days}
    audit.record(
        store, session.user.username, "simulation.start", f"simulation:{sim_id}", after=after
    )
    return RedirectResponse(f"/planner/whatif/{sim_id}", status_code=303)


@router.get("/whatif/{simulation_id}/calibrated.csv", summary="A calibrated what-if as CSV")
def calibrated_csv(
    _s: PlannerPage, runner: SimulationsDep, store: StoreDep, simulation_id: SimulationId
) -> Response:
    """Return a finished calibrated what-if's numbers (every figure with its interval) as CSV."""
    from routing.simulate.calibrated import whatif_rows

    doc = runner.get(store, simulation_id)
    if not (doc.get("request") or {}).get("calibrated") or doc["status"] != "done":
        raise NotFoundError(
            f"simulation {simulation_id} is not a finished calibrated what-if; start one from "
            "the dashboard's what-if section and wait until it is done"
        )
    frame = pd.DataFrame(whatif_rows(doc["result"]))
    return _csv(frame, f"calibrated_whatif_{simulation_id}.csv")


@router.get("/whatif/{simulation_id}", summary="A what-if")
def whatif_page(
    request: Request,
    _s: PlannerPage,
    runner: SimulationsDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    simulation_id: SimulationId,
) -> Response:
    """Show a what-if's state, updated in place while it runs; when done, its chart and table."""
    doc = runner.get(store, simulation_id)
    context = {
        "sim": doc,
        "simulation_id": simulation_id,
        "progress": runner.progress(store, simulation_id),
        "result_html": _result_html(doc, catalogue, simulation_id, staff_i18n(request))
        if doc["status"] == "done"
        else "",
    }
    return render(request, "whatif.html", context)


@router.get("/whatif/{simulation_id}/progress.json", summary="A what-if's progress")
def whatif_progress(
    request: Request,
    _s: PlannerPage,
    runner: SimulationsDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    simulation_id: SimulationId,
) -> Response:
    """Return how far the what-if is (polled by its page); when done, its result as HTML."""
    progress = runner.progress(store, simulation_id)
    if progress["status"] == "done":
        doc = runner.get(store, simulation_id)
        progress["result_html"] = _result_html(doc, catalogue, simulation_id, staff_i18n(request))
    return JSONResponse(progress, headers={"Cache-Control": "no-store"})


@router.get("/whatif/{simulation_id}/plot.png", summary="A what-if's plot")
def whatif_plot(
    _s: PlannerPage, runner: SimulationsDep, store: StoreDep, simulation_id: SimulationId
) -> Response:
    """Return the what-if's plot (PNG)."""
    return Response(runner.plot(store, simulation_id), media_type="image/png")
