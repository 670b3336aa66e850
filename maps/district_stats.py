"""Hotspot statistics per district, as tasks (the nightly refresh on a cluster).

Each district's requests are counted on H3 hexagons and tested with Getis-Ord Gi* (as
:func:`maps.hotspots.hotspots_map` does city-wide); one task per district through
:func:`routing.distributed.run_tasks` (a Dask scheduler, a local cluster, or in-process).
Only the district's points travel to a worker; the result is a small table per district.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from geo311.city.districts import OUTSIDE, Districts
from maps.hotspots import gi_star_hexagons, hex_counts

__all__ = ["district_hotspots"]


def _district_task(item: dict[str, Any]) -> pd.DataFrame:
    """Gi* hexagons of one district's requests (module level: pickled to the workers)."""
    counts = hex_counts(item["frame"], resolution=item["resolution"])
    return gi_star_hexagons(counts, alpha=item["alpha"])


def district_hotspots(
    frame: pd.DataFrame,
    districts: Districts,
    *,
    resolution: int = 8,
    alpha: float = 0.05,
    cluster: str | None = None,
    workers: int | None = None,
    progress: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Return each district's Gi* hexagons, computed as one task per district.

    Parameters
    ----------
    frame
        Requests with ``lat`` and ``lon`` (e.g. :func:`maps.hotspots.located_requests_frame`).
    districts
        The city's districts; requests outside every district are left out.
    resolution, alpha
        H3 resolution and significance / FDR level, as in :func:`maps.hotspots.hotspots_map`.
    cluster, workers, progress
        Where the tasks run (:func:`routing.distributed.run_tasks`).

    Returns
    -------
    dict
        District name -> the Gi* table of :func:`maps.hotspots.gi_star_hexagons`, or a
        :class:`routing.distributed.TaskFailure` saying why that district failed.
    """
    from routing.distributed import run_tasks

    names = districts.assign(frame["lat"].to_numpy(), frame["lon"].to_numpy())
    items = {
        d.name: {
            "frame": frame.loc[names == d.name, ["lat", "lon"]].reset_index(drop=True),
            "resolution": resolution,
            "alpha": alpha,
        }
        for d in districts
        if d.name != OUTSIDE and bool((names == d.name).any())
    }
    return run_tasks(_district_task, items, cluster=cluster, workers=workers, progress=progress)
