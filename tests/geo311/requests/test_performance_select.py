"""Selecting requests by service and neighbourhood (the planner dashboard's filters)."""

from __future__ import annotations

import pandas as pd

from geo311.requests.performance import select_requests


def test_select_by_service_and_neighbourhood_and_the_empty_one() -> None:
    frame = pd.DataFrame(
        {
            "service_code": ["pothole", "pothole", "streetlight_outage", "pothole"],
            "neighborhood": ["Back Bay", "", "Back Bay", None],
        }
    )
    assert select_requests(frame).index.tolist() == [0, 1, 2, 3]
    assert select_requests(frame, services=["pothole"]).index.tolist() == [0, 1, 3]
    assert select_requests(frame, neighbourhoods=["Back Bay"]).index.tolist() == [0, 2]
    assert select_requests(frame, neighbourhoods=[""]).index.tolist() == [1, 3]  # none: empty
    both = select_requests(frame, services=["streetlight_outage"], neighbourhoods=["Back Bay"])
    assert both.index.tolist() == [2]
    assert select_requests(frame, services=["graffiti"]).empty
