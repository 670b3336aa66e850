"""Shared pieces of the maps: the base map, its streets, legends, the district outline, writing HTML.

Every map starts from :func:`base_map` and is written with :func:`write_map`: their pages load
Leaflet and its plugins from the files geo311 ships (see :mod:`maps.assets`), never a CDN, and
:func:`add_streets` writes the city's streets into them (no tiles needed).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import folium
from branca.element import MacroElement, Template
from folium.map import FitBounds
from folium.plugins import FastMarkerCluster
from folium.template import Template as FoliumTemplate

from geo311.city.profile import default_city
from geo311.errors import InputError
from maps.assets import use_local_assets, write_html
from maps.streetlayer import LatLonBounds, StreetLayer, StreetLines, street_layer_data

OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
ONLINE_NAME = "OpenStreetMap (online)"

# folium loads these by default for Awesome Markers / Bootstrap 3 glyphicons; the geo311
# maps draw their own DivIcons, so the pages do not fetch them.
_UNUSED_JS = {"awesome_markers"}
_UNUSED_CSS = {"glyphicons_css", "awesome_markers_css", "awesome_rotate_css"}

_STYLE = """
{% macro header(this, kwargs) %}
<style>
.g311-pin {width:26px;height:26px;border-radius:50%;border:2px solid #fff;
  box-shadow:0 1px 3px rgba(0,0,0,.5);color:#fff;display:flex;align-items:center;
  justify-content:center;font-size:12px;}
.g311-stop {width:24px;height:24px;border-radius:50%;border:2px solid #fff;color:#fff;
  font:bold 12px/20px sans-serif;text-align:center;box-shadow:0 1px 3px rgba(0,0,0,.6);}
