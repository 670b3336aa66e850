"""Build (and cache) the geocoder's index from a city's OSM extracts.

The streets come from every named ``highway`` way of the streets extract (drivable or not:
service roads, alleys, footways), read by :mod:`geo311.geocoding.osm`; the address points from
the features tagged ``addr:housenumber`` of an optional addresses extract. Metric work is
done in the UTM zone of the extract (derived from the data, e.g. EPSG:32619 for Boston);
the index stores that CRS. The index is a plain picklable object of numpy arrays and
shapely geometries, cached under a folder keyed by the data files' paths, sizes and
modification times.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, Point
from shapely.geometry.base import BaseGeometry

from geo311.city.crs import utm_crs
from geo311.errors import InputError
from geo311.geocoding.address import street_key
from geo311.geocoding.osm import OsmAddress, OsmWay, read_address_points, read_ways
from geo311.geocoding.sources import AddressFile, read_address_file

INDEX_VERSION = 13


@dataclass
class StreetNumbers:
    """Known house numbers on one street, one sorted array per parity (0 even, 1 odd)."""

    nums: dict[int, np.ndarray] = field(default_factory=dict)
    xy: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass
class Street:
    """One named street of the extract (its ways and/or its address points)."""

    key: str
    name: str
    geom: BaseGeometry | None
    middle: tuple[float, float]
    leaves_extract: bool
    numbers: StreetNumbers
    exact: dict[int, tuple[float, float, str]]
    # Numbers known from the city's own located reports, not from OSM (see with_known_points).
    reported: frozenset[int] = frozenset()
    # Where the city's own reports of house number 0 ("somewhere on this street") were put.
    zero: tuple[float, float] | None = None
    # The same per ZIP code (a long street crosses several; the city puts "0 X St" per ZIP).
    zip_zero: dict[str, tuple[float, float]] = field(default_factory=dict)
    # Numbers the city reported on the street's continuation outside the extract: (number,
    # x, y) rows. They say which way the numbers grow, nothing about where a house is.
    beyond: np.ndarray = field(default_factory=lambda: np.empty((0, 3)))


@dataclass
class GeocoderIndex:
    """The data the geocoder searches (all coordinates in ``crs`` metres)."""

    streets: dict[str, Street]
    intersections: dict[tuple[str, str], np.ndarray]
    edge_geoms: list[BaseGeometry]
    edge_names: list[str]
    addr_xy: np.ndarray
    addr_labels: list[str]
    zip_codes: frozenset[str]
    bounds: tuple[float, float, float, float]
    sources: tuple[str, ...]
    crs: str


@dataclass
class _Network:
    """The street ways of an extract, grouped by street key (metric coordinates)."""

    lines: dict[str, list[BaseGeometry]] = field(default_factory=lambda: defaultdict(list))
    display: dict[str, str] = field(default_factory=dict)
    node_streets: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    street_nodes: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    node_xy: dict[int, tuple[float, float]] = field(default_factory=dict)
    dead_ends: set[int] = field(default_factory=set)
    edge_geoms: list[BaseGeometry] = field(default_factory=list)
    edge_names: list[str] = field(default_factory=list)
    # A name in another language (its key) -> the key of the street's own name.
    alias_of: dict[str, str] = field(default_factory=dict)


@dataclass
class _AddressPoints:
    """Address points of an extract (metric coordinates), per street key."""

    per_street: dict[str, list[tuple[int, float, float, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    display: dict[str, str] = field(default_factory=dict)
    xy: list[tuple[float, float]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    zip_codes: set[str] = field(default_factory=set)


_NUM = re.compile(r"\d+")


def _house_numbers(text: str) -> list[int]:
    nums = [int(n) for n in _NUM.findall(text)[:2]]
    return [n for n in nums if n > 0]


def _require_file(label: str, path: Path | None) -> None:
    if path is not None and not Path(path).is_file():
        raise InputError(
            f"{label} {str(path)!r} does not exist; pass the OSM extract "
            "(e.g. data/osm/<city>_streets.osm.bz2)",
            field=label,
        )


def _network(ways: list[OsmWay], to_metric: Transformer) -> _Network:
    """Group the ways by street key; find the nodes where streets meet and the dead ends."""
    net = _Network()
    neighbours: dict[int, set[int]] = defaultdict(set)
    for way in ways:
        xs, ys = to_metric.transform(way.lonlat[:, 0], way.lonlat[:, 1])
        coords = np.column_stack([xs, ys])
        line = LineString(coords)
        net.edge_geoms.append(line)
        net.edge_names.append(way.name)
        for i, ref in enumerate(way.refs):
            net.node_xy[ref] = (float(coords[i, 0]), float(coords[i, 1]))
            if i:
                neighbours[ref].add(way.refs[i - 1])
                neighbours[way.refs[i - 1]].add(ref)
        keys = {street_key(n): n for n in way.names}
        if way.name:
            for alias in way.languages:
                net.alias_of.setdefault(street_key(alias), street_key(way.name))
        for key, name in keys.items():
            if not key:
                continue
            net.display.setdefault(key, name)
            net.lines[key].append(line)
            net.street_nodes[key].update(way.refs)
            for ref in way.refs:
                net.node_streets[ref].add(key)
    # The extract is clipped: a street that ends in a dead end may continue outside it.
    net.dead_ends = {n for n, near in neighbours.items() if len(near - {n}) <= 1}
    return net


def address_points_from(features: Iterable[OsmAddress], crs: str) -> _AddressPoints:
    """Group address features (EPSG:4326) by street key, in the index's metric CRS."""
    out = _AddressPoints()
    rows = list(features)
    if not rows:
        return out
    to_metric = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    xs, ys = to_metric.transform(
        np.array([r.lon for r in rows], dtype=float), np.array([r.lat for r in rows], dtype=float)
    )
    for row, x, y in zip(rows, np.atleast_1d(xs), np.atleast_1d(ys), strict=True):
        if not row.number or not row.street or not np.isfinite(x + y):
            continue
        key = street_key(row.street)
        out.display.setdefault(key, row.street)
        label = f"{row.number} {row.street}"
        out.xy.append((float(x), float(y)))
        out.labels.append(label)
        if row.postcode:
            out.zip_codes.add(row.postcode.strip()[:5])
        for number in _house_numbers(row.number):
            out.per_street[key].append((number, float(x), float(y), label))
    return out


