"""The drivable street graph: loading, travel times, compact arrays and snapping points to edges.

``load_street_graph`` reads the city's OSM street extract (default), an OSM XML file, an
``.osm.pbf`` extract, a GraphML file, or (opt-in, needs a network) an osmnx place query; it
sets a travel time on every edge from ``maxspeed`` or the per-class defaults of
``data/speeds.toml`` (optionally scaled by an hour-of-day congestion factor), keeps the
largest strongly connected component and returns a :class:`StreetGraph`.

A :class:`StreetGraph` keeps the networkx ``MultiDiGraph`` (EPSG:4326 node ``x``/``y``), a
per-edge table (street name, class, length, travel time, geometry) and CSR matrices of the
fastest parallel edge between two nodes, which :mod:`routing.engine.matrix` searches.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import networkx as nx
import numpy as np
import scipy.sparse as sp
import shapely
import shapely.ops
from pyproj import Transformer
from scipy.sparse.csgraph import connected_components
from shapely import LineString

from geo311.errors import InputError, RoutingError
from routing.engine.graph_speeds import (
    SpeedSettings,
    add_travel_times,
    first_text,
    load_speed_settings,
)

__all__ = [
    "GraphOptions",
    "GraphSummary",
    "Snap",
    "SnapError",
    "StreetGraph",
    "bearing",
    "build_street_graph",
    "load_street_graph",
]

DEFAULT_METRIC_CRS = "EPSG:26986"  # NAD83 / Massachusetts Mainland, metres
CACHE_VERSION = 1
SourceKind = Literal["auto", "osm", "pbf", "graphml", "place"]

_NODE_EPS = 1e-9  # a snap this close to an edge end counts as being on the node


class SnapError(RoutingError):
    """A point is farther from every street than the snap limit.

    Attributes
    ----------
    indices : list of int
        Positions (in the input) of the points that could not be snapped.
    distances_m : list of float
        Their distances to the nearest street, in metres.
    """

    def __init__(self, message: str, *, indices: list[int], distances_m: list[float]) -> None:
        super().__init__(message)
        self.indices = indices
        self.distances_m = distances_m


@dataclass(frozen=True, slots=True)
class GraphSummary:
    """What a loaded street graph contains.

    Attributes
    ----------
    source : str
        Where it came from (file path, ``place:<name>`` or ``networkx``).
    nodes, edges, oneway_edges : int
        Counts after the strongly connected restriction (edges are directed).
    dropped_nodes : int
        Nodes outside the largest strongly connected component (removed).
    bbox : tuple of float
        ``(south, west, north, east)`` in degrees.
    load_seconds : float
        Wall time of the load, including travel times and arrays.
    from_cache : bool
        Whether the graph was read from the GraphML cache.
    congestion_hour : int or None
        The hour whose congestion factor scales travel times, if any.
    """

    source: str
    nodes: int
    edges: int
    oneway_edges: int
    dropped_nodes: int
    bbox: tuple[float, float, float, float]
    load_seconds: float
    from_cache: bool
    congestion_hour: int | None

    def lines(self) -> list[str]:
        """Return the summary as printable lines."""
        s, w, n, e = self.bbox
        cache = " (from cache)" if self.from_cache else ""
        hour = "free flow" if self.congestion_hour is None else f"hour {self.congestion_hour}"
        return [
            f"street graph: {self.source}{cache}, loaded in {self.load_seconds:.2f} s",
            f"  nodes {self.nodes:,}  edges {self.edges:,}  one-way edges {self.oneway_edges:,}",
            f"  dropped nodes (outside the largest strongly connected part): "
            f"{self.dropped_nodes:,}",
            f"  bbox lat {s:.4f}..{n:.4f} lon {w:.4f}..{e:.4f}; travel times: {hour}",
        ]


@dataclass(frozen=True, slots=True)
class Snap:
    """A point placed on the nearest street edge.

    Attributes
    ----------
    lat, lon : float
        The input point (EPSG:4326).
    edge : int
        Index of the directed edge in :class:`StreetGraph` (``edge_u[edge]`` -> ``edge_v[edge]``).
        For a two-way street the opposite edge is ``StreetGraph.edge_reverse[edge]``.
    fraction : float
        Position along the edge, 0 at its start node and 1 at its end node.
    distance_m : float
        Distance from the point to the street, in metres.
    snapped_lat, snapped_lon : float
        The point on the street.
    label : str
        The caller's name for the point (used in messages).
    """

    lat: float
    lon: float
    edge: int
    fraction: float
    distance_m: float
    snapped_lat: float
    snapped_lon: float
    label: str = ""


def bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the initial compass bearing from one point to another.

    Parameters
    ----------
    lat1, lon1, lat2, lon2
        The two points, in degrees.

    Returns
    -------
    float
        Degrees clockwise from north, in ``[0, 360)``.
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


class StreetGraph:
    """A drivable, strongly connected street graph with travel times and array forms.

    Build one with :func:`load_street_graph` or :func:`build_street_graph`.

    Attributes
    ----------
    graph : networkx.MultiDiGraph
        Nodes carry ``x``/``y`` (lon/lat); edges carry ``length`` (m), ``travel_time`` (s),
        ``speed_kph``, ``name``, ``highway``, ``oneway`` and often ``geometry``.
    node_ids : numpy.ndarray
        OSM node id of each node index; ``node_index`` maps back.
    node_lat, node_lon : numpy.ndarray
        Node coordinates by index.
    edge_u, edge_v : numpy.ndarray
        Start and end node index of each directed edge; ``edge_key`` is its networkx key.
    edge_length_m, edge_time_s : numpy.ndarray
        Length and travel time of each edge.
    edge_name, edge_highway : list of str
        Street name (``""`` if unnamed) and OSM class of each edge.
    edge_oneway : numpy.ndarray
        Whether the edge is a one-way street.
    edge_reverse : numpy.ndarray
        Index of the opposite edge of a two-way street (same geometry reversed), or -1.
    edge_geometry : numpy.ndarray
        Shapely ``LineString`` of each edge in EPSG:4326, oriented from ``u`` to ``v``.
    edge_geometry_m : numpy.ndarray
        The same lines in the metric CRS (``metric_crs``).
    time_csr, length_csr : scipy.sparse.csr_matrix
        Node-by-node matrices of the fastest parallel edge's travel time and length.
    csr_edge : numpy.ndarray
        Edge index behind each stored value of ``time_csr`` (same order as its ``data``).
    summary : GraphSummary
        Counts, dropped nodes, bbox and load time.
    max_snap_distance_m : float
        Default snap limit.
    """

    def __init__(
        self,
        graph: nx.MultiDiGraph,
        *,
        summary: GraphSummary,
        max_snap_distance_m: float,
        metric_crs: str = DEFAULT_METRIC_CRS,
    ) -> None:
        self.graph = graph
        self.summary = summary
        self.max_snap_distance_m = float(max_snap_distance_m)
        self.metric_crs = metric_crs
        self._to_metric = Transformer.from_crs("EPSG:4326", metric_crs, always_xy=True)
        self._to_wgs84 = Transformer.from_crs(metric_crs, "EPSG:4326", always_xy=True)

        self.node_ids = np.fromiter(graph.nodes, dtype=np.int64, count=len(graph))
        self.node_index: dict[int, int] = {int(n): i for i, n in enumerate(self.node_ids)}
        self.node_lon = np.array([graph.nodes[n]["x"] for n in graph.nodes], dtype=float)
        self.node_lat = np.array([graph.nodes[n]["y"] for n in graph.nodes], dtype=float)
        self._build_edges()
        self._build_csr()
        self._build_twins()
        canonical = np.flatnonzero(
            (self.edge_reverse < 0) | (np.arange(self.n_edges) < self.edge_reverse)
        )
        self._tree_edges = canonical
        self._tree = shapely.STRtree(self.edge_geometry_m[canonical])

    # -- construction -------------------------------------------------------------------
    def _build_edges(self) -> None:
        index = self.node_index
        us, vs, keys, lengths, times = [], [], [], [], []
        names: list[str] = []
        highways: list[str] = []
        oneway: list[bool] = []
        geoms: list[LineString | None] = []
        for u, v, k, d in self.graph.edges(keys=True, data=True):
            us.append(index[u])
            vs.append(index[v])
            keys.append(k)
            lengths.append(float(d["length"]))
            times.append(float(d["travel_time"]))
            names.append(first_text(d.get("name")))
            highways.append(first_text(d.get("highway")))
            oneway.append(_truthy(d.get("oneway")))
            geoms.append(d.get("geometry"))
        self.edge_u = np.array(us, dtype=np.int32)
        self.edge_v = np.array(vs, dtype=np.int32)
        self.edge_key = np.array(keys, dtype=np.int64)
        self.edge_length_m = np.array(lengths, dtype=float)
        self.edge_time_s = np.array(times, dtype=float)
        self.edge_name = names
        self.edge_highway = highways
        self.edge_oneway = np.array(oneway, dtype=bool)
        # straight lines for edges without a geometry, built in bulk
        missing = np.array([g is None for g in geoms], dtype=bool)
        geometry = np.empty(len(geoms), dtype=object)
        geometry[~missing] = [g for g in geoms if g is not None]
        if missing.any():
            mu, mv = self.edge_u[missing], self.edge_v[missing]
            coords = np.stack(
                [
                    np.column_stack([self.node_lon[mu], self.node_lat[mu]]),
                    np.column_stack([self.node_lon[mv], self.node_lat[mv]]),
                ],
                axis=1,
            )
            geometry[missing] = shapely.linestrings(coords)
        # orient every line from u to v
        starts = shapely.get_coordinates(shapely.get_point(geometry, 0))
        flip = (starts[:, 0] - self.node_lon[self.edge_u]) ** 2 + (
            starts[:, 1] - self.node_lat[self.edge_u]
        ) ** 2 > (starts[:, 0] - self.node_lon[self.edge_v]) ** 2 + (
            starts[:, 1] - self.node_lat[self.edge_v]
        ) ** 2
        if flip.any():
            geometry[flip] = shapely.reverse(geometry[flip])
        self.edge_geometry = geometry
        self.edge_geometry_m = shapely.transform(geometry, self._metric_xy)

    def _metric_xy(self, coords: np.ndarray) -> np.ndarray:
        x, y = self._to_metric.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    def _build_csr(self) -> None:
        n = len(self.node_ids)
        # fastest parallel edge per (u, v): sort by u, v, time and keep the first
        order = np.lexsort((self.edge_time_s, self.edge_v, self.edge_u))
        u, v = self.edge_u[order], self.edge_v[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        best = order[first]
        self.csr_edge = best
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.edge_u[best], minlength=n), out=indptr[1:])
        indices = self.edge_v[best].astype(np.int32)
        self.time_csr = sp.csr_matrix((self.edge_time_s[best], indices, indptr), shape=(n, n))
        self.length_csr = sp.csr_matrix((self.edge_length_m[best], indices, indptr), shape=(n, n))

    def _build_twins(self) -> None:
        reverse = np.full(self.n_edges, -1, dtype=np.int64)
        by_uv: dict[tuple[int, int], list[int]] = {}
        for e in range(self.n_edges):
            by_uv.setdefault((int(self.edge_u[e]), int(self.edge_v[e])), []).append(e)
        for e in range(self.n_edges):
            u, v = int(self.edge_u[e]), int(self.edge_v[e])
            if reverse[e] >= 0 or u == v or self.edge_oneway[e]:
                continue
            length = self.edge_length_m[e]
            for f in by_uv.get((v, u), []):
                if reverse[f] < 0 and abs(self.edge_length_m[f] - length) <= 0.5 + 1e-3 * length:
                    reverse[e], reverse[f] = f, e
                    break
        self.edge_reverse = reverse

    # -- basic facts --------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        """Number of directed edges."""
        return len(self.edge_u)

    def __repr__(self) -> str:
        return f"StreetGraph({self.summary.source!r}, nodes={self.n_nodes}, edges={self.n_edges})"

    def edge_coords(
        self, edge: int, start: float = 0.0, end: float = 1.0
    ) -> list[tuple[float, float]]:
        """Return the ``(lat, lon)`` polyline of an edge or of the part between two fractions.

        Parameters
        ----------
        edge
            Edge index.
        start, end
            Fractions along the edge (0 = start node, 1 = end node), ``start <= end``.

        Returns
        -------
        list of tuple of float
            Coordinates following the street geometry.
        """
        if start <= _NODE_EPS and end >= 1.0 - _NODE_EPS:
            xy = shapely.get_coordinates(self.edge_geometry[edge])
            return [(float(y), float(x)) for x, y in xy]
        part = shapely.ops.substring(self.edge_geometry_m[edge], start, end, normalized=True)
        xy = shapely.get_coordinates(part)
        lon, lat = self._to_wgs84.transform(xy[:, 0], xy[:, 1])
        coords = [(float(a), float(b)) for a, b in zip(lat, lon, strict=True)]
        return coords if len(coords) > 1 else coords * 2

    def edge_bearings(self, edge: int) -> tuple[float, float]:
        """Return the compass bearing at the start and at the end of an edge.

        Parameters
        ----------
        edge
            Edge index.

        Returns
        -------
        tuple of float
            ``(bearing leaving the start node, bearing arriving at the end node)``, degrees.
        """
        xy = shapely.get_coordinates(self.edge_geometry[edge])
        (x0, y0), (x1, y1) = xy[0], xy[1]
        (xa, ya), (xb, yb) = xy[-2], xy[-1]
        return bearing(y0, x0, y1, x1), bearing(ya, xa, yb, xb)

    # -- snapping -----------------------------------------------------------------------
    def snap(
        self, lat: float, lon: float, *, max_distance_m: float | None = None, label: str = ""
    ) -> Snap:
        """Snap one point to the nearest street edge.

        Parameters
        ----------
        lat, lon
            The point (EPSG:4326).
        max_distance_m
            Farthest allowed distance to a street (default: ``max_snap_distance_m``).
        label
            A name for the point in messages (e.g. a work-order id).

        Returns
        -------
        Snap
            The edge, the position along it and the snap distance.

        Raises
        ------
        SnapError
            When no street is within ``max_distance_m``.
        """
        return self.snap_many(
            [lat], [lon], max_distance_m=max_distance_m, labels=[label] if label else None
        )[0]

    def snap_many(
        self,
        lats: Sequence[float] | np.ndarray,
        lons: Sequence[float] | np.ndarray,
        *,
        max_distance_m: float | None = None,
        labels: Sequence[str] | None = None,
    ) -> list[Snap]:
        """Snap many points to their nearest street edges at once (STRtree, metric CRS).

        Parameters
        ----------
        lats, lons
            The points (EPSG:4326), same length.
        max_distance_m
            Farthest allowed distance to a street (default: ``max_snap_distance_m``).
        labels
            Names of the points for messages.

        Returns
        -------
        list of Snap
            One per point, in input order.

        Raises
        ------
        SnapError
            When any point is farther than the limit; ``indices`` lists all such points.
        InputError
            When the inputs have different lengths or are not finite numbers.
        """
        lat, lon = self._check_points(lats, lons, labels)
        limit = self.max_snap_distance_m if max_distance_m is None else float(max_distance_m)
        if limit <= 0:
            raise InputError(
                f"max_distance_m={limit} must be positive metres", field="max_distance_m"
            )
        x, y = self._to_metric.transform(lon, lat)
        points = shapely.points(np.column_stack([x, y]))
        found = np.full(lat.size, -1, dtype=np.int64)
        dist = np.full(lat.size, np.inf)
        if lat.size:
            (pi, ti), d = self._tree.query_nearest(
                points, max_distance=limit, return_distance=True, all_matches=False
            )
            found[pi] = self._tree_edges[ti]
            dist[pi] = d
        far = np.flatnonzero(found < 0)
        if far.size:
            raise self._snap_error(far, points, lat, lon, labels, limit=limit)
        lines = self.edge_geometry_m[found]
        fraction = np.clip(shapely.line_locate_point(lines, points, normalized=True), 0.0, 1.0)
        on_street = shapely.get_coordinates(
            shapely.line_interpolate_point(lines, fraction, normalized=True)
        )
        s_lon, s_lat = self._to_wgs84.transform(on_street[:, 0], on_street[:, 1])
        return [
            Snap(
                lat=float(lat[i]),
                lon=float(lon[i]),
                edge=int(found[i]),
                fraction=float(fraction[i]),
                distance_m=float(dist[i]),
                snapped_lat=float(s_lat[i]),
                snapped_lon=float(s_lon[i]),
                label=labels[i] if labels is not None else "",
            )
            for i in range(lat.size)
        ]

    def _check_points(
        self,
        lats: Sequence[float] | np.ndarray,
        lons: Sequence[float] | np.ndarray,
        labels: Sequence[str] | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the points as float arrays: one lat, lon (and label) each, all finite."""
        lat = np.asarray(lats, dtype=float).ravel()
        lon = np.asarray(lons, dtype=float).ravel()
        if lat.shape != lon.shape:
            raise InputError(
                f"lats has {lat.size} values but lons has {lon.size}; pass one of each per point",
                field="lons",
            )
        if labels is not None and len(labels) != lat.size:
            raise InputError(
                f"labels has {len(labels)} values for {lat.size} points", field="labels"
            )
        bad = np.flatnonzero(~(np.isfinite(lat) & np.isfinite(lon)))
        if bad.size:
            i = int(bad[0])
            raise InputError(
                f"point {self._name(i, labels)} has no valid coordinates ({lat[i]}, {lon[i]}); "
                "geocode it before routing",
                field="lat",
            )
        return lat, lon

    def _snap_error(
        self,
        far: np.ndarray,
        points: Any,
        lat: np.ndarray,
        lon: np.ndarray,
        labels: Sequence[str] | None,
        *,
        limit: float,
    ) -> SnapError:
        """Return the error naming the points beyond ``limit`` and their distance to a street."""
        far_points = np.asarray(points)[far]
        (pi, _), d = self._tree.query_nearest(far_points, return_distance=True, all_matches=False)
        far_d = np.full(far.size, np.inf)
        far_d[pi] = d
        names = ", ".join(
            f"{self._name(int(i), labels)} ({lat[i]:.6f}, {lon[i]:.6f}) at {dd:,.0f} m"
            for i, dd in zip(far[:5], far_d[:5], strict=False)
        )
        more = f" and {far.size - 5} more" if far.size > 5 else ""
        return SnapError(
            f"{far.size} point(s) farther than max_distance_m={limit:g} m from any street "
            f"of {self.summary.source}: {names}{more}; check the coordinates or raise "
            "max_distance_m",
            indices=[int(i) for i in far],
            distances_m=[float(v) for v in far_d],
        )

    def snap_to_node(self, node: int, *, label: str = "") -> Snap:
        """Return a snap exactly at a graph node (e.g. a depot placed on an intersection).

        Parameters
        ----------
        node
            OSM node id.
        label
            A name for the point in messages.

        Returns
        -------
        Snap
            A zero-distance snap at the start of one of the node's outgoing edges.
        """
        if node not in self.node_index:
            raise InputError(
                f"node {node} is not in the street graph {self.summary.source} (it may have "
                "been dropped outside the largest strongly connected component)",
                field="node",
            )
        i = self.node_index[node]
        edge = int(np.flatnonzero(self.edge_u == i)[0])
        lat, lon = float(self.node_lat[i]), float(self.node_lon[i])
        return Snap(lat, lon, edge, 0.0, 0.0, lat, lon, label)

    @staticmethod
    def _name(i: int, labels: Sequence[str] | None) -> str:
        return f"{i} {labels[i]!r}" if labels is not None and labels[i] else f"#{i}"


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "-1")
    return bool(value)