.g311-yard {width:28px;height:28px;border-radius:4px;background:#212529;color:#fff;
  display:flex;align-items:center;justify-content:center;border:2px solid #fff;}
.g311-legend {position:absolute;z-index:9999;background:#fff;padding:8px 10px;
  border-radius:6px;box-shadow:0 1px 5px rgba(0,0,0,.35);font:13px/1.45 sans-serif;
  max-width:300px;}
.g311-legend h4 {font-size:14px;margin:0 0 4px 0;font-weight:bold;}
.g311-legend .sw {display:inline-block;width:14px;height:14px;margin-right:6px;
  vertical-align:-2px;border-radius:3px;border:1px solid #555;}
.g311-badge {display:inline-block;padding:1px 6px;border-radius:8px;color:#fff;
  font-size:11px;font-weight:bold;}
.g311-popup td {padding:0 6px 0 0;vertical-align:top;}
@media (max-width: 600px) {
  .g311-legend {max-width:70vw;max-height:28vh;overflow:auto;font-size:11px;padding:4px 6px;}
  .leaflet-control-layers-expanded {max-height:30vh;overflow:auto;font-size:11px;padding:4px 6px;}
}
</style>
{% endmacro %}
"""


class _Style(MacroElement):
    """The CSS classes the geo311 maps use (pins, stops, legend, badges)."""

    _template = Template(_STYLE)


class Legend(MacroElement):
    """A fixed legend box drawn over the map.

    Parameters
    ----------
    title : str
        Heading of the box.
    rows : sequence of (str, str)
        ``(colour, label)`` pairs, one swatch each; labels are escaped.
    position : str, keyword-only
        ``bottomleft``, ``bottomright``, ``topleft`` or ``topright``.
    extra_html : str, keyword-only
        Trusted HTML appended under the rows (already escaped by the caller).
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" class="g311-legend" style="{{ this.css }}">
        {{ this.body }}
        </div>
        {% endmacro %}
        """
    )

    def __init__(
        self,
        title: str,
        rows: Sequence[tuple[str, str]],
        *,
        position: str = "bottomleft",
        extra_html: str = "",
    ) -> None:
        super().__init__()
        self._name = "Legend"
        positions = {
            "bottomleft": "bottom:28px;left:12px;",
            "bottomright": "bottom:28px;right:12px;",
            "topleft": "top:90px;left:12px;",
            "topright": "top:12px;right:60px;",
        }
        if position not in positions:
            raise InputError(
                f"position {position!r} is unknown; use one of {', '.join(positions)}",
                field="position",
            )
        self.css = positions[position]
        parts = [f"<h4>{html.escape(title)}</h4>"]
        for colour, label in rows:
            parts.append(
                f'<div><span class="sw" style="background:{html.escape(colour)}"></span>'
                f"{html.escape(label)}</div>"
            )
        parts.append(extra_html)
        self.body = "\n".join(parts)


class BulkMarkerCluster(FastMarkerCluster):
    """A FastMarkerCluster that adds all markers in one ``addLayers`` call.

    folium's FastMarkerCluster adds markers one at a time (each insertion re-clusters);
    Leaflet.markercluster's bulk ``addLayers`` is much faster for tens of thousands of rows.
    Rows are not re-validated in Python (the caller builds them from checked floats).

    Parameters
    ----------
    data : list of list
        One row per marker: ``[lat, lon, ...]``; the callback turns a row into a marker.
    callback : str
        JavaScript ``function (row) {...}`` returning an ``L.Marker``.
    name : str
        Layer name in the LayerControl.
    show : bool, keyword-only
        Whether the layer is on when the page opens.
    """

    _template = FoliumTemplate(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = (function(){
                var callback = {{ this.callback }};
                var data = {{ this.data|tojson }};
                var cluster = L.markerClusterGroup({{ this.options|tojavascript }});
                var markers = new Array(data.length);
                for (var i = 0; i < data.length; i++) {
                    markers[i] = callback(data[i]);
                }
                cluster.addLayers(markers);
                cluster.addTo({{ this._parent.get_name() }});
                return cluster;
            })();
        {% endmacro %}"""
    )

    def __init__(
        self, data: list[list[Any]], callback: str, name: str, *, show: bool = True
    ) -> None:
        super().__init__([], callback=callback, name=name, show=show)
        self.data = data
        self.callback = callback


def base_map(
    *,
    location: Sequence[float] | None = None,
    zoom_start: int = 15,
    tiles: bool = True,
) -> folium.Map:
    """Return an empty map with OpenStreetMap tiles, their attribution and the geo311 styles.

    It holds an empty street layer (:class:`maps.streetlayer.StreetLayer`): :func:`add_streets`
    fills it with the city's streets and turns the online tiles into an optional layer, off.

    Its page loads the vendored assets (:class:`maps.assets.AssetFigure`): rendered on its
    own (``m.get_root().render()``, as the API does) it links ``/static/vendor/...``;
    :func:`write_map` copies them beside the file.

    Parameters
    ----------
    location : (lat, lon), keyword-only, optional
        Initial centre (default: the centre of the city's service area, ``data/city.toml``).
    zoom_start : int, keyword-only
        Initial zoom level.
    tiles : bool, keyword-only
        Add the OpenStreetMap tile layer (with "© OpenStreetMap contributors").

    Returns
    -------
    folium.Map
        The map, loading only the assets the geo311 maps use.
    """
    if location is None:
        min_lon, min_lat, max_lon, max_lat = default_city().service_area
        location = ((min_lat + max_lat) / 2, (min_lon + max_lon) / 2)
    m = folium.Map(
        location=list(location),
        zoom_start=zoom_start,
        tiles=None,
        control_scale=True,
        maxZoom=19,  # L.map option: markercluster needs it when no tile layer is on
    )
    m.default_js = [(n, u) for n, u in m.default_js if n not in _UNUSED_JS]
    m.default_css = [(n, u) for n, u in m.default_css if n not in _UNUSED_CSS]
    if tiles:
        folium.TileLayer(
            OSM_TILES, attr=OSM_ATTRIBUTION, name=ONLINE_NAME, control=False, max_zoom=19
        ).add_to(m)
    StreetLayer().add_to(m)  # empty until add_streets: the layer control comes after it
    m.add_child(_Style())
    use_local_assets(m)
    return m


def map_extent(m: folium.Map) -> LatLonBounds:
    """Return the extent a map opens on: its ``fit_bounds``, else about 1 km around its centre."""
    # folium keeps a map's elements only in Element._children (no public accessor).
    for child in m._children.values():  # noqa: SLF001
        if isinstance(child, FitBounds):
            (s, w), (n, e) = child.bounds
            return (float(s), float(w)), (float(n), float(e))
    lat, lon = (float(v) for v in m.location)
    return (lat - 0.01, lon - 0.013), (lat + 0.01, lon + 0.013)


def add_streets(
    m: folium.Map,
    streets: StreetLines | None,
    bounds: LatLonBounds | None = None,
    *,
    over_areas: bool = False,
) -> None:
    """Draw the city's streets around ``bounds`` under the markers; online tiles become optional.

    The streets (:class:`maps.streetlayer.StreetLayer`) are written into the page, so the map
    shows them opened from disk with no network. The online OpenStreetMap layer of
    :func:`base_map` stays a second base layer, off when the page opens; a layer control is
    added when the map has none.

    Parameters
    ----------
    m : folium.Map
        A map from :func:`base_map`.
    streets : StreetLines or None
        The city's street lines (:func:`maps.streetlayer.city_streets`); ``None`` leaves the map
        as it is (online tiles on).
    bounds : ((south, west), (north, east)), optional
        The map's extent (default :func:`map_extent`); streets are kept a little beyond it.
    over_areas : bool, keyword-only
        Draw the streets over the map's filled areas (the hotspot hexagons), not under them.
    """
    if streets is None:
        return
    bounds = map_extent(m) if bounds is None else bounds
    # folium keeps a map's layers only in Element._children (no public accessor).
    children = list(m._children.values())  # noqa: SLF001
    layers = [child for child in children if isinstance(child, StreetLayer)]
    if not layers:
        raise InputError("the map has no street layer; draw it with maps.base.base_map", field="m")
    layers[0].set_data(street_layer_data(streets, bounds), over_areas=over_areas)
    for child in children:
        if isinstance(child, folium.TileLayer) and child.tiles == OSM_TILES:
            child.show, child.control = False, True
    if not any(isinstance(child, folium.LayerControl) for child in children):
        folium.LayerControl(collapsed=True).add_to(m)


def add_boundary(m: folium.Map, path: str | Path | None, *, name: str = "District") -> None:
    """Draw a district outline from a GeoJSON file (no fill, not interactive).

    Parameters
    ----------
    m : folium.Map
        The map.
    path : str, Path or None
        GeoJSON file in EPSG:4326; its Polygon/MultiPolygon features are drawn (points,
        e.g. geocoder label points, are skipped); ``None`` draws nothing.
    name : str, keyword-only
        Layer name.

    Raises
    ------
    InputError
        If the file does not exist, is not GeoJSON or has no polygon.
    """
    if path is None:
        return
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"boundary file {path} does not exist; pass boundary=None or a GeoJSON file",
            field="boundary",
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"boundary file {path} is not GeoJSON: {exc}", field="boundary") from None
    features = [
        f
        for f in data.get("features", [data] if data.get("type") == "Feature" else [])
        if (f.get("geometry") or {}).get("type") in ("Polygon", "MultiPolygon")
    ]
    if not features:
        raise InputError(f"boundary file {path} has no Polygon feature", field="boundary")
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=name,
        style_function=lambda _f: {
            "color": "#343a40",
            "weight": 2,
            "dashArray": "6 4",
            "fill": False,
            "interactive": False,
        },
        control=True,
    ).add_to(m)


