"""Conversions shared by the staff routers: work orders to JSON/GeoJSON, times, backlog."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from geo311.city.catalogue import Catalogue
from geo311.errors import InputError
from geo311.model import WorkOrder
from geo311.requests.metrics import (
    WORK_ORDER_AGE_BINS,
    WORK_ORDER_AGE_LABELS,
    BacklogColumns,
    backlog_by_age,
    work_orders_frame,
)
from geo311.timeutil import local_datetime


def iso(value: datetime | None, tz: ZoneInfo) -> str | None:
    """Format a time as ISO 8601 with its offset in the city's zone (None stays None)."""
    return None if value is None else value.astimezone(tz).isoformat(timespec="seconds")


def work_order_out(wo: WorkOrder, catalogue: Catalogue, tz: ZoneInfo) -> dict[str, Any]:
    """Return a work order as the JSON the staff endpoints send."""
    state = catalogue.states.get(wo.status)
    return {
        "work_order_id": wo.work_order_id,
        "service_group": wo.service_group,
        "service_code": wo.service_code,
        "lat": wo.lat,
        "lon": wo.lon,
        "opened": iso(wo.opened, tz),
        "sla_due": iso(wo.sla_due, tz),
        "report_count": wo.report_count,
        "status": wo.status,
        "open311_status": state.open311 if state else "closed",
        "member_ids": list(wo.member_ids),
        "address": wo.address,
        "closed_datetime": iso(wo.closed_datetime, tz),
        "closure_category": wo.closure_category,
        "status_notes": wo.status_notes,
        "failed_repair_of": wo.failed_repair_of,
    }


def work_orders_geojson(
    orders: list[WorkOrder], catalogue: Catalogue, tz: ZoneInfo
) -> dict[str, Any]:
    """Return work orders as a GeoJSON FeatureCollection of points (EPSG:4326)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [wo.lon, wo.lat]},
                "properties": {
                    k: v
                    for k, v in work_order_out(wo, catalogue, tz).items()
                    if k not in ("lat", "lon")
                },
            }
            for wo in orders
        ],
    }


def parse_at(text: str, tz: ZoneInfo, *, field: str = "at") -> datetime:
    """Parse an ISO 8601 time (local time when it has no offset).

    Raises
    ------
    InputError
        Naming the field when the text is not ISO 8601.
    """
    try:
        return local_datetime(text.strip().replace("Z", "+00:00"), tz)
    except ValueError:
        raise InputError(
            f"{field}: {text!r} is not ISO 8601; send e.g. 2015-10-06T07:00", field=field
        ) from None


def backlog(orders: list[WorkOrder], *, now: datetime) -> list[dict[str, Any]]:
    """Count open work orders by service group and age bucket (:mod:`geo311.requests.metrics`).

    Parameters
    ----------
    orders
        The open work orders.
    now
        The moment ages are measured at.

    Returns
    -------
    list of dict
        ``service_group``, ``age``, ``work_orders``, ``reports``, ``overdue`` per non-empty cell.
    """
    table = backlog_by_age(
        work_orders_frame(orders),
        at=now,
        bins_days=WORK_ORDER_AGE_BINS,
        labels=WORK_ORDER_AGE_LABELS,
        columns=BacklogColumns(
            group="service_group",
            opened="opened",
            closed=None,
            due="sla_due",
            reports="report_count",
        ),
    )
    table = table[table["open"] > 0]
    return [
        {
            "service_group": str(row["service_group"]),
            "age": str(row["age"]),
            "work_orders": int(row["open"]),
            "reports": int(row["reports"]),
            "overdue": int(row["overdue"]),
        }
        for row in table.to_dict("records")
    ]
