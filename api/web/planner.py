"""The planner's dashboard: ``/planner`` (metrics tables, CSV, maps, the what-if)."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import CatalogueDep, SettingsDep, SimulationsDep, StoreDep
from api.schemas import SimulationRequest
from api.web import audit
from api.web.deps import PageRoute, action_user, page_user
from api.web.sessions import WebSession
from api.web.templating import render
from geo311.store import Store

router = APIRouter(prefix="/planner", route_class=PageRoute, include_in_schema=False)
PlannerPage = Annotated[WebSession, Depends(page_user("planner", "dispatcher"))]
PlannerAction = Annotated[WebSession, Depends(action_user("planner", "dispatcher"))]
Grouping = Literal["service", "neighborhood"]
SimulationId = Annotated[int, Path(ge=1, le=2**31 - 1)]
COLUMNS = {
    "requests": "requests",
    "open": "open",
    "closed": "closed",
    "median_days_to_close": "median days to close",
    "p90_days_to_close": "p90 days to close",
    "share_within_sla": "share within SLA",
}


def metrics_table(store: Store, by: str) -> pd.DataFrame:
    """Return the metrics grouped by ``service`` or ``neighborhood`` (empty without data)."""
    from geo311.metrics import service_metrics

    if store.count_requests() == 0:
        return pd.DataFrame(columns=[by, *COLUMNS])
    frame = service_metrics(store, by=[by])
    return frame if frame.index.names == [None] else frame.reset_index()


def _rows(frame: pd.DataFrame, by: str) -> list[list[str]]:
    def cell(name: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        if name == "share_within_sla":
            return f"{100 * float(value):.1f} %"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    names = [by, *(c for c in COLUMNS if c in frame.columns)]
    return [[cell(n, row[n]) for n in names] for _, row in frame.iterrows()]


@router.get("", summary="Planner dashboard")
def planner_page(request: Request, _s: PlannerPage, store: StoreDep) -> Response:
    """Show the metrics by service and by neighbourhood, with CSV links, maps and the what-if."""
    tables = []
    for by in ("service", "neighborhood"):
        frame = metrics_table(store, by)
        heads = [by, *(COLUMNS[c] for c in COLUMNS if c in frame.columns)]
        tables.append({"by": by, "heads": heads, "rows": _rows(frame, by)})
    return render(request, "planner.html", {"tables": tables, "form": {}, "error": ""})


@router.get("/metrics.csv", summary="Metrics as CSV")
def metrics_csv(_s: PlannerPage, store: StoreDep, by: Grouping = "service") -> Response:
    """Download the metrics table as CSV."""
    buffer = io.StringIO()
    metrics_table(store, by).to_csv(buffer, index=False)
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="metrics_by_{by}.csv"'},
    )


@router.get("/maps/{name}", summary="A planner's map")
def planner_map(
    _s: PlannerPage,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    name: Literal["hotspots", "open-work"],
) -> Response:
    """Return the hotspot map or the open-work map (a full HTML page)."""
    from api._maps import render_map

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
        context = {"tables": [], "form": form, "error": problems}
        return render(request, "planner.html", context, status_code=400)
    doc = runner.submit(body, store=store, catalogue=catalogue, settings=settings)
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
