"""Planner endpoints: the three maps (HTML), service metrics and the backlog by age."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse

from api.deps import CatalogueDep, PlannerDep, SettingsDep, StoreDep
from api.planner import staff as _staff
from api.planner.schemas import BacklogRow, MetricsRow
from api.schemas import NON_JSON_ERRORS, STAFF_RESPONSES
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo

router = APIRouter(
    tags=["planner"],
    responses=STAFF_RESPONSES,
)

MapName = Literal["hotspots", "open-work", "plan"]


@router.get(
    "/maps/{name}",
    response_class=HTMLResponse,
    summary="A planner's map (HTML)",
    responses={**NON_JSON_ERRORS, 200: {"content": {"text/html": {}}}},
)
def get_map(
    name: Annotated[MapName, Path(description="hotspots, open-work or plan")],
    _role: PlannerDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    plan_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> HTMLResponse:
    """Return one of the three maps: request hotspots, open work orders, or a plan's routes."""
    from api.planner.maps import render_map

    return HTMLResponse(render_map(name, store, catalogue, settings, plan_id=plan_id))


@router.get("/metrics", response_model=list[MetricsRow], summary="Service metrics")
def get_metrics(
    _role: PlannerDep,
    store: StoreDep,
    by: Annotated[
        str, Query(max_length=40, pattern=r"^(service|neighborhood)(,(service|neighborhood))?$")
    ] = "service",
) -> list[dict[str, Any]]:
    """Return per-service (and/or neighbourhood) metrics: median and p90 days to close, SLA share."""
    from geo311.requests.metrics import service_metrics

    if request_repo.count_requests(store) == 0:
        return []  # service_metrics needs at least one request
    frame = service_metrics(store, by=by.split(","))
    frame = frame if frame.index.names == [None] else frame.reset_index()
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


@router.get("/backlog", response_model=list[BacklogRow], summary="Backlog by age")
def get_backlog(
    _role: PlannerDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    at: Annotated[
        str | None, Query(max_length=40, description="ISO 8601 moment (default: now)")
    ] = None,
) -> list[dict[str, Any]]:
    """Count open work orders per service group and age bucket, with how many are overdue."""
    tz = _staff.ZoneInfo(settings.timezone)
    now = _staff.parse_at(at, tz) if at else datetime.now(UTC)
    orders = work_order_repo.query_work_orders(store, statuses=catalogue.open_state_codes())
    return _staff.backlog([wo for wo in orders if wo.opened <= now], now=now)