def tooltip(text: str) -> folium.Tooltip:
    """Return a folium tooltip that shows ``text`` as text.

    folium writes a tooltip's text into a JavaScript template literal that Leaflet then sets
    as HTML: the text is HTML-escaped, and the characters that would end the literal or open
    a placeholder in it (backtick, ``$``, backslash) are written as character references.
    """
    escaped = html.escape(text).replace("\\", "&#92;").replace("`", "&#96;").replace("$", "&#36;")
    return folium.Tooltip(escaped)


def fa_class(icon: str) -> str:
    """Return the Font Awesome 6 classes for a catalogue icon name.

    The catalogue uses Font Awesome 4 names; ``xxx-o`` (outlined) becomes the regular style.

    Parameters
    ----------
    icon : str
        Icon name such as ``road`` or ``lightbulb-o``.

    Returns
    -------
    str
        Classes such as ``fa-solid fa-road``.
    """
    if icon.endswith("-o"):
        return f"fa-regular fa-{icon[:-2]}"
    return f"fa-solid fa-{icon}"


def write_map(m: folium.Map, path: str | Path) -> Path:
    """Write a map as an HTML file, with the scripts and styles it loads in ``assets/`` beside it.

    Parameters
    ----------
    m : folium.Map
        The map.
    path : str or Path
        Output file (the folder is created).

    Returns
    -------
    Path
        The written file; it works from ``file://`` with no network (with its streets when
        :func:`add_streets` gave it them).
    """
    return write_html(m, path)
