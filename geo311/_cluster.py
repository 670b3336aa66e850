"""Deprecated alias of :mod:`geo311.clustering` (kept for one release; import that instead)."""

from __future__ import annotations

from geo311.clustering import (
    INF_TIME,
    METRIC_CRS,
    choose_work_order,
    group_points,
    project,
    to_micros,
)

__all__ = ["INF_TIME", "METRIC_CRS", "choose_work_order", "group_points", "project", "to_micros"]
