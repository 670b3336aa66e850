"""The planner dashboard's map data: open work points and Gi* hot and cold spots, as plain JSON.

The dashboard draws them with the vendored Leaflet on geo311's own street tiles
(:mod:`maps.basemap`), inside the page: no map file is opened outside the app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import h3
import numpy as np
import pandas as pd

from geo311.model import WorkOrder
from maps.hotspots import GI_CLASSES, gi_star_hexagons, hex_counts

__all__ = [
    "HOTSPOT_RESOLUTION",
    "extent",
    "hotspot_cells",
    "located_requests",
    "open_work_points",
]

HOTSPOT_RESOLUTION = 8
"""H3 resolution of the hot-spot cells (about 0.74 km² each)."""
_LABELS = {key: (label, colour) for key, label, colour in GI_CLASSES}


def open_work_points(
    orders: Iterable[WorkOrder], *, names: Mapping[str, str], at: datetime
) -> list[list[Any]]:
    """Return the open work orders as ``[lat, lon, service name, age in days, overdue, id]``.

    Parameters
    ----------
    orders
        The open work orders to draw (already filtered).
    names
        Service names by code.
    at
        The moment of the backlog (ages and overdue are at this moment).
    """
    return [
        [
            round(wo.lat, 5),
            round(wo.lon, 5),
            names.get(wo.service_code, wo.service_code),
            round((at - wo.opened).total_seconds() / 86400.0, 1),
            bool(wo.sla_due < at),
            wo.work_order_id,
        ]
        for wo in orders
    ]


def located_requests(
    frame: pd.DataFrame, *, placeholder_mask: Callable[[Any, Any], np.ndarray]
) -> pd.DataFrame:
    """Return the requests with a real point: a location, and not a "no location" placeholder.

    Parameters
    ----------
    frame
        Requests with ``lat`` and ``lon``.
    placeholder_mask
        Tells, per point, a city's placeholder (:meth:`geo311.city.profile.City.placeholder_mask`).
    """
    located = frame.dropna(subset=["lat", "lon"])
    lat, lon = located["lat"].astype(float), located["lon"].astype(float)
    return located.loc[~np.asarray(placeholder_mask(lat.to_numpy(), lon.to_numpy()), dtype=bool)]


def extent(located: pd.DataFrame) -> list[list[float]] | None:
    """Return where most of the requests are: ``[[south, west], [north, east]]`` (or None).

    The 1st to 99th percentiles of the coordinates of ``located`` (:func:`located_requests`),
    so that a few points far away do not zoom the map out of the city.
    """
    if located.empty:
        return None
    lat, lon = located["lat"].astype(float), located["lon"].astype(float)
    return [
        [round(float(lat.quantile(0.01)), 5), round(float(lon.quantile(0.01)), 5)],
        [round(float(lat.quantile(0.99)), 5), round(float(lon.quantile(0.99)), 5)],
    ]


def hotspot_cells(located: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the significant Gi* hot and cold H3 cells of some requests as GeoJSON features.

    Parameters
    ----------
    located
        Requests with a real point (:func:`located_requests`).

    Returns
    -------
    list of dict
        One ``Feature`` per cell that is not "not significant": its polygon and the properties
        ``count``, ``label`` (plain words) and ``colour``; empty with no located request.
    """
    if located.empty:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):  # a flat area: z is nan, not a spot
        gi = gi_star_hexagons(hex_counts(located, resolution=HOTSPOT_RESOLUTION))
    features = []
    for cell, row in gi.loc[gi["gi_class"] != "ns"].iterrows():
        label, colour = _LABELS[str(row["gi_class"])]
        ring = [[round(lon, 6), round(lat, 6)] for lat, lon in h3.cell_to_boundary(str(cell))]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {"count": int(row["count"]), "label": label, "colour": colour},
            }
        )
    return features
