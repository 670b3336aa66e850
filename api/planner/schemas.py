"""Pydantic models of the planner's JSON (metrics, backlog)."""

from __future__ import annotations

from pydantic import BaseModel


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
