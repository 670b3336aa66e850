"""Dispatcher endpoints for work orders: list and filter (JSON or GeoJSON), change status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api import scope
from api.deps import CatalogueDep, DispatcherDep, SettingsDep, StaffDep, StoreDep
from api.planner import staff as _staff
from api.principal import Principal
from api.schemas import STAFF_RESPONSES, Problem
from api.web import audit
from api.workorders.schemas import FeatureCollection, StatusChange, WorkOrderOut
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.model import WorkOrder
from geo311.settings import Settings
from geo311.workorders import repo as work_order_repo

router = APIRouter(
    prefix="/workorders",
    tags=["dispatcher"],
    responses=STAFF_RESPONSES,
)

StatusFilter = Annotated[
    str | None,
    Query(max_length=200, description="comma-delimited state codes, e.g. open,scheduled"),
]
GroupFilter = Annotated[
    str | None, Query(max_length=200, description="comma-delimited groups, e.g. potholes")
]
Limit = Annotated[int, Query(ge=1, le=100_000, description="at most this many")]


def _split(value: str | None) -> list[str] | None:
    items = [v.strip() for v in (value or "").split(",") if v.strip()]
    return items or None


def _query(
    store: Store,
    catalogue: Catalogue,
    settings: Settings,
    who: Principal,
    filters: tuple[str | None, str | None, int],
) -> list[WorkOrder]:
    """Return the work orders a caller may read, filtered by state and group.

    A crew reads its stops', a district's dispatcher its district's, everyone else all.
    """
    status, group, limit = filters
    statuses = _split(status)
    for s in statuses or []:
        catalogue.state(s)
    groups = _split(group)
    for g in groups or []:
        if catalogue.groups and g not in catalogue.groups:
            raise InputError(
                f"group: {g!r} is unknown; use one of {', '.join(catalogue.groups)}",
                field="group",
            )
    if who.role == "crew":
        ids = sorted(scope.crew_work_order_ids(store, str(who.crew_id)))
        return work_order_repo.query_work_orders(
            store, statuses=statuses, groups=groups, ids=ids, limit=limit
        )
    if who.scoped:  # filtered by place, so the limit applies after the district
        orders = work_order_repo.query_work_orders(store, statuses=statuses, groups=groups)
        return scope.in_district(orders, settings, who.district)[:limit]
    return work_order_repo.query_work_orders(store, statuses=statuses, groups=groups, limit=limit)


@router.get("", response_model=list[WorkOrderOut], summary="List work orders")
def list_work_orders(
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    status: StatusFilter = None,
    group: GroupFilter = None,
    limit: Limit = 1000,
) -> list[dict[str, object]]:
    """Return work orders, oldest first, filtered by state and service group.

    A crew token lists its own stops' work orders (of its newest published plan); a
    dispatcher of a district, its district's.
    """
    tz = _staff.ZoneInfo(settings.timezone)
    orders = _query(store, catalogue, settings, who, (status, group, limit))
    return [_staff.work_order_out(wo, catalogue, tz) for wo in orders]


@router.get(".geojson", response_model=FeatureCollection, summary="Work orders as GeoJSON points")
def work_orders_geojson(
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
    status: StatusFilter = None,
    group: GroupFilter = None,
    limit: Limit = 1000,
) -> dict[str, object]:
    """Return the filtered work orders as a GeoJSON FeatureCollection (EPSG:4326).

    Scoped as ``GET /workorders``.
    """
    tz = _staff.ZoneInfo(settings.timezone)
    orders = _query(store, catalogue, settings, who, (status, group, limit))
    return _staff.work_orders_geojson(orders, catalogue, tz)


@router.get(
    "/{work_order_id}",
    response_model=WorkOrderOut,
    summary="One work order",
    responses={404: {"model": Problem}},
)
def get_work_order(
    work_order_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    who: StaffDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> dict[str, object]:
    """Return one work order with its member request ids (403 outside the caller's scope)."""
    wo = work_order_repo.get_work_order(store, work_order_id)
    scope.check_crew_reads(who, store, work_order_id)
    scope.check_work_order(who, wo, settings)
    return _staff.work_order_out(wo, catalogue, _staff.ZoneInfo(settings.timezone))


@router.post(
    "/{work_order_id}/status",
    response_model=WorkOrderOut,
    summary="Change a work order's status",
    responses={404: {"model": Problem}, 409: {"model": Problem}},
)
def change_status(
    work_order_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    change: StatusChange,
    who: DispatcherDep,
    store: StoreDep,
    catalogue: CatalogueDep,
    settings: SettingsDep,
) -> dict[str, object]:
    """Move a work order to another state; closing it closes its requests with the note.

    Open states may move to any state; a closed or fixed work order cannot change (409). A
    dispatcher of a district changes only its district's work orders (403). The change and
    its ``workorder.status`` audit row (the token's user, or ``token:<id>``) commit together.
    """
    from geo311.workorders.workflow import StatusChange, apply_status

    scope.check_work_order(who, work_order_repo.get_work_order(store, work_order_id), settings)
    with store.begin():
        before = work_order_repo.get_work_order(store, work_order_id)
        wo = apply_status(
            store,
            catalogue,
            work_order_id,
            StatusChange(
                status=change.status, note=change.note, closure_category=change.closure_category
            ),
            timezone=settings.timezone,
        )
        audit.record(
            store,
            who.actor,
            "workorder.status",
            f"workorder:{work_order_id}",
            before={"status": before.status},
            after={
                "status": wo.status,
                "note": change.note,
                "closure_category": change.closure_category,
            },
        )
    return _staff.work_order_out(wo, catalogue, _staff.ZoneInfo(settings.timezone))