@dataclass(frozen=True, kw_only=True)
class GraphOptions:
    """How a street graph gets its travel times and snaps points.

    Parameters
    ----------
    speeds : SpeedSettings, optional
        Speed settings; default read from ``speeds_file`` (``data/speeds.toml``).
    speeds_file : str or Path, optional
        Alternative speeds file.
    congestion_hour : int, optional
        Local hour 0..23 whose congestion factor scales every travel time.
    max_snap_distance_m : float, optional
        Default snap limit (default from the speeds file).
    metric_crs : str
        Projected CRS in metres for snapping (default EPSG:26986, Massachusetts).
    """

    speeds: SpeedSettings | None = None
    speeds_file: str | Path | None = None
    congestion_hour: int | None = None
    max_snap_distance_m: float | None = None
    metric_crs: str = DEFAULT_METRIC_CRS


def build_street_graph(
    graph: nx.MultiDiGraph,
    options: GraphOptions | None = None,
    *,
    source: str = "networkx",
    from_cache: bool = False,
    started: float | None = None,
) -> StreetGraph:
    """Turn a networkx street graph into a :class:`StreetGraph`.

    Sets travel times, keeps the largest strongly connected component and builds the arrays.
    The input graph is copied, not changed.

    Parameters
    ----------
    graph
        Nodes with ``x``/``y`` in EPSG:4326; edges with ``length`` (m) and optionally
        ``maxspeed``, ``highway``, ``name``, ``oneway``, ``geometry``.
    options
        Speeds, congestion hour, snap limit and metric CRS (:class:`GraphOptions`; its
        defaults when omitted).
    source
        Where the graph came from (for the summary and messages).
    from_cache
        Recorded in the summary.
    started
        ``time.perf_counter()`` at the start of the load, for the summary.

    Returns
    -------
    StreetGraph
        The routable graph.
    """
    t0 = time.perf_counter() if started is None else started
    opts = options or GraphOptions()
    congestion_hour, max_snap_distance_m = opts.congestion_hour, opts.max_snap_distance_m
    metric_crs = opts.metric_crs
    settings = opts.speeds or load_speed_settings(opts.speeds_file)
    if len(graph) == 0:
        raise InputError(
            f"street graph from {source} has no nodes; check the source", field="source"
        )
    crs = str(graph.graph.get("crs", "epsg:4326")).lower()
    if crs not in ("epsg:4326", "wgs84"):
        raise InputError(
            f"street graph from {source} is in {crs}; pass an unprojected (EPSG:4326) graph",
            field="crs",
        )
    routable, dropped = _largest_component(graph, source)
    add_travel_times(routable, settings, congestion_hour=congestion_hour)
    lat = [d["y"] for _, d in routable.nodes(data=True)]
    lon = [d["x"] for _, d in routable.nodes(data=True)]
    oneway = sum(1 for *_, d in routable.edges(data=True) if _truthy(d.get("oneway")))
    # the summary's load time is filled after the arrays are built
    street = StreetGraph(
        routable,
        summary=GraphSummary(
            source=source,
            nodes=routable.number_of_nodes(),
            edges=routable.number_of_edges(),
            oneway_edges=oneway,
            dropped_nodes=dropped,
            bbox=(min(lat), min(lon), max(lat), max(lon)),
            load_seconds=0.0,
            from_cache=from_cache,
            congestion_hour=congestion_hour,
        ),
        max_snap_distance_m=(
            settings.max_snap_distance_m if max_snap_distance_m is None else max_snap_distance_m
        ),
        metric_crs=metric_crs,
    )
    street.summary = replace(street.summary, load_seconds=time.perf_counter() - t0)
    return street


