"""The planner's dashboard: ``/planner`` (metrics tables, CSV, maps, the what-if)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import CatalogueDep, SettingsDep, SimulationsDep, StoreDep
from api.planner import staff as _staff
from api.schemas import SimulationRequest
from api.web import audit, planner_charts
from api.web.deps import PageRoute, action_user, page_user
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.requests.performance import Period, parse_period, period_metrics

router = APIRouter(prefix="/planner", route_class=PageRoute, include_in_schema=False)
PlannerPage = Annotated[WebSession, Depends(page_user("planner", "dispatcher"))]
PlannerAction = Annotated[WebSession, Depends(action_user("planner", "dispatcher"))]
Grouping = Literal["service", "neighborhood"]
SimulationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DateQuery = Annotated[str | None, Query(max_length=10, description="a date, YYYY-MM-DD")]
AtQuery = Annotated[
    str | None, Query(max_length=40, description="backlog moment, ISO 8601 (default: now)")
]
COLUMNS = {
    "requests": "requests",
    "open": "open",
    "closed": "closed",
    "median_days_to_close": "median days to close",
    "p90_days_to_close": "p90 days to close",
    "share_within_sla": "share within SLA",
}


def metrics_table(
    store: Store, by: str, *, period: Period | None = None, tz: ZoneInfo | None = None
) -> pd.DataFrame:
    """Return the metrics grouped by ``service`` or ``neighborhood`` (empty without data).

    With a ``period``, only the requests received in it count (the public ``/performance``
    figures come from the same function, :func:`geo311.requests.performance.period_metrics`).
    """
    from geo311.requests.metrics import requests_frame

    if request_repo.count_requests(store) == 0:
        return pd.DataFrame(columns=[by, *COLUMNS])
    frame = period_metrics(requests_frame(store), period, by=[by], tz=tz or ZoneInfo("UTC"))
    return frame if frame.index.names == [None] else frame.reset_index()


def chosen_period(start: str | None, end: str | None) -> Period | None:
    """Return the period the planner chose (both dates, ISO), or None for every request.

    Raises
    ------
    InputError
        Naming ``from`` or ``to`` (see :func:`geo311.requests.performance.parse_period`).
    """
    if not start and not end:
        return None
    return parse_period(start, end, latest=None)


def _rows(frame: pd.DataFrame, by: str) -> list[list[str]]:
    def cell(name: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        if name == "share_within_sla":
            return f"{100 * float(value):.1f} %"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    names = [by, *(c for c in COLUMNS if c in frame.columns)]
    return [[cell(n, row[n]) for n in names] for _, row in frame.iterrows()]


def _backlog_at(at: str | None, settings: Any) -> datetime:
    """Return the moment of the backlog: ``at`` (ISO 8601, local time) or now."""
    tz = ZoneInfo(settings.timezone)
    return _staff.parse_at(at, tz) if at else datetime.now(tz)


def _period_query(period: Period | None) -> str:
    return "" if period is None else f"&from={period.start}&to={period.end}"


def _tables(
    store: Store, catalogue: Any, moment: datetime, period: Period | None, tz: ZoneInfo
) -> list[dict[str, Any]]:
    """Return the dashboard's tables, each with its CSV link and its charts."""
    tables = []
    received = "" if period is None else f", received {period.start} to {period.end}"
    for by in ("service", "neighborhood"):
        frame = metrics_table(store, by, period=period, tz=tz)
        tables.append(
            {
                "id": f"by-{by}",
                "title": f"Metrics by {by}{received}",
                "csv": f"/planner/metrics.csv?by={by}{_period_query(period)}",
                "heads": [by, *(COLUMNS[c] for c in COLUMNS if c in frame.columns)],
                "rows": _rows(frame, by),
                "charts": planner_charts.service_charts(frame) if by == "service" else [],
                "empty": "No requests imported yet.",
            }
        )
    at_text = moment.strftime("%Y-%m-%d %H:%M")
    backlog = planner_charts.backlog_table(store, catalogue, at=moment)
    chart = planner_charts.backlog_chart(backlog, at_text=at_text)
    stamp = moment.strftime("%Y-%m-%dT%H:%M")
    tables.append(
        {
            "id": "backlog",
            "title": f"Backlog by age at {at_text}",
            "csv": f"/planner/backlog.csv?at={stamp}",
            "heads": [str(c).replace("_", " ") for c in backlog.columns],
            "rows": [[str(v) for v in row] for row in backlog.itertuples(index=False)],
            "charts": [chart] if chart is not None else [],
            "empty": "No open work orders at this time.",
        }
    )
    return tables