def _numbers(
    points: list[tuple[int, float, float, str]],
) -> tuple[StreetNumbers, dict[int, tuple[float, float, str]]]:
    """One position per house number (the mean when several features carry it)."""
    by_number: dict[int, list[tuple[float, float]]] = defaultdict(list)
    labels: dict[int, str] = {}
    for num, px, py, label in points:
        by_number[num].append((px, py))
        labels.setdefault(num, label)
    merged = [(num, *np.mean(v, axis=0)) for num, v in sorted(by_number.items())]
    arr = np.array(merged, dtype=float).reshape(-1, 3)
    exact = {int(num): (float(px), float(py), labels[int(num)]) for num, px, py in merged}
    numbers = StreetNumbers()
    for parity in (0, 1):
        sel = arr[arr[:, 0].astype(int) % 2 == parity]
        numbers.nums[parity] = sel[:, 0].astype(np.int64)
        numbers.xy[parity] = sel[:, 1:3].copy()
    return numbers, exact


def _street(key: str, name: str, net: _Network, addresses: _AddressPoints) -> Street:
    lines = net.lines.get(key, [])
    geom: BaseGeometry | None = None
    leaves = False
    middle = (0.0, 0.0)
    if lines:
        geom = shapely.line_merge(shapely.union_all(lines))
        if geom.geom_type == "LineString":
            geom = MultiLineString([geom])
        leaves = bool(net.street_nodes[key] & net.dead_ends)
        mid = geom.interpolate(geom.project(geom.centroid))
        middle = (float(mid.x), float(mid.y))
    numbers = StreetNumbers()
    exact: dict[int, tuple[float, float, str]] = {}
    pts = addresses.per_street.get(key, [])
    if pts:
        numbers, exact = _numbers(pts)
        if geom is None:
            centre = np.array([(p[1], p[2]) for p in pts]).mean(axis=0)
            middle = (float(centre[0]), float(centre[1]))
    return Street(key, name, geom, middle, leaves, numbers, exact)


