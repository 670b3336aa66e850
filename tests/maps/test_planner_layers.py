"""The planner dashboard's map data: open work points, located requests, extent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from geo311.model import WorkOrder
from maps.planner_layers import extent, hotspot_cells, located_requests, open_work_points

AT = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)


def _order(wid: int, days: float, due_in: float) -> WorkOrder:
    opened = AT - timedelta(days=days)
    return WorkOrder(wid, "potholes", "pothole", 42.351234567, -71.08, opened,
                     AT + timedelta(days=due_in), 1, "open")  # fmt: skip


def test_open_work_points_name_the_service_and_say_overdue() -> None:
    points = open_work_points(
        [_order(1, 3.0, -1.0), _order(2, 0.5, 2.0)], names={"pothole": "Pothole repair"}, at=AT
    )
    assert points == [
        [42.35123, -71.08, "Pothole repair", 3.0, True, 1],
        [42.35123, -71.08, "Pothole repair", 0.5, False, 2],
    ]


def test_located_requests_leave_out_placeholders_and_missing_points() -> None:
    frame = pd.DataFrame(
        {"lat": [42.35, 42.3594, None, 42.36], "lon": [-71.08, -71.0587, -71.0, -71.07]}
    )

    def mask(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        return (np.round(lat, 4) == 42.3594) & (np.round(lon, 4) == -71.0587)

    located = located_requests(frame, placeholder_mask=mask)
    assert located.index.tolist() == [0, 3]
    south_west, north_east = extent(located)  # type: ignore[misc]
    assert 42.35 <= south_west[0] < north_east[0] <= 42.36
    assert extent(located.iloc[:0]) is None and hotspot_cells(located.iloc[:0]) == []
