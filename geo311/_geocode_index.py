"""Build (and cache) the geocoder's index from the OSM extracts.

Everything metric is in EPSG:26986 (NAD83 / Massachusetts Mainland, metres). The index is a
plain picklable object of numpy arrays and shapely geometries; it is cached under a folder
keyed by the data files' paths, sizes and modification times.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiLineString, Point
from shapely.geometry.base import BaseGeometry

from geo311._address import street_key
from geo311.errors import InputError

METRIC_CRS = "EPSG:26986"
INDEX_VERSION = 6


@dataclass
class StreetNumbers:
    """Known house numbers on one street, one sorted array per parity (0 even, 1 odd)."""

    nums: dict[int, np.ndarray] = field(default_factory=dict)
    xy: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass
class Street:
    """One named street of the extract (edges of the drive graph and/or address points)."""

    key: str
    name: str
    geom: BaseGeometry | None
    middle: tuple[float, float]
    leaves_extract: bool
    numbers: StreetNumbers
    exact: dict[int, tuple[float, float, str]]


@dataclass
class GeocoderIndex:
    """The data the geocoder searches (all coordinates in EPSG:26986 metres)."""

    streets: dict[str, Street]
    intersections: dict[tuple[str, str], np.ndarray]
    edge_geoms: list[BaseGeometry]
    edge_names: list[str]
    addr_xy: np.ndarray
    addr_labels: list[str]
    zip_codes: frozenset[str]
    bounds: tuple[float, float, float, float]
    sources: tuple[str, ...]


_NUM = re.compile(r"\d+")


def _names(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str) and v]
    if isinstance(value, str) and value:
        return [value]
    return []


def _house_numbers(text: str) -> list[int]:
    nums = [int(n) for n in _NUM.findall(text)[:2]]
    return [n for n in nums if n > 0]


def build_index(drive_osm: Path, addresses_osm: Path) -> GeocoderIndex:
    """Read the OSM extracts and build the geocoder index (no cache).

    Parameters
    ----------
    drive_osm : Path
        OSM XML (``.osm`` or ``.osm.bz2``) of the drivable streets.
    addresses_osm : Path
        OSM XML of features with ``addr:housenumber``.

    Returns
    -------
    GeocoderIndex
        The index.
    """
    import osmnx as ox

    for label, path in (("drive_osm", drive_osm), ("addresses_osm", addresses_osm)):
        if not Path(path).is_file():
            raise InputError(
                f"{label} {str(path)!r} does not exist; pass the OSM XML extract "
                "(e.g. data/osm/boston_backbay_drive.osm.bz2)",
                field=label,
            )
    graph = ox.graph_from_xml(drive_osm, simplify=True, retain_all=True)
    nodes, edges = ox.graph_to_gdfs(graph)
    if nodes.crs is None:
        raise InputError("the drive graph has no CRS; expected EPSG:4326", field="drive_osm")
    nodes = nodes.to_crs(METRIC_CRS)
    edges = edges.to_crs(METRIC_CRS)
    node_xy = {
        int(n): (float(g.x), float(g.y)) for n, g in zip(nodes.index, nodes.geometry, strict=True)
    }
    minx, miny, maxx, maxy = (float(v) for v in nodes.total_bounds)

    edge_geoms: list[BaseGeometry] = []
    edge_names: list[str] = []
    street_lines: dict[str, list[BaseGeometry]] = defaultdict(list)
    display: dict[str, str] = {}
    node_streets: dict[int, set[str]] = defaultdict(set)
    street_nodes: dict[str, set[int]] = defaultdict(set)
    undirected_graph = graph.to_undirected(as_view=True)
    # The extract is clipped: a street that ends in a dead end may continue outside it.
    dead_ends = {int(n) for n in graph.nodes if len(set(undirected_graph.neighbors(n)) - {n}) <= 1}
    seen: set[tuple[int, int, int]] = set()
    for (u, v, k), name, edge_geom in zip(edges.index, edges["name"], edges.geometry, strict=True):
        names = _names(name)
        edge_geoms.append(edge_geom)
        edge_names.append(" / ".join(names))
        undirected = (min(u, v), max(u, v), k)
        for n in names:
            key = street_key(n)
            if not key:
                continue
            display.setdefault(key, n)
            node_streets[int(u)].add(key)
            node_streets[int(v)].add(key)
            street_nodes[key].update((int(u), int(v)))
            if undirected not in seen:
                street_lines[key].append(edge_geom)
        seen.add(undirected)

    intersections_lists: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for node, keys in node_streets.items():
        ordered = sorted(keys)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                intersections_lists[(a, b)].append(node_xy[node])

    # Address points: building centroids (computed in metres) and points.
    feats = ox.features_from_xml(addresses_osm, tags={"addr:housenumber": True})
    if feats.crs is None:
        raise InputError(
            "the address features have no CRS; expected EPSG:4326", field="addresses_osm"
        )
    feats = feats.to_crs(METRIC_CRS)
    cols = {c: feats[c] if c in feats.columns else None for c in ("addr:street", "addr:postcode")}
    zip_codes: set[str] = set()
    per_street: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    exact: dict[str, dict[int, tuple[float, float, str]]] = defaultdict(dict)
    addr_xy: list[tuple[float, float]] = []
    addr_labels: list[str] = []
    streets_col = cols["addr:street"]
    post_col = cols["addr:postcode"]
    for i, (hn, feature) in enumerate(zip(feats["addr:housenumber"], feats.geometry, strict=True)):
        street = streets_col.iat[i] if streets_col is not None else None
        if not isinstance(hn, str) or not isinstance(street, str):
            continue
        if feature is None or feature.is_empty:
            continue
        point = feature if feature.geom_type == "Point" else feature.centroid
        x, y = float(point.x), float(point.y)
        key = street_key(street)
        display.setdefault(key, street)
        label = f"{hn} {street}"
        addr_xy.append((x, y))
        addr_labels.append(label)
        if post_col is not None and isinstance(post_col.iat[i], str):
            zip_codes.add(post_col.iat[i].strip()[:5])
        for number in _house_numbers(hn):
            per_street[key].append((number, x, y))
            exact[key].setdefault(number, (x, y, label))

    streets: dict[str, Street] = {}
    for key in set(street_lines) | set(per_street):
        lines = street_lines.get(key, [])
        geom: BaseGeometry | None = None
        leaves = False
        if lines:
            geom = shapely.line_merge(shapely.union_all(lines))
            if geom.geom_type == "LineString":
                geom = MultiLineString([geom])
            leaves = bool(street_nodes[key] & dead_ends)
            mid = geom.interpolate(geom.project(geom.centroid))
            middle = (float(mid.x), float(mid.y))
        pts = per_street.get(key, [])
        numbers = StreetNumbers()
        if pts:
            # One position per number (the mean when several features carry it).
            by_number: dict[int, list[tuple[float, float]]] = defaultdict(list)
            for num, px, py in pts:
                by_number[num].append((px, py))
            merged = [(num, *np.mean(v, axis=0)) for num, v in sorted(by_number.items())]
            arr = np.array(merged, dtype=float)
            labels = exact.get(key, {})
            exact[key] = {
                int(num): (float(px), float(py), labels[int(num)][2]) for num, px, py in merged
            }
            if geom is None:
                centre = arr[:, 1:].mean(axis=0)
                middle = (float(centre[0]), float(centre[1]))
            for parity in (0, 1):
                sel = arr[arr[:, 0].astype(int) % 2 == parity]
                numbers.nums[parity] = sel[:, 0].astype(np.int64)
                numbers.xy[parity] = sel[:, 1:3].copy()
        streets[key] = Street(
            key=key,
            name=display[key],
            geom=geom,
            middle=middle,
            leaves_extract=leaves,
            numbers=numbers,
            exact=exact.get(key, {}),
        )
    return GeocoderIndex(
        streets=streets,
        intersections={k: np.array(v, dtype=float) for k, v in intersections_lists.items()},
        edge_geoms=edge_geoms,
        edge_names=edge_names,
        addr_xy=np.array(addr_xy, dtype=float).reshape(-1, 2),
        addr_labels=addr_labels,
        zip_codes=frozenset(zip_codes),
        bounds=(minx, miny, maxx, maxy),
        sources=(str(drive_osm), str(addresses_osm)),
    )


def _cache_key(paths: tuple[Path, ...]) -> str:
    h = hashlib.sha1(f"v{INDEX_VERSION}".encode())
    for p in paths:
        st = Path(p).stat()
        h.update(f"|{Path(p).resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def default_cache_dir() -> Path:
    """Return the default cache folder (``$GEO311_CACHE_DIR`` or ``~/.cache/geo311``)."""
    env = os.environ.get("GEO311_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "geo311"


def load_index(drive_osm: Path, addresses_osm: Path, *, cache_dir: Path | None) -> GeocoderIndex:
    """Return the index, read from the cache when the data files are unchanged.

    Parameters
    ----------
    drive_osm, addresses_osm : Path
        The OSM extracts.
    cache_dir : Path or None
        Cache folder; ``None`` builds from scratch without caching.

    Returns
    -------
    GeocoderIndex
        The index.
    """
    if cache_dir is None:
        return build_index(drive_osm, addresses_osm)
    for label, path in (("drive_osm", drive_osm), ("addresses_osm", addresses_osm)):
        if not Path(path).is_file():
            raise InputError(
                f"{label} {str(path)!r} does not exist; pass the OSM XML extract", field=label
            )
    cache_file = (
        Path(cache_dir) / f"geocoder-{_cache_key((Path(drive_osm), Path(addresses_osm)))}.pkl"
    )
    if cache_file.is_file():
        try:
            with cache_file.open("rb") as fh:
                index = pickle.load(fh)
            if isinstance(index, GeocoderIndex):
                return index
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
            pass  # a stale or broken cache is rebuilt below
    index = build_index(drive_osm, addresses_osm)
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache_file)
    except OSError:
        pass  # caching is an optimisation; a read-only folder still works
    return index


def nearest_point_on(geom: BaseGeometry, x: float, y: float) -> tuple[float, float, float]:
    """Return the point of ``geom`` nearest to (x, y) and its distance."""
    p = Point(x, y)
    q = geom.interpolate(geom.project(p)) if geom.geom_type != "MultiLineString" else None
    if q is None:
        best = None
        for part in geom.geoms:  # type: ignore[attr-defined]
            cand = part.interpolate(part.project(p))
            d = cand.distance(p)
            if best is None or d < best[2]:
                best = (float(cand.x), float(cand.y), float(d))
        assert best is not None
        return best
    return float(q.x), float(q.y), float(q.distance(p))
