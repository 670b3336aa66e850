"""``/tiles/streets/{z}/{x}/{y}.png``: the street base map every page's map draws offline.

The tiles are drawn from the city's street graph (:mod:`maps.basemap`), the one the router
uses, loaded once per process (``geo311 serve`` loads it at start-up).
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.deps import SettingsDep
from api.schemas import NON_JSON_ERRORS
from geo311.errors import NotFoundError
from maps.basemap import MAX_ZOOM, MIN_ZOOM, StreetTiles

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
