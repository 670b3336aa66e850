"""The planners' hotspot map: heat map, H3 hexagon counts per period, Getis-Ord Gi* hot spots.

City-wide over every stored request with a real location.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import branca.colormap as cm
import folium
import h3
import numpy as np
import pandas as pd
from folium.plugins import HeatMap, HeatMapWithTime

from geo311.city.catalogue import Catalogue
from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.requests import repo as request_repo
from maps.base import Legend, base_map

FRAME_COLUMNS = ("service_request_id", "service_code", "requested_datetime", "lat", "lon")

GI_CLASSES = (
    ("hot_fdr", "Hot spot (FDR 5 %)", "#b2182b"),
    ("hot", "Hot spot (p < 0.05, not FDR)", "#ef8a62"),
    ("ns", "Not significant", "#f7f7f7"),
    ("cold", "Cold spot (p < 0.05, not FDR)", "#67a9cf"),
    ("cold_fdr", "Cold spot (FDR 5 %)", "#2166ac"),
)
"""Gi* classes: key, legend label, colour."""


def located_requests_frame(store: Store) -> pd.DataFrame:
    """Read every stored request with a real location into a DataFrame.

    Parameters
    ----------
    store : Store
        The store.

    Returns
    -------
    pandas.DataFrame
        Columns ``service_request_id, service_code, requested_datetime, lat, lon``; rows
        without a point or on one of the city's placeholders (``data/city.toml``) are left out.
    """
    rows = request_repo.requests_frame_rows(store, list(FRAME_COLUMNS))
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    frame = frame.dropna(subset=["lat", "lon"])
    city = default_city()
    keep = [not city.is_placeholder(a, b) for a, b in zip(frame["lat"], frame["lon"], strict=True)]
    return frame.loc[keep].reset_index(drop=True)


def _check_frame(frame: pd.DataFrame) -> None:
    missing = [c for c in ("service_code", "requested_datetime", "lat", "lon") if c not in frame]
    if missing:
        raise InputError(
            f"requests frame lacks column(s) {', '.join(missing)}; build it with located_requests_frame()",
            field="frame",
        )
    if frame.empty:
        raise InputError("requests frame is empty; import requests first", field="frame")


def hex_counts(frame: pd.DataFrame, *, resolution: int = 8) -> pd.Series:
    """Count requests per H3 cell.

    Parameters
    ----------
    frame : pandas.DataFrame
        Requests with ``lat`` and ``lon``.
    resolution : int, keyword-only
        H3 resolution (8: cells of about 0.74 km²).

    Returns
    -------
    pandas.Series
        Count per cell id, largest first.
    """
    cells = [
        h3.latlng_to_cell(a, b, resolution) for a, b in zip(frame["lat"], frame["lon"], strict=True)
    ]
    return pd.Series(cells, dtype=object).value_counts()


def gi_star_hexagons(counts: pd.Series, *, alpha: float = 0.05) -> pd.DataFrame:
    """Getis-Ord Gi* on H3 cells (ring-1 adjacency), with a false-discovery-rate correction.

    The study area is every cell with requests plus their ring-1 neighbours (count 0), so
    every cell has neighbours and empty streets count as low values.

    Parameters
    ----------
    counts : pandas.Series
        Requests per H3 cell (from :func:`hex_counts`).
    alpha : float, keyword-only
        Significance level, also the FDR level (Benjamini-Hochberg via ``esda.fdr``).

    Returns
    -------
    pandas.DataFrame
        Index cell id; columns ``count``, ``z`` (Gi* z-score), ``p`` (two-sided normal
        p-value of z; analytic rather than permutation-based, whose floor of
        ``1 / (permutations + 1)`` would stop any cell passing the FDR cut-off),
        ``gi_class`` (a key of :data:`GI_CLASSES`).
    """
    import esda
    from libpysal.weights import W

    if len(counts) == 0:
        raise InputError("counts is empty; no hexagon to test", field="counts")
    cells = set(counts.index)
    for cell in list(cells):
        cells.update(h3.grid_disk(cell, 1))
    order = sorted(cells)
    position = set(order)
    neighbours = {c: [n for n in h3.grid_disk(c, 1) if n != c and n in position] for c in order}
    w = W(neighbours, silence_warnings=True)
    y = np.array([float(counts.get(c, 0)) for c in order])
    g = esda.G_Local(y, w, star=True, permutations=0, transform="B")
    z = np.asarray(g.Zs, dtype=float)
    p = np.minimum(1.0, 2.0 * np.asarray(g.p_norm, dtype=float))
    threshold = esda.fdr(p, alpha)
    classes = []
    for zi, pi in zip(z, p, strict=True):
        if pi < alpha and zi > 0:
            classes.append("hot_fdr" if pi <= threshold else "hot")
        elif pi < alpha and zi < 0:
            classes.append("cold_fdr" if pi <= threshold else "cold")
        else:
            classes.append("ns")
    return pd.DataFrame({"count": y.astype(int), "z": z, "p": p, "gi_class": classes}, index=order)


def _hex_feature(cell: str, props: dict[str, Any]) -> dict[str, Any]:
    ring = [(lon, lat) for lat, lon in h3.cell_to_boundary(cell)]
    ring.append(ring[0])
    return {
        "type": "Feature",
        "properties": {"cell": cell, **props},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def _class_breaks(values: Sequence[int], k: int = 5) -> list[float]:
    qs = np.unique(np.quantile(np.asarray(values, dtype=float), np.linspace(0, 1, k + 1)))
    if len(qs) < 2:
        qs = np.array([qs[0], qs[0] + 1])
    return [float(x) for x in qs]


def _heat_layers(m: folium.Map, frame: pd.DataFrame, catalogue: Catalogue) -> None:
    # Heat maps: all services, then one (hidden) layer per service as a filter.
    pts = frame[["lat", "lon"]].to_numpy().round(5).tolist()
    HeatMap(pts, name=f"Heat map, all services ({len(pts)})", radius=9, blur=12, show=False).add_to(
        m
    )
    for code, sub in frame.groupby("service_code", sort=True):
        code = str(code)
        name = catalogue.services[code].name if code in catalogue.services else code
        HeatMap(
            sub[["lat", "lon"]].to_numpy().round(5).tolist(),
            name=f"Heat map: {name} ({len(sub)})",
            radius=9,
            blur=12,
            show=False,
        ).add_to(m)


def _count_layers(
    m: folium.Map, frame: pd.DataFrame, local: pd.Series, *, resolution: int, period: str
) -> None:
    # Hexagon counts per period, classed choropleth (quantile classes of the whole range).
    cells = [
        h3.latlng_to_cell(a, b, resolution) for a, b in zip(frame["lat"], frame["lon"], strict=True)
    ]
    work = pd.DataFrame({"cell": cells, "period": local.dt.tz_localize(None).dt.to_period(period)})
    per = work.groupby(["period", "cell"]).size()
    breaks = _class_breaks(per.to_numpy().tolist())
    colormap = cm.StepColormap(
        ["#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"][: len(breaks) - 1],
        index=breaks,
        vmin=breaks[0],
        vmax=breaks[-1],
        caption=f"Requests per H3 hexagon (res {resolution}) per period",
    )
    periods = sorted(per.index.get_level_values(0).unique())
    for i, p in enumerate(periods):
        sub = per.loc[p]
        feats = [_hex_feature(c, {"count": int(n), "period": str(p)}) for c, n in sub.items()]
        folium.GeoJson(
            {"type": "FeatureCollection", "features": feats},
            name=f"Hexagon counts {p}",
            show=i == len(periods) - 1,
            style_function=lambda f: {
                "fillColor": colormap(f["properties"]["count"]),
                "color": "#555",
                "weight": 0.5,
                "fillOpacity": 0.65,
                "className": "g311-hex-count",
            },
            tooltip=folium.GeoJsonTooltip(["period", "count"], aliases=["Period", "Requests"]),
        ).add_to(m)
    colormap.add_to(m)


def _gi_layer(m: folium.Map, gi: pd.DataFrame) -> None:
    # Getis-Ord Gi* classes over all requests.
    colours = {k: c for k, _, c in GI_CLASSES}
    labels = {k: lab for k, lab, _ in GI_CLASSES}
    feats = [
        _hex_feature(
            str(c),
            {
                "count": int(r["count"]),
                "z": round(float(r["z"]), 2),
                "p": round(float(r["p"]), 4),
                "class": labels[r["gi_class"]],
                "key": r["gi_class"],
            },
        )
        for c, r in gi.iterrows()
    ]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": feats},
        name="Gi* hot and cold spots",
        style_function=lambda f: {
            "fillColor": colours[f["properties"]["key"]],
            "color": "#666",
            "weight": 0.4,
            "fillOpacity": 0.1 if f["properties"]["key"] == "ns" else 0.7,
            "className": "g311-hex-gi",
        },
        tooltip=folium.GeoJsonTooltip(
            ["class", "count", "z", "p"], aliases=["Gi*", "Requests", "z", "p"]
        ),
    ).add_to(m)


def _weekly_slider(m: folium.Map, frame: pd.DataFrame, local: pd.Series) -> None:
    week = local.dt.tz_localize(None).dt.to_period("W-SUN")
    weeks = sorted(week.unique())
    by_week = [frame.loc[week == w, ["lat", "lon"]].to_numpy().round(5).tolist() for w in weeks]
    HeatMapWithTime(
        by_week,
        index=[f"week of {w.start_time:%Y-%m-%d}" for w in weeks],
        name="Weekly heat map (time slider)",
        radius=12,
        auto_play=False,
        show=False,
        max_opacity=0.7,
        position="bottomright",
    ).add_to(m)


def hotspots_map(
    frame: pd.DataFrame,
    catalogue: Catalogue,
    *,
    resolution: int = 8,
    period: str = "Q",
    alpha: float = 0.05,
    timezone: str | None = None,
) -> folium.Map:
    """Draw the planners' map: heat maps per service, hexagon counts per period, Gi* hot spots.

    Parameters
    ----------
    frame : pandas.DataFrame
        Requests (see :func:`located_requests_frame`): ``service_code``, ``requested_datetime``
        (timezone-aware), ``lat``, ``lon``.
    catalogue : Catalogue
        Service names and colours.
    resolution : int, keyword-only
        H3 resolution of the hexagons.
    period : str, keyword-only
        Pandas period of the count layers (``Q`` quarters, ``M`` months).
    alpha : float, keyword-only
        Significance and FDR level of the Gi* classes.
    timezone : str, keyword-only, optional
        Time zone the periods and weeks are cut in (default: the city's, ``data/city.toml``).

    Returns
    -------
    folium.Map
        Layers: heat map (all, and one per service), hexagon counts per period (classed
        legend), Gi* hot/cold spots, weekly heat-map time slider.

    Raises
    ------
    InputError
        If the frame lacks columns or rows.
    """
    _check_frame(frame)
    local = pd.to_datetime(frame["requested_datetime"], utc=True).dt.tz_convert(
        timezone or default_city().timezone
    )
    m = base_map(location=(frame["lat"].median(), frame["lon"].median()), zoom_start=12)
    _heat_layers(m, frame, catalogue)
    _count_layers(m, frame, local, resolution=resolution, period=period)
    gi = gi_star_hexagons(hex_counts(frame, resolution=resolution), alpha=alpha)
    _gi_layer(m, gi)
    _weekly_slider(m, frame, local)
    folium.LayerControl(collapsed=True).add_to(m)
    n_hot = int((gi["gi_class"] == "hot_fdr").sum())
    n_cold = int((gi["gi_class"] == "cold_fdr").sum())
    Legend(
        "Getis-Ord Gi* (H3 hexagons)",
        [(c, lab) for _, lab, c in GI_CLASSES],
        extra_html=(
            f"<div>{len(frame)} requests, {len(gi)} hexagons; "
            f"{n_hot} hot, {n_cold} cold after FDR {html.escape(str(alpha))}</div>"
        ),
    ).add_to(m)
    m.fit_bounds(hotspot_bounds(frame, gi), padding=(20, 20))
    return m


def hotspot_bounds(frame: pd.DataFrame, gi: pd.DataFrame) -> list[list[float]]:
    """Return the extent the hotspot map opens on: its hot spots, else most of its requests.

    Parameters
    ----------
    frame : pandas.DataFrame
        The requests (``lat``, ``lon``).
    gi : pandas.DataFrame
        :func:`gi_star_hexagons` of them.

    Returns
    -------
    list of list of float
        ``[[south, west], [north, east]]``: the busiest group of touching hexagons classed
        hot (FDR, else p < alpha; busiest: the most requests); with none, the 2nd to 98th percentile of the requests (a stray far point does not
        zoom the map out to the whole state).
    """
    for keys in (("hot_fdr",), ("hot_fdr", "hot")):
        hot = gi[gi["gi_class"].isin(keys)]
        if len(hot):
            cells = _busiest_cluster(hot["count"])
            corners = [p for c in cells for p in h3.cell_to_boundary(c)]
            lats, lons = [p[0] for p in corners], [p[1] for p in corners]
            return [[min(lats), min(lons)], [max(lats), max(lons)]]
    lat = frame["lat"].quantile([0.02, 0.98]).to_list()
    lon = frame["lon"].quantile([0.02, 0.98]).to_list()
    return [[lat[0], lon[0]], [lat[1], lon[1]]]


def _busiest_cluster(counts: pd.Series) -> list[str]:
    """Return the cells of the group of touching cells with the most requests."""
    left = {str(c): int(n) for c, n in counts.items()}
    best: tuple[int, list[str]] = (-1, [])
    while left:
        seed = next(iter(left))
        group, todo = [seed], [seed]
        total = left.pop(seed)
        while todo:
            for n in h3.grid_disk(todo.pop(), 1):
                if n in left:
                    total += left.pop(n)
                    group.append(n)
                    todo.append(n)
        if total > best[0]:
            best = (total, group)
    return best[1]