@router.get("", summary="Planner dashboard")
def planner_page(
    request: Request,
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    at: AtQuery = None,
    start: Annotated[DateQuery, Query(alias="from")] = None,
    end: Annotated[DateQuery, Query(alias="to")] = None,
) -> Response:
    """Show the metrics and the backlog by age (tables, charts, CSV), the maps, the what-if.

    ``from`` / ``to`` (dates) limit the metrics to the requests received in that period.
    """
    moment = _backlog_at(at, settings)
    period = chosen_period(start, end)
    tables = _tables(store, catalogue, moment, period, ZoneInfo(settings.timezone))
    context = {
        "tables": tables,
        "form": {},
        "error": "",
        "at": moment.strftime("%Y-%m-%dT%H:%M"),
        "period": {"from": start or "", "to": end or ""},
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
    settings: SettingsDep,
    by: Grouping = "service",
    start: Annotated[DateQuery, Query(alias="from")] = None,
    end: Annotated[DateQuery, Query(alias="to")] = None,
) -> Response:
    """Download the metrics table as CSV (requests received ``from`` / ``to``, if given)."""
    period = chosen_period(start, end)
    frame = metrics_table(store, by, period=period, tz=ZoneInfo(settings.timezone))
    return _csv(frame, f"metrics_by_{by}.csv")


@router.get("/backlog.csv", summary="Backlog by age as CSV")
def backlog_csv(
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    at: AtQuery = None,
) -> Response:
    """Download the backlog by age (open work orders per service group and age) as CSV."""
    moment = _backlog_at(at, settings)
    frame = planner_charts.backlog_table(store, catalogue, at=moment)
    return _csv(frame, f"backlog_{moment.strftime('%Y-%m-%dT%H%M')}.csv")


@router.get("/maps/{name}", summary="A planner's map")
def planner_map(
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    name: Literal["hotspots", "open-work"],
) -> Response:
    """Return the hotspot map or the open-work map (a full HTML page)."""
    from api.planner.maps import render_map

    return HTMLResponse(render_map(name, store, catalogue, settings, plan_id=None))


@router.post("/whatif", summary="Start a what-if")
def start_whatif(
    request: Request,
    session: PlannerAction,
    runner: SimulationsDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    start: Annotated[str, Form(max_length=10)] = "2015-09-01",
    end: Annotated[str, Form(max_length=10)] = "2015-11-30",
    service: Annotated[str, Form(max_length=20)] = "",
    crews_sweep: Annotated[str, Form(max_length=40)] = "1..6",
) -> Response:
    """Replay a season with K crews (a sweep) in the simulation worker; go to its page."""
    values = {"from": start, "to": end, "service": service or None, "crews_sweep": crews_sweep}
    try:
        body = SimulationRequest.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        form = {"start": start, "end": end, "service": service, "crews_sweep": crews_sweep}
        context = {"tables": [], "form": form, "error": problems, "at": ""}
        return render(request, "planner.html", context, status_code=400)
    doc = runner.submit(body, store=store, created_by=session.user.username)
    sim_id = int(doc["simulation_id"])
    audit.record(
        store, session.user.username, "simulation.start", f"simulation:{sim_id}", after=values
    )
    return RedirectResponse(f"/planner/whatif/{sim_id}", status_code=303)


@router.get("/whatif/{simulation_id}", summary="A what-if")
def whatif_page(
    request: Request,
    _s: PlannerPage,
    runner: SimulationsDep,
    store: StoreDep,
    simulation_id: SimulationId,
) -> Response:
    """Show a what-if's state; when done, its table and plot."""
    doc = runner.get(store, simulation_id)
    return render(request, "whatif.html", {"sim": doc, "simulation_id": simulation_id})


@router.get("/whatif/{simulation_id}/plot.png", summary="A what-if's plot")
def whatif_plot(
    _s: PlannerPage, runner: SimulationsDep, store: StoreDep, simulation_id: SimulationId
) -> Response:
    """Return the what-if's plot (PNG)."""
    return Response(runner.plot(store, simulation_id), media_type="image/png")
