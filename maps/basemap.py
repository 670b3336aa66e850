"""A street base map drawn from the city's own OSM extract: map tiles that need no network.

The streets are the router's (:class:`routing.engine.graph.StreetGraph`: the same lines crews drive),
drawn as 256-pixel PNG tiles in the Web Mercator scheme every Leaflet map uses
(``/tiles/streets/{z}/{x}/{y}.png``), with street names along the longer streets from zoom 16.
Tiles are drawn on first request with Pillow and kept (:class:`StreetTiles`); a tile with no
street is the plain background. Online OpenStreetMap tiles stay an optional layer of the pages.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from PIL import Image, ImageDraw, ImageFont

__all__ = [
    "BACKGROUND",
    "MAX_ZOOM",
    "MIN_ZOOM",
    "TILE_SIZE",
    "StreetTiles",
    "short_name",
    "street_kind",
    "street_widths",
    "world_xy",
]

TILE_SIZE = 256
MIN_ZOOM, MAX_ZOOM = 10, 19
BACKGROUND = (242, 239, 233)
CASING = (176, 170, 160)
LABEL_ZOOM = 16
# Drawn width (pixels at zoom 16) of a street by its OSM class; halved per zoom level out.
_WIDTHS = {
    "motorway": 9.0,
    "trunk": 9.0,
    "primary": 8.0,
    "secondary": 7.0,
    "tertiary": 6.0,
    "residential": 5.0,
    "unclassified": 5.0,
    "living_street": 4.0,
    "service": 3.0,
}
_FILL = {
    "motorway": (233, 144, 160),
    "trunk": (249, 178, 156),
    "primary": (252, 214, 164),
    "secondary": (247, 250, 191),
}
_WHITE = (255, 255, 255)


def world_xy(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Return Web Mercator "world" coordinates (0..256 at zoom 0) of points in degrees."""
    lat = np.clip(lat, -85.05112878, 85.05112878)
    x = (lon + 180.0) / 360.0 * TILE_SIZE
    s = np.sin(np.radians(lat))
    y = (0.5 - np.log((1 + s) / (1 - s)) / (4 * math.pi)) * TILE_SIZE
    return np.column_stack([x, y])


@dataclass(frozen=True)
class _Street:
    """One street piece in world coordinates, its name and drawing class."""

    xy: np.ndarray
    name: str
    kind: str


_SHORT = {"Street": "St", "Avenue": "Ave", "Road": "Rd", "Boulevard": "Blvd", "Place": "Pl",
          "Square": "Sq", "Terrace": "Ter", "Drive": "Dr", "Court": "Ct", "Parkway": "Pkwy"}  # fmt: skip


def short_name(name: str) -> str:
    """Return a street name with its last word abbreviated as on street maps (Avenue: Ave)."""
    head, _, last = name.rpartition(" ")
    return f"{head} {_SHORT[last]}" if head and last in _SHORT else name


def street_kind(highway: str) -> str:
    """Return the drawing class of an OSM ``highway`` value (``primary_link``: ``primary``)."""
    first = highway.split(",")[0].strip("[]' ").removesuffix("_link")
    return first if first in _WIDTHS else "service"


def street_widths() -> tuple[dict[str, float], dict[str, str]]:
    """Return each drawing class's width (pixels at zoom 16) and fill colour (``#rrggbb``).

    The tiles' own style, for maps that draw the same streets as vector lines
    (:mod:`maps.streetlayer`); a class with no fill colour is white.
    """
    fills = {kind: "#{:02x}{:02x}{:02x}".format(*rgb) for kind, rgb in _FILL.items()}
    return dict(_WIDTHS), fills


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