def _intersections(net: _Network) -> dict[tuple[str, str], np.ndarray]:
    lists: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for node, keys in net.node_streets.items():
        if len(keys) < 2:
            continue
        ordered = sorted(keys)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                lists[(a, b)].append(net.node_xy[node])
    return {k: np.array(v, dtype=float) for k, v in lists.items()}


def build_index(
    drive_osm: Path,
    addresses_osm: Path | None = None,
    *,
    points: Sequence[OsmAddress] = (),
    sources: Sequence[str] = (),
) -> GeocoderIndex:
    """Read the OSM extracts and build the geocoder index (no cache).

    Parameters
    ----------
    drive_osm
        OSM extract (``.osm``, ``.osm.bz2``, ``.osm.pbf``) of the city's streets (a drivable
        extract or all ``highway`` ways); every named way is indexed, drivable or not.
    addresses_osm
        OSM XML of features with ``addr:housenumber``; ``None`` for a city without address
        points (intersections and street-level matches still work).
    points
        More address points (EPSG:4326) from the city's other address files (see
        :mod:`geo311.geocoding.sources`), indexed like OSM's.
    sources
        Names of those files (kept in the index's ``sources``).

    Returns
    -------
    GeocoderIndex
        The index.
    """
    _require_file("drive_osm", drive_osm)
    _require_file("addresses_osm", addresses_osm)
    ways = read_ways(Path(drive_osm))
    if not ways:
        raise InputError(
            f"drive_osm {str(drive_osm)!r} holds no highway ways; pass the city's streets",
            field="drive_osm",
        )
    lonlat = np.vstack([w.lonlat for w in ways])
    crs = utm_crs(float(np.median(lonlat[:, 0])), float(np.median(lonlat[:, 1])))
    net = _network(ways, Transformer.from_crs("EPSG:4326", crs, always_xy=True))
    features = read_address_points(Path(addresses_osm)) if addresses_osm else []
    addresses = address_points_from([*features, *points], crs)
    display = {**addresses.display, **net.display}
    streets = {
        key: _street(key, display[key], net, addresses)
        for key in set(net.lines) | set(addresses.per_street)
    }
    for alias, key in net.alias_of.items():
        if alias and alias not in streets and key in streets:
            streets[alias] = streets[key]  # "Brunnsgatan" is Kaivokatu, its numbers too
    xy = np.array(list(net.node_xy.values()), dtype=float)
    return GeocoderIndex(
        streets=streets,
        intersections=_intersections(net),
        edge_geoms=net.edge_geoms,
        edge_names=net.edge_names,
        addr_xy=np.array(addresses.xy, dtype=float).reshape(-1, 2),
        addr_labels=addresses.labels,
        zip_codes=frozenset(addresses.zip_codes),
        bounds=(*(float(v) for v in xy.min(axis=0)), *(float(v) for v in xy.max(axis=0))),  # type: ignore[arg-type]
        sources=(*(str(p) for p in (drive_osm, addresses_osm) if p is not None), *sources),
        crs=crs,
    )


