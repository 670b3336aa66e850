"""``/tiles/streets/{z}/{x}/{y}.png``: the street base map every page's map draws offline.

The tiles are drawn from the city's street graph (:mod:`maps.basemap`), the one the router
uses, loaded once per process (``geo311 serve`` loads it at start-up).
``/tiles/streets/view.json`` says where a map of the city opens: the densest part of those
streets inside the service area (the report page opens there, not on the whole city).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from api.deps import CityDep, SettingsDep
from api.schemas import NON_JSON_ERRORS
from geo311.errors import NotFoundError
from maps.basemap import MAX_ZOOM, MIN_ZOOM, StreetTiles
from maps.streetlayer import city_streets, densest_extent

router = APIRouter(tags=["public"])
TILES_URL = "/tiles/streets/{z}/{x}/{y}.png"
_lock = threading.Lock()


def street_tiles(state: Any, settings: Any) -> StreetTiles:
    """Return the app's street tiles (built from the city's street graph on first use)."""
    tiles: StreetTiles | None = getattr(state, "street_tiles", None)
    if tiles is None:
        with _lock:
            tiles = getattr(state, "street_tiles", None)
            if tiles is None:
                from routing.dispatch.build import default_graph  # the graph: load on use

                tiles = state.street_tiles = StreetTiles.from_graph(default_graph(settings))
    return tiles


@router.get(
    "/tiles/streets/{z}/{x}/{y}.png",
    summary="A street map tile drawn from the city's OSM extract (works offline)",
    response_class=Response,
    responses={**NON_JSON_ERRORS, 200: {"content": {"image/png": {}}}},
)
def street_tile(
    request: Request,
    settings: SettingsDep,
    z: Annotated[int, Path(ge=MIN_ZOOM, le=MAX_ZOOM)],
    x: Annotated[int, Path(ge=0, le=2**MAX_ZOOM)],
    y: Annotated[int, Path(ge=0, le=2**MAX_ZOOM)],
) -> Response:
    """Return one 256-pixel PNG tile (Web Mercator ``z/x/y``, as every Leaflet map asks)."""
    try:
        png = street_tiles(request.app.state, settings).tile(z, x, y)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})


def _opening_view(state: Any, settings: Any, area: list[list[float]]) -> list[list[float]]:
    view: list[list[float]] | None = getattr(state, "street_view", None)
    if view is None:
        with _lock:
            found = densest_extent(city_streets(settings))
        (s, w), (n, e) = area
        if found is not None:
            (fs, fw), (fn, fe) = found
            s, w, n, e = max(s, fs), max(w, fw), min(n, fn), min(e, fe)
        view = state.street_view = [[s, w], [n, e]] if s < n and w < e else area
    return view


@router.get(
    "/tiles/streets/view.json",
    summary="Where a map of the city opens: the densest part of its streets",
    responses=NON_JSON_ERRORS,
)
def street_view(request: Request, settings: SettingsDep, city: CityDep) -> JSONResponse:
    """Return ``{"view": [[s, w], [n, e]], "area": [[s, w], [n, e]]}``.

    ``view`` is the densest part of the city's street graph inside the service area (where the
    street base map has the most streets), ``area`` the whole service area.
    """
    min_lon, min_lat, max_lon, max_lat = city.service_area
    area = [[min_lat, min_lon], [max_lat, max_lon]]
    view = _opening_view(request.app.state, settings, area)
    return JSONResponse(
        {"view": view, "area": area}, headers={"Cache-Control": "public, max-age=3600"}
    )
