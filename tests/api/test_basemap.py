"""The app serves the street base map of the city's OSM extract (the pages' offline map)."""

from __future__ import annotations

import io
import math

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from maps.basemap import BACKGROUND


def _tile_of(lat: float, lon: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)


def test_the_app_serves_the_citys_street_tiles(client: TestClient) -> None:
    x, y = _tile_of(42.3505, -71.0810, 16)  # Back Bay: inside the embedded extract
    answer = client.get(f"/tiles/streets/16/{x}/{y}.png")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    assert (_pixels(answer.content) != np.array(BACKGROUND)).any(axis=1).mean() > 0.02
    assert client.get("/tiles/streets/3/0/0.png").status_code == 422
    assert client.get(f"/tiles/streets/12/{2**12}/0.png").status_code == 404


def test_maps_of_the_city_open_on_the_densest_part_of_its_streets(client: TestClient) -> None:
    answer = client.get("/tiles/streets/view.json")
    assert answer.status_code == 200
    (s, w), (n, e) = answer.json()["view"]
    (as_, aw), (an, ae) = answer.json()["area"]
    assert as_ <= s < n <= an and aw <= w < e <= ae
    assert (n - s) < (an - as_) / 5  # a part of the city, not all of it
    assert s < 42.3505 < n and w < -71.0810 < e  # Back Bay, inside the embedded extract