def with_known_points(
    index: GeocoderIndex,
    points: Iterable[tuple[str, int, float, float, str]],
    *,
    max_offset_m: float = 100.0,
    beyond_m: float = 1000.0,
) -> GeocoderIndex:
    """Return a copy of the index whose streets also know these house numbers.

    The points are the city's own located reports (their address and the coordinates their
    source gave). A number that an OSM address point carries keeps the OSM point; a report
    farther than ``max_offset_m`` from its street's line is left out (a wrong coordinate);
    several reports of one number are averaged; on a street that goes on outside the
    extract, reports up to ``beyond_m`` from its line are kept apart (``beyond``) as the
    direction the numbers grow in. Number 0 ("somewhere on this street") is
    not a house: its reports give the street's ``zero`` point (their median), where the
    city's own system puts such reports, and one per ZIP code (``zip_zero``).

    Parameters
    ----------
    index
        The OSM index (left unchanged).
    points
        ``(street key, house number, x, y, ZIP code or "")`` in the index's CRS.
    max_offset_m
        How far from the street line a report may lie.
    beyond_m
        How far from the line of a street that leaves the extract a report may lie to say
        which way its numbers grow.

    Returns
    -------
    GeocoderIndex
        A copy sharing the unchanged streets.
    """
    by_key: dict[str, list[tuple[int, float, float, str]]] = defaultdict(list)
    zeros: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    beyond: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    for key, number, x, y, zipcode in points:
        street = index.streets.get(key)
        if street is None or number < 0:
            continue
        off = street.geom.distance(Point(x, y)) if street.geom is not None else 0.0
        if off > max_offset_m:
            if street.leaves_extract and off <= beyond_m and number > 0:
                beyond[key].append((number, x, y))
            continue
        if number == 0:
            zeros[key][zipcode].append((x, y))
        elif number not in street.exact:
            by_key[key].append((number, x, y, f"{number} {street.name}"))
    streets = dict(index.streets)
    for key, extra in by_key.items():
        street = streets[key]
        osm = [(n, px, py, label) for n, (px, py, label) in street.exact.items()]
        numbers, exact = _numbers(osm + extra)
        reported = street.reported | {n for n, *_ in extra}
        streets[key] = dataclasses.replace(
            street, numbers=numbers, exact=exact, reported=frozenset(reported)
        )
    for key, per_zip in zeros.items():
        streets[key] = _with_zeros(streets[key], per_zip)
    for key, rows in beyond.items():
        streets[key] = dataclasses.replace(streets[key], beyond=np.array(rows, dtype=float))
    for key, street in streets.items():
        if street.key != key and street.key in streets:
            streets[key] = streets[street.key]  # a language alias follows its street
    return dataclasses.replace(index, streets=streets)


def _with_zeros(street: Street, per_zip: dict[str, list[tuple[float, float]]]) -> Street:
    """Return the street with the median point of its number-0 reports, overall and per ZIP code."""

    def median(xy: list[tuple[float, float]]) -> tuple[float, float]:
        mx, my = np.median(np.array(xy, dtype=float), axis=0)
        return float(mx), float(my)

    everywhere = [p for xy in per_zip.values() for p in xy]
    zip_zero = {z: median(xy) for z, xy in per_zip.items() if z}
    return dataclasses.replace(street, zero=median(everywhere), zip_zero=zip_zero)


def _cache_key(paths: Iterable[Path]) -> str:
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


def _read_cache(cache_file: Path) -> GeocoderIndex | None:
    if not cache_file.is_file():
        return None
    try:
        with cache_file.open("rb") as fh:
            index = pickle.load(fh)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        return None  # a stale or broken cache is rebuilt
    return index if isinstance(index, GeocoderIndex) else None


def load_index(
    drive_osm: Path,
    addresses_osm: Path | None = None,
    *,
    cache_dir: Path | None,
    address_files: Sequence[AddressFile] = (),
) -> GeocoderIndex:
    """Return the index, read from the cache when the data files are unchanged.

    Parameters
    ----------
    drive_osm, addresses_osm
        The OSM extracts (see :func:`build_index`).
    cache_dir
        Cache folder; ``None`` builds from scratch without caching.
    address_files
        The city's other address files (OpenAddresses, TIGER/Line, its own CSV ...; see
        :mod:`geo311.geocoding.sources`), read only when the index is built.

    Returns
    -------
    GeocoderIndex
        The index.
    """

    def build() -> GeocoderIndex:
        points = [p for spec in address_files for p in read_address_file(spec)]
        names = [str(spec.path) for spec in address_files]
        return build_index(drive_osm, addresses_osm, points=points, sources=names)

    if cache_dir is None:
        return build()
    _require_file("drive_osm", drive_osm)
    _require_file("addresses_osm", addresses_osm)
    for spec in address_files:
        _require_file("address_files", spec.path)
    paths = [Path(p) for p in (drive_osm, addresses_osm) if p is not None]
    paths += [spec.path for spec in address_files]
    cache_file = Path(cache_dir) / f"geocoder-{_cache_key(paths)}.pkl"
    index = _read_cache(cache_file)
    if index is not None:
        return index
    index = build()
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(index, fh, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(cache_file)
    except OSError:
        pass  # caching is an optimisation; a read-only folder still works
    return index