class StreetTiles:
    """Draws and keeps the street tiles of a set of street lines.

    Parameters
    ----------
    lines
        Street lines in EPSG:4326 (shapely LineStrings, lon/lat).
    names, highways
        Each line's street name (``""`` if unnamed) and OSM class.
    keep
        Most tiles kept in memory (least recently used dropped first).
    """

    def __init__(
        self,
        lines: Sequence[shapely.LineString],
        names: Sequence[str],
        highways: Sequence[str],
        *,
        keep: int = 2048,
    ) -> None:
        self.streets: list[_Street] = []
        for line, name, highway in zip(lines, names, highways, strict=True):
            lonlat = shapely.get_coordinates(line)
            if len(lonlat) >= 2:
                self.streets.append(
                    _Street(world_xy(lonlat[:, 0], lonlat[:, 1]), name, street_kind(highway))
                )
        boxes = [shapely.box(*s.xy.min(axis=0), *s.xy.max(axis=0)) for s in self.streets]
        self._tree = shapely.STRtree(boxes)
        self._keep = keep
        self._tiles: OrderedDict[tuple[int, int, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.blank = _png(Image.new("RGB", (TILE_SIZE, TILE_SIZE), BACKGROUND))
        self._font = ImageFont.load_default(size=12)

    @classmethod
    def from_graph(cls, graph: object) -> StreetTiles:
        """Return the tiles of a :class:`routing.engine.graph.StreetGraph` (each two-way street once)."""
        reverse = np.asarray(graph.edge_reverse)  # type: ignore[attr-defined]
        keep = np.flatnonzero((reverse < 0) | (np.arange(len(reverse)) < reverse))
        geometry = graph.edge_geometry  # type: ignore[attr-defined]
        names, highways = graph.edge_name, graph.edge_highway  # type: ignore[attr-defined]
        return cls(
            [geometry[i] for i in keep],
            [names[i] for i in keep],
            [str(highways[i]) for i in keep],
        )

    def tile(self, z: int, x: int, y: int) -> bytes:
        """Return the PNG of tile ``z/x/y`` (drawn on first request, then kept).

        Raises
        ------
        ValueError
            Naming ``z``, ``x`` or ``y`` when the tile does not exist at that zoom.
        """
        if not MIN_ZOOM <= z <= MAX_ZOOM:
            raise ValueError(f"z: {z} is outside {MIN_ZOOM}..{MAX_ZOOM}; zoom the map in or out")
        if not (0 <= x < 2**z and 0 <= y < 2**z):
            raise ValueError(f"x, y: ({x}, {y}) is not a tile at zoom {z}")
        key = (z, x, y)
        with self._lock:
            if key in self._tiles:
                self._tiles.move_to_end(key)
                return self._tiles[key]
        png = self._draw(z, x, y)
        with self._lock:
            self._tiles[key] = png
            while len(self._tiles) > self._keep:
                self._tiles.popitem(last=False)
        return png

    def _streets_in(self, z: int, x: int, y: int, margin: float) -> list[_Street]:
        size = TILE_SIZE / 2**z
        box = shapely.box(x * size - margin, y * size - margin, (x + 1) * size + margin,
                          (y + 1) * size + margin)  # fmt: skip
        return [self.streets[i] for i in sorted(self._tree.query(box))]

    def _draw(self, z: int, x: int, y: int) -> bytes:
        scale = 2**z
        streets = self._streets_in(z, x, y, margin=12.0 / scale)
        if not streets:
            return self.blank
        image = Image.new("RGB", (TILE_SIZE, TILE_SIZE), BACKGROUND)
        draw = ImageDraw.Draw(image)
        origin = np.array([x * TILE_SIZE, y * TILE_SIZE], dtype=float)
        pixels = [(s, s.xy * scale - origin) for s in streets]
        zoom_factor = 2.0 ** (z - LABEL_ZOOM)
        for casing in (True, False):
            for street, xy in sorted(pixels, key=lambda p: _WIDTHS[p[0].kind]):
                width = max(1.0, _WIDTHS[street.kind] * zoom_factor)
                points = [tuple(p) for p in xy.tolist()]
                if casing:
                    draw.line(points, fill=CASING, width=round(width + 2), joint="curve")
                else:
                    draw.line(points, fill=_FILL.get(street.kind, _WHITE), width=round(width),
                              joint="curve")  # fmt: skip
        if z >= LABEL_ZOOM:
            self._labels(image, pixels)
        return _png(image)

    def _labels(self, image: Image.Image, pixels: list[tuple[_Street, np.ndarray]]) -> None:
        """Write each named street's name along its longest straight run inside the tile."""
        by_name: dict[str, list[np.ndarray]] = {}
        for street, xy in pixels:
            if street.name:
                by_name.setdefault(street.name, []).append(xy)
        placed: list[tuple[float, float, float, float]] = []
        for name, lines in sorted(by_name.items(), key=lambda kv: -len(kv[1])):
            run = _longest_run(lines)
            if run is not None:
                self._place(image, short_name(name), run, placed)

    def _place(
        self,
        image: Image.Image,
        name: str,
        run: tuple[np.ndarray, np.ndarray],
        placed: list[tuple[float, float, float, float]],
    ) -> None:
        a, b = run
        text_w = self._font.getlength(name)
        if float(np.hypot(*(b - a))) < text_w + 8:
            return
        mid = (a + b) / 2
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        hx = abs(math.cos(angle)) * text_w / 2 + abs(math.sin(angle)) * 9 + 2
        hy = abs(math.sin(angle)) * text_w / 2 + abs(math.cos(angle)) * 9 + 2
        box = (mid[0] - hx, mid[1] - hy, mid[0] + hx, mid[1] + hy)
        inside = box[0] >= 0 and box[1] >= 0 and box[2] <= TILE_SIZE and box[3] <= TILE_SIZE
        if inside and not any(_overlap(box, other) for other in placed):
            placed.append(box)
            self._write(image, name, mid, math.degrees(angle))

    def _write(self, image: Image.Image, text: str, mid: np.ndarray, angle: float) -> None:
        if angle > 90:
            angle -= 180
        elif angle < -90:
            angle += 180
        width = int(self._font.getlength(text)) + 6
        label = Image.new("RGBA", (width, 18), (0, 0, 0, 0))
        ImageDraw.Draw(label).text(
            (3, 2), text, font=self._font, fill=(40, 40, 40, 255), stroke_width=2,
            stroke_fill=(255, 255, 255, 230),
        )  # fmt: skip
        turned = label.rotate(-angle, expand=True, resample=Image.Resampling.BICUBIC)
        corner = (int(mid[0] - turned.width / 2), int(mid[1] - turned.height / 2))
        image.paste(turned, corner, turned)


_TILE_BOX = shapely.box(0, 0, TILE_SIZE, TILE_SIZE)


def _longest_run(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the ends of the longest straight run of one street's lines inside the tile.

    The street's pieces are joined, clipped to the tile and simplified (a street drawn with
    many vertices along a straight line becomes one long segment).
    """
    merged = shapely.line_merge(shapely.MultiLineString([shapely.LineString(xy) for xy in lines]))
    clipped = shapely.simplify(shapely.intersection(merged, _TILE_BOX), 1.5)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for part in shapely.get_parts(clipped):
        if part.geom_type != "LineString" or part.is_empty:
            continue
        xy = shapely.get_coordinates(part)
        for a, b in zip(xy[:-1], xy[1:], strict=True):
            length = float(np.hypot(*(b - a)))
            if best is None or length > best[0]:
                best = (length, a, b)
    return None if best is None else (best[1], best[2])


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return not (a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1])
