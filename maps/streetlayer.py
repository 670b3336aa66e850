"""The city's streets as a vector layer inside a map file: streets with no network, even from disk.

A map written to a file (``geo311 map``, the demo's ``out/*.html``) cannot reach the server's
street tiles (:mod:`maps.basemap`), so it carries its streets: the router's street lines
(:class:`routing.engine.graph.StreetGraph`), clipped to the map's extent, joined per street,
simplified and written as delta-encoded integers (1e-5 degree), drawn on a canvas under the
markers, with street names along the streets from zoom :data:`LABEL_ZOOM`. Online
OpenStreetMap tiles stay a second base layer, off when the page opens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from branca.element import Template
from folium.map import Layer

from geo311.errors import InputError
from maps.basemap import BACKGROUND, LABEL_ZOOM, short_name, street_kind, street_widths

if TYPE_CHECKING:
    from geo311.settings import Settings

__all__ = [
    "LABEL_ZOOM",
    "StreetLayer",
    "StreetLayerData",
    "StreetLines",
    "city_streets",
    "densest_extent",
    "street_layer_data",
]

SCALE = 100_000
"""Coordinates are written as integers of 1/SCALE degree (about 1 m)."""
_M_PER_DEG = 111_320.0
LatLonBounds = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True)
class StreetLines:
    """Street lines in EPSG:4326 (lon, lat) with their names and drawing classes.

    Attributes
    ----------
    lines
        Array of shapely LineStrings.
    names
        Each line's street name (``""`` when unnamed).
    kinds
        Each line's drawing class (:func:`maps.basemap.street_kind`).
    """

    lines: np.ndarray
    names: tuple[str, ...]
    kinds: tuple[str, ...]

    @classmethod
    def from_graph(cls, graph: Any) -> StreetLines:
        """Return the lines of a :class:`routing.engine.graph.StreetGraph`, each two-way street once."""
        reverse = np.asarray(graph.edge_reverse)
        keep = np.flatnonzero((reverse < 0) | (np.arange(len(reverse)) < reverse))
        return cls(
            np.asarray(graph.edge_geometry)[keep],
            tuple(str(graph.edge_name[i] or "") for i in keep),
            tuple(street_kind(str(graph.edge_highway[i])) for i in keep),
        )


def city_streets(settings: Settings | None = None) -> StreetLines:
    """Return the street lines of the city's street graph, the one the router uses.

    Parameters
    ----------
    settings
        Settings whose ``osm_drive_file`` to read; default the default city's.
    """
    from routing.dispatch.build import default_graph  # the graph: loaded once, on use

    return StreetLines.from_graph(default_graph(settings))


@dataclass(frozen=True)
class StreetLayerData:
    """What a map file carries of its streets.

    Attributes
    ----------
    names
        Street names (short form, ``Commonwealth Ave``), indexed by the rows.
    kinds
        Drawing classes, indexed by the rows.
    streets
        One row per line: ``[kind, name, x0, y0, dx1, dy1, ...]``, ``x`` longitude and ``y``
        latitude in 1/:data:`SCALE` degree, each point after the first as the step from the one
        before; ``name`` is -1 for an unnamed street.
    labels
        One row per name label: ``[lat, lon, angle, name]``, ``angle`` in degrees clockwise
        on screen (-90..90), the direction of the street there.
    """

    names: list[str]
    kinds: list[str]
    streets: list[list[int]]
    labels: list[list[float]]

    def to_json(self) -> dict[str, Any]:
        """Return the data as written into the page."""
        return {
            "names": self.names,
            "kinds": self.kinds,
            "streets": self.streets,
            "labels": self.labels,
        }


def _clip_box(bounds: LatLonBounds, margin_m: float) -> shapely.Polygon:
    (s, w), (n, e) = bounds
    if not (s <= n and w <= e):
        raise InputError(
            f"bounds {bounds!r} must be [[south, west], [north, east]] with south <= north",
            field="bounds",
        )
    dlat = margin_m / _M_PER_DEG
    dlon = margin_m / (_M_PER_DEG * math.cos(math.radians((s + n) / 2)))
    return shapely.box(w - dlon, s - dlat, e + dlon, n + dlat)


def _to_metres(lat0: float) -> tuple[Any, Any]:
    k = math.cos(math.radians(lat0))

    def forward(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([xy[:, 0] * k * _M_PER_DEG, xy[:, 1] * _M_PER_DEG])

    def back(xy: np.ndarray) -> np.ndarray:
        return np.column_stack([xy[:, 0] / (k * _M_PER_DEG), xy[:, 1] / _M_PER_DEG])

    return forward, back


def _encode(xy_deg: np.ndarray) -> list[int]:
    ints = np.rint(xy_deg * SCALE).astype(np.int64)
    steps = np.vstack([ints[:1], np.diff(ints, axis=0)])
    keep = np.concatenate([[True], (steps[1:] != 0).any(axis=1)])  # no repeated point
    return [int(v) for v in steps[keep].ravel()]


def _label_rows(
    part_m: shapely.LineString, back: Any, name: int, spacing_m: float
) -> list[list[float]]:
    length = float(part_m.length)
    if length < 60.0:
        return []
    count = max(1, round(length / spacing_m))
    rows = []
    for i in range(count):
        at = length * (i + 0.5) / count
        a = shapely.get_coordinates(part_m.interpolate(max(0.0, at - 12.0)))[0]
        b = shapely.get_coordinates(part_m.interpolate(min(length, at + 12.0)))[0]
        angle = math.degrees(math.atan2(-(b[1] - a[1]), b[0] - a[0]))  # screen y points down
        angle = angle - 180 if angle > 90 else angle + 180 if angle <= -90 else angle
        lon, lat = back(shapely.get_coordinates(part_m.interpolate(at)))[0]
        rows.append([round(float(lat), 6), round(float(lon), 6), round(angle, 1) + 0.0, name])
    return rows


def _groups(streets: StreetLines, box: shapely.Polygon) -> dict[tuple[str, str], list[Any]]:
    hit = np.flatnonzero(shapely.intersects(streets.lines, box))
    clipped = shapely.intersection(streets.lines[hit], box)
    groups: dict[tuple[str, str], list[Any]] = {}
    for i, geom in zip(hit, clipped, strict=True):
        for part in shapely.get_parts(geom):
            if part.geom_type == "LineString" and not part.is_empty:
                groups.setdefault((streets.kinds[i], streets.names[i]), []).append(part)
    return groups


def street_layer_data(
    streets: StreetLines,
    bounds: LatLonBounds,
    *,
    margin_m: float = 400.0,
    tolerance_m: float = 2.0,
    label_spacing_m: float = 400.0,
) -> StreetLayerData:
    """Return the streets of a map's extent, clipped, joined per street and simplified.

    Parameters
    ----------
    streets
        The city's street lines (:func:`city_streets`).
    bounds
        The map's extent ``((south, west), (north, east))`` in degrees.
    margin_m
        Streets are kept this far (metres) around the extent, for a little panning.
    tolerance_m
        Simplification tolerance (metres): a vertex closer than this to the line through its
        neighbours is dropped.
    label_spacing_m
        One name label per this many metres of a named street (at least one per piece of
        60 m or more).

    Raises
    ------
    InputError
        Naming ``bounds`` when south > north or west > east.
    """
    box = _clip_box(bounds, margin_m)
    forward, back = _to_metres((bounds[0][0] + bounds[1][0]) / 2)
    kinds: dict[str, int] = {}
    names: dict[str, int] = {}
    rows: list[list[int]] = []
    labels: list[list[float]] = []
    for (kind, name), parts in sorted(_groups(streets, box).items()):
        merged = shapely.line_merge(shapely.MultiLineString(parts))
        simple = shapely.simplify(shapely.transform(merged, forward), tolerance_m)
        k = kinds.setdefault(kind, len(kinds))
        n = names.setdefault(short_name(name), len(names)) if name else -1
        for part in shapely.get_parts(simple):
            if part.is_empty or part.geom_type != "LineString":
                continue
            rows.append([k, n, *_encode(back(shapely.get_coordinates(part)))])
            if n >= 0:
                labels += _label_rows(part, back, n, label_spacing_m)
    return StreetLayerData(list(names), list(kinds), rows, labels)


_SCRIPT = """
{% macro header(this, kwargs) %}{% if this.data %}
<style>
.leaflet-tooltip.g311-street-name {background:transparent;border:0;box-shadow:none;padding:0;
  margin:0;color:#333;font:12px/1 sans-serif;white-space:nowrap;
  text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;}