def _largest_component(graph: nx.MultiDiGraph, source: str) -> tuple[nx.MultiDiGraph, int]:
    """Return a copy of the largest strongly connected component and the nodes dropped."""
    nodes = list(graph.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    rows = np.fromiter((index[u] for u, _ in graph.edges()), dtype=np.int64, count=len(graph.edges))
    cols = np.fromiter((index[v] for _, v in graph.edges()), dtype=np.int64, count=len(graph.edges))
    adjacency = sp.csr_matrix(
        (np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(len(nodes), len(nodes))
    )
    _, labels = connected_components(adjacency, directed=True, connection="strong")
    largest = np.argmax(np.bincount(labels))
    keep = [nodes[i] for i in np.flatnonzero(labels == largest)]
    routable: nx.MultiDiGraph = graph.subgraph(keep).copy()
    routable.graph.setdefault("crs", "epsg:4326")
    if routable.number_of_edges() == 0:
        raise InputError(
            f"street graph from {source} has no two nodes that reach each other; it cannot be "
            "routed on",
            field="source",
        )
    return routable, len(nodes) - len(keep)


def load_street_graph(
    source: str | Path | None = None,
    *,
    kind: SourceKind = "auto",
    cache_dir: str | Path | None = None,
    congestion_hour: int | None = None,
    speeds_file: str | Path | None = None,
    max_snap_distance_m: float | None = None,
    metric_crs: str = DEFAULT_METRIC_CRS,
) -> StreetGraph:
    """Load a drivable street graph and make it routable.

    Parameters
    ----------
    source
        An OSM XML file (``.osm``, ``.xml``, optionally ``.bz2``), an ``.osm.pbf`` extract, a
        GraphML file, or with ``kind="place"`` a place name for an osmnx query (network).
        Default: the street extract of the city in use (``Settings.osm_drive_file``).
    kind
        How to read ``source``; ``auto`` decides from the file name. ``place`` is the only
        kind that uses the network and is never chosen automatically.
    cache_dir
        Folder for a GraphML cache of the parsed graph (keyed by the source's path, size and
        modification time, or the place name); the next load reads the cache.
    congestion_hour
        Local hour 0..23; travel times are multiplied by that hour's factor in the speeds file.
    speeds_file
        Speeds settings (default ``data/speeds.toml``).
    max_snap_distance_m
        Default snap limit (default from the speeds file).
    metric_crs
        Projected CRS in metres used for snapping (default EPSG:26986, Massachusetts).

    Returns
    -------
    StreetGraph
        The largest strongly connected component with travel times; ``summary`` says what
        was loaded, how many nodes were dropped and how long it took.

    Raises
    ------
    InputError
        When the source does not exist, its kind is unknown or it holds no streets.
    """
    t0 = time.perf_counter()
    settings = load_speed_settings(speeds_file)
    settings.congestion_factor(congestion_hour)  # validate before the slow part
    kind, label, key = _source_key(source, kind)
    cache_file = None
    if cache_dir is not None and kind != "graphml":
        cache_file = Path(cache_dir) / f"street-graph-{key}.graphml"
    raw, from_cache = _read_graph(kind, label, cache_file)
    return build_street_graph(
        raw,
        GraphOptions(
            speeds=settings,
            congestion_hour=congestion_hour,
            max_snap_distance_m=max_snap_distance_m,
            metric_crs=metric_crs,
        ),
        source=label,
        from_cache=from_cache,
        started=t0,
    )


def _source_key(source: str | Path | None, kind: SourceKind) -> tuple[SourceKind, str, str]:
    """Return the source's kind, its label and its cache key.

    The key hashes the place name, or a file's resolved path, size and modification time.
    """
    if kind == "place":
        if not source:
            raise InputError("kind='place' needs a place name as source", field="source")
        label = f"place:{source}"
        return kind, label, hashlib.sha1(f"{CACHE_VERSION}|{label}".encode()).hexdigest()[:16]
    if source is None:
        from geo311.settings import get_settings

        source = get_settings().osm_drive_file
    path = Path(source)
    if not path.is_file():
        raise InputError(
            f"street graph source {path} does not exist; pass an OSM XML, .osm.pbf or GraphML file",
            field="source",
        )
    kind = _kind_of(path) if kind == "auto" else kind
    stat = path.stat()
    key = hashlib.sha1(
        f"{CACHE_VERSION}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
    ).hexdigest()[:16]
    return kind, str(path), key


def _read_graph(
    kind: SourceKind, label: str, cache_file: Path | None
) -> tuple[nx.MultiDiGraph, bool]:
    """Read the raw graph from the cache or the source (then cache it); say if cached."""
    import osmnx as ox

    if cache_file is not None and cache_file.is_file():
        return ox.load_graphml(cache_file), True
    if kind == "graphml":
        raw = ox.load_graphml(Path(label))
    elif kind == "osm":
        raw = ox.graph_from_xml(Path(label), simplify=True, retain_all=True)
    elif kind == "pbf":
        from routing.engine.graph_pbf import graph_from_osmium

        raw = graph_from_osmium(Path(label))
    elif kind == "place":
        raw = ox.graph_from_place(
            label.removeprefix("place:"), network_type="drive", retain_all=True
        )
    else:
        raise InputError(
            f"kind={kind!r} is not one of auto, osm, pbf, graphml, place", field="kind"
        )
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        ox.save_graphml(raw, tmp)
        tmp.replace(cache_file)
    return raw, False


def _kind_of(path: Path) -> SourceKind:
    name = path.name.lower()
    for suffix in (".bz2", ".gz"):
        name = name.removesuffix(suffix)
    if name.endswith(".graphml"):
        return "graphml"
    if name.endswith(".pbf") or name.endswith(".o5m"):
        return "pbf"
    if name.endswith(".osm") or name.endswith(".xml"):
        return "osm"
    raise InputError(
        f"cannot tell the format of {path}; name it .osm/.osm.bz2, .osm.pbf or .graphml, or "
        "pass kind=",
        field="source",
    )
