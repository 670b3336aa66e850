"""Pydantic models of every API response (Open311 GeoReport v2 and the staff endpoints)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# -- Open311 GeoReport v2 ------------------------------------------------------------------


class Open311Error(BaseModel):
    """One GeoReport v2 error: the HTTP code and a description naming the field and the fix."""

    code: int
    description: str


class DiscoveryEndpoint(BaseModel):
    """One endpoint of the service discovery document."""

    specification: str
    url: str
    changeset: str
    type: Literal["production", "test"]
    formats: list[str]


class Discovery(BaseModel):
    """The GeoReport v2 service discovery document."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[DiscoveryEndpoint]


class Service(BaseModel):
    """One service of ``GET services``."""

    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="true when the service has attribute definitions")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str = Field(description="comma-separated keywords")
    group: str


class AttributeValue(BaseModel):
    """One allowed value of a list attribute."""

    key: str
    name: str


class Attribute(BaseModel):
    """One attribute definition of a service (``GET services/{service_code}``)."""

    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str
    order: int
    description: str
    values: list[AttributeValue] = Field(default_factory=list)


class ServiceDefinition(BaseModel):
    """A service definition: its code and its attributes."""

    service_code: str
    attributes: list[Attribute]


class ServiceRequestOut(BaseModel):
    """One service request as GeoReport v2 returns it (times ISO 8601 with offset)."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None = None
    service_name: str | None = None
    service_code: str
    description: str | None = None
    agency_responsible: str | None = None
    service_notice: str | None = None
    requested_datetime: str
    updated_datetime: str | None = None
    expected_datetime: str | None = None
    address: str | None = None
    address_id: str | None = None
    zipcode: str | None = None
    lat: float | None = None
    long: float | None = None
    media_url: str | None = None


class PostResponse(BaseModel):
    """The answer to ``POST requests``: the new id (or a token), a notice and the account id."""

    service_request_id: str | None = None
    token: str | None = None
    service_notice: str = ""
    account_id: str | None = None


class TokenResponse(BaseModel):
    """The answer to ``GET tokens/{token}``."""

    service_request_id: str | None
    token: str


# -- staff endpoints -----------------------------------------------------------------------


class Problem(BaseModel):
    """An error of a staff endpoint: what is wrong and how to fix it."""

    detail: str
    field: str | None = None


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


class PlanRequest(BaseModel):
    """What to plan: the morning, the crews and the solver's time budget."""

    at: str = Field(
        description="start of the shift, ISO 8601 (local time when no offset), e.g. 2015-10-06T07:00"
    )
    crews: list[str] | None = Field(
        default=None, description="crew ids to plan for (default: every crew of crews.toml)"
    )
    time_limit_s: float = Field(default=10.0, gt=0, le=300, description="solver time limit")
    seed: int | None = Field(default=None, description="solver seed (default: settings)")


class ReplanRequest(BaseModel):
    """A re-plan during the day: when, which stops stay locked, which urgent work is new."""

    at: str = Field(description="now, ISO 8601 (local time when no offset)")
    locked_stops: dict[str, int] = Field(
        default_factory=dict, description="crew id -> number of leading stops kept as planned"
    )
    new_work_order_ids: list[int] = Field(
        default_factory=list, description="urgent work orders to add"
    )
    time_limit_s: float = Field(default=5.0, gt=0, le=300)


class PlanOut(BaseModel):
    """A stored plan document (as the routing package wrote it) with its id."""

    model_config = {"extra": "allow"}

    plan_id: int
    kind: str
    parent_plan_id: int | None = None


class StopDone(BaseModel):
    """A crew's report that a stop is done."""

    note: str = Field(default="", max_length=2000)
    status: str = Field(default="fixed", description="state the work order takes (a closed one)")
    closure_category: str = Field(default="Case Resolved", max_length=100)


class MetricsRow(BaseModel):
    """One row of the service metrics table."""

    model_config = {"extra": "allow"}


class BacklogRow(BaseModel):
    """Open work orders of one service group in one age bucket."""

    service_group: str
    age: str
    work_orders: int
    reports: int
    overdue: int


class Stop(BaseModel):
    """One stop of a crew's itinerary."""

    job_id: str
    work_order_id: int | None
    service_code: str | None
    address: str
    report_count: int | None
    lat: float | None
    lon: float | None
    arrival: str | None
    departure: str | None
    service_s: float | None
    done: bool


class Itinerary(BaseModel):
    """A crew's day: ordered stops and route totals."""

    plan_id: int
    crew_id: str
    stops: list[Stop]
    travel_s: float
    distance_m: float
    service_s: float


STAFF_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in {
        400: "invalid value (the body names the field and the fix)",
        401: "missing or unknown bearer token",
        403: "the token's role may not do this",
        404: "no such object",
        409: "not allowed in the object's current state",
        413: "request body too large",
        422: "request does not validate",
        500: "internal error (no details are disclosed)",
        503: "a part of the service is not installed",
    }.items()
}

# For routes whose success is HTML/GPX: errors are still JSON ``Problem`` bodies.
NON_JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {
        "description": entry["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, entry in STAFF_RESPONSES.items()
}