.leaflet-tooltip.g311-street-name::before {display:none;}
.g311-street-name span {display:inline-block;}
</style>
{% endif %}{% endmacro %}
{% macro script(this, kwargs) %}{% if this.data %}
var {{ this.get_name() }} = (function (map, data) {
  var WIDTH = {{ this.widths|tojson }}, FILL = {{ this.fills|tojson }};
  if (!map.getPane("g311Streets")) {
    map.createPane("g311Streets").style.zIndex = {{ this.z_index }};
    map.createPane("g311StreetNames").style.zIndex = {{ this.z_index + 140 }};
    map.getPane("g311Streets").style.pointerEvents = "none";
    map.getPane("g311StreetNames").style.pointerEvents = "none";
  }
  var renderer = L.canvas({pane: "g311Streets", padding: 0.5});
  var group = L.layerGroup(), casings = [], fills = [], names = L.layerGroup();
  function points(row) {
    var x = row[2], y = row[3], out = [[y / 1e5, x / 1e5]];
    for (var i = 4; i < row.length; i += 2) { x += row[i]; y += row[i + 1]; out.push([y / 1e5, x / 1e5]); }
    return out;
  }
  var rows = data.streets.slice().sort(function (a, b) {
    return WIDTH[data.kinds[a[0]]] - WIDTH[data.kinds[b[0]]];
  });
  var base = {renderer: renderer, interactive: false, lineCap: "round", lineJoin: "round"};
  rows.forEach(function (row, i) {
    var kind = data.kinds[row[0]], latlngs = points(row);
    var casing = L.polyline(latlngs, L.extend({color: "#b0aaa0", className: "g311-street",
      attribution: i === 0 ? {{ this.attribution|tojson }} : null}, base));
    var fill = L.polyline(latlngs, L.extend({color: FILL[kind] || "#ffffff", className: "g311-street"}, base));
    casing.g311Width = fill.g311Width = WIDTH[kind];
    casings.push(casing); fills.push(fill);
  });
  casings.concat(fills).forEach(function (line) { group.addLayer(line); });
  data.labels.forEach(function (label) {
    var span = document.createElement("span");
    span.textContent = data.names[label[3]];
    span.style.transform = "rotate(" + label[2] + "deg)";
    names.addLayer(L.tooltip({permanent: true, direction: "center", interactive: false,
      className: "g311-street-name", pane: "g311StreetNames"}).setLatLng([label[0], label[1]]).setContent(span));
  });
  function declutter() {
    var taken = [];
    names.eachLayer(function (tip) {
      var el = tip.getElement();
      if (!el) { return; }
      el.style.visibility = "";
      var r = el.firstChild.getBoundingClientRect();
      var clash = taken.some(function (t) {
        return r.left < t.right && t.left < r.right && r.top < t.bottom && t.top < r.bottom;
      });
      if (clash) { el.style.visibility = "hidden"; } else { taken.push(r); }
    });
  }
  function restyle() {
    var z = map.getZoom(), f = Math.pow(2, z - {{ this.label_zoom }});
    // zoomed out, the minor streets (service, living) fade; a casing narrows to one pixel a side
    function style(l, extra) {
      var minor = z < 15 && l.g311Width < 5;
      return {weight: Math.max(1, l.g311Width * f) + extra, opacity: minor ? 0.35 : {{ this.opacity }}};
    }
    casings.forEach(function (l) { l.setStyle(style(l, z < 14 ? 1 : 2)); });
    fills.forEach(function (l) { l.setStyle(style(l, 0)); });
    if (z >= {{ this.label_zoom }}) { group.addLayer(names); declutter(); } else { group.removeLayer(names); }
  }
  var container = map.getContainer(), background = container.style.background;
  group.on("add", function () {
    container.style.background = {{ this.background|tojson }};
    map.on("zoomend", restyle); restyle();
  });
  group.on("remove", function () { container.style.background = background; map.off("zoomend", restyle); });
  return group;
})({{ this._parent.get_name() }}, {{ this.data|tojson }});
{% endif %}{% endmacro %}
"""


class StreetLayer(Layer):
    """A map's street lines and names, drawn offline under the markers (a base layer).

    Parameters
    ----------
    data
        The streets of the map's extent (:func:`street_layer_data`); drawn in their own pane
        (z-index 250: over tiles, under every overlay and marker). Without them (until
        :meth:`set_data`) the layer writes nothing into the page. :func:`maps.base.base_map`
        adds an empty one first, so the layer control, added later, can name it.
    name
        The layer's name in the layer control.
    """

    _template = Template(_SCRIPT)

    def __init__(
        self, data: StreetLayerData | None = None, *, name: str = "Streets (works offline)"
    ) -> None:
        self.z_index, self.opacity = 250, 1.0
        super().__init__(name=name, overlay=False, control=False, show=False)
        self._name = "StreetLayer"
        self.data: dict[str, Any] | None = None
        if data is not None:
            self.set_data(data)
        self.label_zoom = LABEL_ZOOM
        self.widths, self.fills = street_widths()
        self.background = "#{:02x}{:02x}{:02x}".format(*BACKGROUND)
        self.attribution = "Streets &copy; OpenStreetMap contributors, drawn by geo311"

    def set_data(self, data: StreetLayerData, *, over_areas: bool = False) -> None:
        """Carry these streets; the layer is then on when the page opens and in the layer control.

        Parameters
        ----------
        data
            The streets of the map's extent.
        over_areas
            Draw the streets (a little transparent) over the map's filled areas (a hexagon
            choropleth) instead of under every overlay; markers stay on top either way.
        """
        self.data = data.to_json()
        self.show = self.control = True
        self.z_index, self.opacity = (450, 0.7) if over_areas else (250, 1.0)


def densest_extent(
    streets: StreetLines, *, cell_m: float = 400.0, cells: int = 3
) -> LatLonBounds | None:
    """Return the square of ``cells`` x ``cells`` grid cells holding the most street length.

    Where a map of the city opens when nothing else says where (the citizen's report page): the
    densest part of the street network, not the whole service area.

    Parameters
    ----------
    streets
        The city's street lines.
    cell_m
        Side of a grid cell, metres.
    cells
        Side of the square, in cells (smaller when the streets span fewer cells).

    Returns
    -------
    ((south, west), (north, east)) or None
        The square's extent in degrees; ``None`` without any street.
    """
    if len(streets.lines) == 0:
        return None
    lat0 = float(np.mean(shapely.get_coordinates(streets.lines)[:, 1]))
    forward, back = _to_metres(lat0)
    metric = shapely.transform(streets.lines, forward)
    mids = shapely.get_coordinates(shapely.line_interpolate_point(metric, 0.5, normalized=True))
    origin = mids.min(axis=0)
    index = np.floor((mids - origin) / cell_m).astype(int)
    grid = np.zeros(index.max(axis=0) + 1)
    np.add.at(grid, (index[:, 0], index[:, 1]), shapely.length(metric))
    kx, ky = min(cells, grid.shape[0]), min(cells, grid.shape[1])
    windows = np.lib.stride_tricks.sliding_window_view(grid, (kx, ky)).sum(axis=(2, 3))
    i, j = np.unravel_index(int(np.argmax(windows)), windows.shape)
    corners = back(origin + np.array([[i, j], [i + kx, j + ky]], dtype=float) * cell_m)
    return (float(corners[0, 1]), float(corners[0, 0])), (
        float(corners[1, 1]),
        float(corners[1, 0]),
    )
