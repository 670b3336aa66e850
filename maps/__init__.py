"""geo311 maps: Folium maps that work with no network.

Public modules: :mod:`maps.base` (base map, legend, district outline, ``add_streets``,
``write_map``), :mod:`maps.streetlayer` (the city's streets carried inside a map file, so it
shows streets opened from disk), :mod:`maps.basemap` (the same streets as served tiles),
:mod:`maps.assets` (the vendored browser assets and the rewriting of folium's CDN links),
:mod:`maps.openwork`, :mod:`maps.hotspots`, :mod:`maps.routes`, :mod:`maps.cli`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geo311.lazy import lazy_exports

if TYPE_CHECKING:
    from maps.assets import vendor_file, vendor_url
    from maps.base import add_streets, base_map, write_map
    from maps.district_stats import district_hotspots
    from maps.hotspots import hotspots_map, located_requests_frame
    from maps.itinerary import itinerary_gpx, itinerary_html, itinerary_text, write_itineraries
    from maps.openwork import open_work_map
    from maps.routes import plan_map, route_drawings_from_plan, routes_map, write_route_maps
    from maps.simulation_plot import plot_simulation
    from maps.streetlayer import city_streets

# Public name -> the module that defines it (imported on first use: folium is heavy).
_EXPORTS = {
    "vendor_file": "maps.assets",
    "vendor_url": "maps.assets",
    "add_streets": "maps.base",
    "base_map": "maps.base",
    "city_streets": "maps.streetlayer",
    "district_hotspots": "maps.district_stats",
    "write_map": "maps.base",
    "hotspots_map": "maps.hotspots",
    "located_requests_frame": "maps.hotspots",
    "itinerary_gpx": "maps.itinerary",
    "itinerary_html": "maps.itinerary",
    "itinerary_text": "maps.itinerary",
    "write_itineraries": "maps.itinerary",
    "open_work_map": "maps.openwork",
    "plan_map": "maps.routes",
    "route_drawings_from_plan": "maps.routes",
    "routes_map": "maps.routes",
    "write_route_maps": "maps.routes",
    "plot_simulation": "maps.simulation_plot",
}

__all__ = [
    "add_streets",
    "base_map",
    "city_streets",
    "district_hotspots",
    "hotspots_map",
    "itinerary_gpx",
    "itinerary_html",
    "itinerary_text",
    "open_work_map",
    "plan_map",
    "plot_simulation",
    "located_requests_frame",
    "route_drawings_from_plan",
    "routes_map",
    "vendor_file",
    "vendor_url",
    "write_itineraries",
    "write_map",
    "write_route_maps",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
