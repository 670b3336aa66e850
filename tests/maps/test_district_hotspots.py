"""Per-district hotspot statistics as tasks: the same tables on a local cluster as in-process."""

from __future__ import annotations

import numpy as np
import pandas as pd
from shapely.geometry import box

from geo311.city.districts import District, Districts
from maps.district_stats import district_hotspots
from routing.distributed import TaskFailure


def _points(
    rng: np.random.Generator, lat: float, lon: float, n: int, spread: float
) -> pd.DataFrame:
    return pd.DataFrame(
        {"lat": lat + rng.normal(0, spread, n), "lon": lon + rng.normal(0, spread, n)}
    )


def test_district_hotspots_on_a_local_cluster_equal_the_in_process_ones() -> None:
    rng = np.random.default_rng(7)
    west = District("West", box(-71.12, 42.32, -71.08, 42.36))
    east = District("East", box(-71.08, 42.32, -71.04, 42.36))
    frame = pd.concat(
        [
            _points(rng, 42.34, -71.10, 400, 0.008),
            _points(rng, 42.345, -71.105, 300, 0.001),  # a hot spot in West
            _points(rng, 42.34, -71.06, 400, 0.008),
            _points(rng, 42.50, -70.50, 50, 0.01),  # outside both: left out
        ],
        ignore_index=True,
    )
    areas = Districts([west, east])
    here = district_hotspots(frame, areas, workers=1)
    there = district_hotspots(frame, areas, workers=2)
    assert sorted(here) == sorted(there) == ["East", "West"]
    for name in here:
        assert not isinstance(here[name], TaskFailure) and not isinstance(there[name], TaskFailure)
        pd.testing.assert_frame_equal(here[name], there[name])
    assert len(here["West"]) > 0 and len(here["East"]) > 0
