"""The maps of what a store holds: open work at a moment, request hotspots.

The one glue between the store and the map figures, used by ``geo311 map`` (files) and the
planner's pages (HTML answered by the API). Both draw the city's street lines into the page
(:func:`maps.base.add_streets`): the maps show streets with no network, even opened from disk.
"""

from __future__ import annotations

from datetime import datetime

import folium

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.settings import Settings
from geo311.workorders.open_view import open_work_orders_at
from maps.base import add_streets
from maps.hotspots import hotspots_map, located_requests_frame
from maps.openwork import open_work_map
from maps.streetlayer import city_streets

__all__ = ["hotspots_figure", "open_work_figure"]


def open_work_figure(
    store: Store, catalogue: Catalogue, settings: Settings, *, at: datetime
) -> folium.Map:
    """Return the map of the work orders open at ``at``, as they stood then, on the city's streets.

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
    m = open_work_map(
        orders, catalogue, at=at, boundary=settings.boundary_file, timezone=settings.timezone
    )
    add_streets(m, city_streets(settings))
    return m


def hotspots_figure(store: Store, catalogue: Catalogue, settings: Settings) -> folium.Map:
    """Return the hotspot map of every stored request with a real location, on the city's streets.

    Parameters
    ----------
    store, catalogue
        Where the requests are, and their services.
    settings
        Gives the time zone.
    """
    m = hotspots_map(located_requests_frame(store), catalogue, timezone=settings.timezone)
    add_streets(m, city_streets(settings), over_areas=True)
    return m
