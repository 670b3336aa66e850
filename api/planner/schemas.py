"""Pydantic models of the planner's JSON: metrics, backlog and what-if simulations."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

MAX_SIMULATION_DAYS = 366
"""Longest season a simulation may replay (days from ``from`` to ``to``, inclusive)."""
MAX_SWEEP_COUNTS = 10
"""Most crew counts one simulation may try."""
_RANGE = re.compile(r"^\s*(\d{1,3})\s*(?:\.\.|-)\s*(\d{1,3})\s*$")
_LIST = re.compile(r"^\s*\d{1,3}\s*(,\s*\d{1,3}\s*)*$")


def parse_crews_sweep(text: str) -> list[int]:
    """Return the crew counts of a sweep: ``1..6``, ``2-4`` or ``1,2,4``.

    Parameters
    ----------
    text : str
        The sweep.

    Returns
    -------
    list of int
        Sorted distinct crew counts, each 1 to 50, at most ``MAX_SWEEP_COUNTS`` of them.

    Raises
    ------
    ValueError
        Naming ``crews_sweep`` and the accepted forms.
    """
    fix = f"write e.g. 1..6 or 1,2,4 (crew counts 1 to 50, at most {MAX_SWEEP_COUNTS} of them)"
    m = _RANGE.match(text)
    if m:
        counts = list(range(int(m.group(1)), int(m.group(2)) + 1))
    elif _LIST.match(text):
        counts = sorted({int(x) for x in text.split(",")})
    else:
        raise ValueError(f"crews_sweep {text!r} is not a crew range; {fix}")
    if not counts or counts[0] < 1 or counts[-1] > 50 or len(counts) > MAX_SWEEP_COUNTS:
        raise ValueError(f"crews_sweep {text!r} is out of range; {fix}")
    return counts


class SimulationRequest(BaseModel):
    """A planner's what-if: replay a season of the embedded 2015 reports with K crews."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    start: date = Field(alias="from", description="first day of the season, YYYY-MM-DD")
    end: date = Field(
        alias="to",
        description=f"last day of the season, YYYY-MM-DD (at most {MAX_SIMULATION_DAYS} days)",
    )
    service: Literal["potholes", "streetlights"] | None = Field(
        default=None, description="service group to replay (default both)"
    )
    crews: int | None = Field(
        default=None, ge=1, le=50, description="crews per group (default: those of crews.toml)"
    )
    crews_sweep: str | None = Field(
        default=None,
        max_length=40,
        description="crew counts to try, e.g. 1..6 or 1,2,4 (instead of crews)",
        examples=["1..6"],
    )
    target_median_days: float | None = Field(
        default=None,
        gt=0,
        le=365,
        description="target median days to repair (default 0.6 potholes, 7 streetlights)",
    )
    time_limit_s: float = Field(
        default=10.0, gt=0, le=60, description="solver safety time limit per simulated day"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="solver seed")

    @field_validator("end")
    @classmethod
    def _season(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start is not None:
            if end < start:
                raise ValueError(f"to {end} is before from {start}; send from <= to")
            if (end - start).days + 1 > MAX_SIMULATION_DAYS:
                raise ValueError(
                    f"from {start} to {end} spans {(end - start).days + 1} days; "
                    f"send at most {MAX_SIMULATION_DAYS}"
                )
        return end

    @field_validator("crews_sweep")
    @classmethod
    def _sweep(cls, text: str | None, info: ValidationInfo) -> str | None:
        if text is None:
            return None
        parse_crews_sweep(text)
        if info.data.get("crews") is not None:
            raise ValueError("send either crews or crews_sweep, not both")
        return text

    def crew_counts(self) -> list[int] | None:
        """Return the sweep's crew counts, or ``None`` without a sweep."""
        return None if self.crews_sweep is None else parse_crews_sweep(self.crews_sweep)


class OutcomeOut(BaseModel):
    """Days from report to repair of a set of reports (``null``: never / no reports)."""

    reports: int
    repaired: int
    median_days: float | None
    p90_days: float | None
    within_sla: float | None


class SimulatedDay(BaseModel):
    """One simulated working morning: backlog, repairs and crew hours."""

    day: str
    open_work_orders: int
    open_reports: int
    served: int
    busy_h: float
    available_h: float


class SimulationRun(BaseModel):
    """One replay of a service group with ``crews`` crews."""

    model_config = {"extra": "allow"}

    crews: int
    crew_ids: list[str]
    simulated: OutcomeOut
    utilisation: float | None
    work_orders: int
    wall_time_s: float
    days_hit_time_limit: int
    backlog: list[SimulatedDay]


class ActualBacklogDay(BaseModel):
    """Reports the City still had open on one working morning."""

    day: str
    open_reports: int


class SimulationGroup(BaseModel):
    """Simulated (per crew count) and the City's actual outcomes of one service group."""

    model_config = {"extra": "allow"}

    group: str
    actual: OutcomeOut
    runs: list[SimulationRun]
    target_median_days: float
    smallest_crews: int | None
    actual_backlog: list[ActualBacklogDay]


class SimulationResultOut(BaseModel):
    """A finished simulation: per service group, and the settings and simplifications used."""

    model_config = {"extra": "allow"}

    start: str
    end: str
    groups: dict[str, SimulationGroup]
    settings: dict[str, Any]
    notes: list[str]


class SimulationOut(BaseModel):
    """A simulation's state; with ``status='done'`` its result, table and plot link."""

    simulation_id: int
    status: Literal["running", "done", "failed"] = Field(
        description="running (waiting or computing), done, or failed (see error)"
    )
    request: dict[str, Any] = Field(description="the request as accepted")
    submitted: str
    started: str | None = None
    finished: str | None = None
    wall_time_s: float | None = None
    error: str | None = Field(default=None, description="why it failed, and the fix")
    result: SimulationResultOut | None = None
    table: str | None = Field(default=None, description="the result as a plain-text table")
    plot_url: str | None = Field(default=None, description="the PNG plot, once done")


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
