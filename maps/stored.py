"""The maps of what a store holds: open work at a moment, request hotspots.

The one glue between the store and the map figures, used by ``geo311 map`` (files) and the
planner's pages (HTML answered by the API).
"""

from __future__ import annotations

from datetime import datetime

import folium

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.settings import Settings
from geo311.workorders.open_view import open_work_orders_at
from maps.hotspots import hotspots_map, located_requests_frame
from maps.openwork import open_work_map

__all__ = ["hotspots_figure", "open_work_figure"]


def open_work_figure(
    store: Store, catalogue: Catalogue, settings: Settings, *, at: datetime
) -> folium.Map:
    """Return the map of the work orders open at ``at``, as they stood then.

    Parameters
    ----------
    store, catalogue
        Where the work orders are, and their services.
    settings
        Gives the city boundary and time zone.
    at
        The moment the map shows (aware).
    """
    orders = open_work_orders_at(store, at, catalogue=catalogue)
    return open_work_map(
        orders, catalogue, at=at, boundary=settings.boundary_file, timezone=settings.timezone
    )


def hotspots_figure(store: Store, catalogue: Catalogue, settings: Settings) -> folium.Map:
    """Return the hotspot map of every stored request with a real location.

    Parameters
    ----------
    store, catalogue
        Where the requests are, and their services.
    settings
        Gives the time zone.
    """
    return hotspots_map(located_requests_frame(store), catalogue, timezone=settings.timezone)
