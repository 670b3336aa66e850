"""Pydantic models of the plan endpoints (plan and re-plan requests, plans, stops, itineraries)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from geo311.plans.document import PlanDocument


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
    district: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="plan this district of the city only, with the crews of its yards "
        "(default: the token's district; none: the whole city)",
    )


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


class PlanOut(PlanDocument):
    """A stored plan document (:class:`geo311.plans.document.PlanDocument`) with its id."""

    plan_id: int
    kind: str


class StopDone(BaseModel):
    """A crew's report that a stop is done."""

    note: str = Field(default="", max_length=2000)
    status: str = Field(default="fixed", description="state the work order takes (a closed one)")
    closure_category: str = Field(default="Case Resolved", max_length=100)


class StopCantDo(BaseModel):
    """A crew's report that a stop cannot be done: a reason code and a note."""

    reason: str = Field(description="no_access, parts_missing, not_found, unsafe or other")
    note: str = Field(default="", max_length=2000)


class StopReopen(BaseModel):
    """A dispatcher's reopening of a finished stop (done or can't do), with why."""

    note: str = Field(default="", max_length=2000)


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
    state: str = Field(default="planned", description="planned, arrived, done or cant_do")


class Itinerary(BaseModel):
    """A crew's day: ordered stops and route totals."""

    plan_id: int
    crew_id: str
    stops: list[Stop]
    travel_s: float
    distance_m: float
    service_s: float
