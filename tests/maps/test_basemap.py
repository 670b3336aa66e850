"""The offline street base map: tiles drawn from street lines, with names at street zoom."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import shapely
from PIL import Image

from maps.basemap import BACKGROUND, StreetTiles, short_name


def _tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)


@pytest.fixture(scope="module")
def tiles() -> StreetTiles:
    avenue = shapely.LineString([(-71.0900, 42.3500), (-71.0700, 42.3500)])
    street = shapely.LineString([(-71.0810, 42.3450), (-71.0810, 42.3550)])
    return StreetTiles(
        [avenue, street], ["Commonwealth Avenue", "Dartmouth Street"], ["primary", "residential"]
    )


def test_a_tile_on_the_streets_draws_them_and_one_away_is_blank(tiles: StreetTiles) -> None:
    x, y = _tile_of(42.3500, -71.0810, 15)
    drawn = _pixels(tiles.tile(15, x, y))
    street = (drawn != np.array(BACKGROUND)).any(axis=1).mean()
    assert 0.01 < street < 0.5, f"{street:.1%} of the tile is street"
    assert tiles.tile(15, x + 40, y) == tiles.blank
    assert tiles.tile(15, x, y) is tiles.tile(15, x, y)  # kept, not drawn again


def test_street_names_appear_from_street_zoom(tiles: StreetTiles) -> None:
    x, y = _tile_of(42.3500, -71.0850, 17)
    dark = (_pixels(tiles.tile(17, x, y)).max(axis=1) < 90).sum()
    assert dark > 30, "no label drawn"
    x, y = _tile_of(42.3500, -71.0850, 14)
    assert (_pixels(tiles.tile(14, x, y)).max(axis=1) < 90).sum() == 0  # no names zoomed out
    assert short_name("Commonwealth Avenue") == "Commonwealth Ave"
    assert short_name("Avenue") == "Avenue"


def test_tiles_outside_the_zooms_or_the_world_are_refused(tiles: StreetTiles) -> None:
    with pytest.raises(ValueError, match="z: 3"):
        tiles.tile(3, 0, 0)
    with pytest.raises(ValueError, match="not a tile"):
        tiles.tile(12, 5000, 0)
