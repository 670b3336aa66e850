"""Pydantic models of the work-order endpoints (work orders, status changes, GeoJSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class WorkOrderOut(BaseModel):
    """A work order: nearby reports of one defect merged into one job."""

    work_order_id: int
    service_group: str
    service_code: str
    lat: float
    lon: float
    opened: str
    sla_due: str
    report_count: int
    status: str
    open311_status: Literal["open", "closed"]
    member_ids: list[str]
    address: str
    closed_datetime: str | None
    closure_category: str
    status_notes: str
    failed_repair_of: int | None


class StatusChange(BaseModel):
    """A dispatcher's status change of a work order."""

    status: str = Field(min_length=1, max_length=32, description="catalogue state code")
    note: str = Field(
        default="", max_length=2000, description="citizen-readable status note (closing)"
    )
    closure_category: str = Field(default="", max_length=100)


class Geometry(BaseModel):
    """A GeoJSON geometry (Point or LineString, EPSG:4326)."""

    type: Literal["Point", "LineString", "MultiLineString"]
    coordinates: list[Any]


class Feature(BaseModel):
    """A GeoJSON feature."""

    type: Literal["Feature"] = "Feature"
    geometry: Geometry | None
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    """A GeoJSON feature collection (EPSG:4326)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[Feature]
