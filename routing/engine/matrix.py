"""Many-to-many travel-time and distance matrices between snapped points, with their paths.

Each origin and destination is a :class:`~routing.engine.graph.Snap` somewhere along an edge. The
search graph is the street graph's CSR matrix plus one virtual node per origin (edges to the
ends it can drive to: the rest of its edge, and for a two-way street the opposite way) and one
per destination (edges from the ends it can be reached from), plus a direct edge when an
origin and a destination lie on the same edge in driving order. One compiled Dijkstra search
per origin (:mod:`routing.engine.matrix_search`, numba, threads over the available CPUs) gives the
exact times and, in the same pass, the length driven along each fastest path; it stops once
every destination is settled. The predecessor tree (kept for small matrices, recomputed for
one origin on demand otherwise) gives the path itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from geo311.errors import InputError, RoutingError
from routing.engine.graph import Snap, StreetGraph
from routing.engine.matrix_search import CsrGraph, search_rows, warm_up, worker_count

__all__ = ["PathEdge", "RoutePath", "TravelTimeMatrix", "travel_time_matrix", "warm_up"]

_NODE_EPS = 1e-9
_KEEP_PREDECESSORS_MAX = 8_000_000  # int32 entries kept after a matrix call (32 MB)
_THREADS_MIN_WORK = 2_000_000  # origins x search nodes from which the search uses all CPUs


@dataclass(frozen=True, slots=True)
class PathEdge:
    """One street edge (or the part of it) driven along a path.

    Attributes
    ----------
    edge : int
        Edge index in the :class:`~routing.engine.graph.StreetGraph`.
    u, v : int
        OSM ids of the edge's start and end nodes; ``key`` is its networkx key.
    name, highway : str
        Street name (``""`` when unnamed) and OSM class.
    start_fraction, end_fraction : float
        The part of the edge driven (0..1 from ``u`` to ``v``); 0 and 1 for a whole edge.
    length_m, travel_time_s : float
        Length and travel time of the part driven.
    coords : list of tuple of float
        ``(lat, lon)`` polyline of the part driven, following the street geometry.
    bearing_start, bearing_end : float
        Compass bearings (degrees) where the part starts and ends, for turn instructions.
    """

    edge: int
    u: int
    v: int
    key: int
    name: str
    highway: str
    start_fraction: float
    end_fraction: float
    length_m: float
    travel_time_s: float
    coords: list[tuple[float, float]]
    bearing_start: float
    bearing_end: float


@dataclass(frozen=True, slots=True)
class RoutePath:
    """The fastest path between two snapped points.

    Attributes
    ----------
    origin, destination : Snap
        The two points.
    nodes : list of int
        OSM ids of the street nodes the path passes, in order: the start node of an edge
        driven from its start and the end node of an edge driven to its end (empty when
        both points lie on one edge between its nodes).
    edges : list of PathEdge
        The (partial) edges driven, in order.
    duration_s, distance_m : float
        Total travel time and length (equal to the matrix entries).
    """

    origin: Snap
    destination: Snap
    nodes: list[int]
    edges: list[PathEdge]
    duration_s: float
    distance_m: float

    @property
    def coords(self) -> list[tuple[float, float]]:
        """Return the whole polyline ``(lat, lon)`` from the origin's street point to the end."""
        out: list[tuple[float, float]] = [(self.origin.snapped_lat, self.origin.snapped_lon)]
        for edge in self.edges:
            for point in edge.coords:
                if point != out[-1]:
                    out.append(point)
        end = (self.destination.snapped_lat, self.destination.snapped_lon)
        if end != out[-1] and not self.edges:
            out.append(end)
        return out


class TravelTimeMatrix:
    """Travel times and distances between snapped origins and destinations.

    Attributes
    ----------
    durations_s : numpy.ndarray
        ``(n_from, n_to)`` fastest travel times in seconds.
    distances_m : numpy.ndarray
        ``(n_from, n_to)`` lengths of those fastest paths in metres.
    snaps_from, snaps_to : list of Snap
        The origins and destinations, in matrix order.
    graph : StreetGraph
        The graph searched.
    """

    def __init__(
        self,
        graph: StreetGraph,
        snaps_from: list[Snap],
        snaps_to: list[Snap],
        durations_s: np.ndarray,
        distances_m: np.ndarray,
        search: _SearchGraph,
        predecessors: dict[int, np.ndarray],
    ) -> None:
        self.graph = graph
        self.snaps_from = snaps_from
        self.snaps_to = snaps_to
        self.durations_s = durations_s
        self.distances_m = distances_m
        self._search = search
        self._pred = predecessors

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_from, n_to)``."""
        return (len(self.snaps_from), len(self.snaps_to))

    def path(self, i: int, j: int) -> RoutePath:
        """Return the fastest path from origin ``i`` to destination ``j``.

        Parameters
        ----------
        i, j
            Row (origin) and column (destination) of the matrix.

        Returns
        -------
        RoutePath
            Nodes, edges with names, lengths and times, and the street polyline.

        Raises
        ------
        InputError
            When ``i`` or ``j`` is out of range.
        RoutingError
            When the destination cannot be reached from the origin.
        """
        n_from, n_to = self.shape
        if not 0 <= i < n_from:
            raise InputError(f"origin index i={i} is outside 0..{n_from - 1}", field="i")
        if not 0 <= j < n_to:
            raise InputError(f"destination index j={j} is outside 0..{n_to - 1}", field="j")
        origin, dest = self.snaps_from[i], self.snaps_to[j]
        if not np.isfinite(self.durations_s[i, j]):
            raise RoutingError(
                f"destination {j} {dest.label!r} cannot be reached from origin {i} "
                f"{origin.label!r} on {self.graph.summary.source}"
            )
        nodes, edges = self._path_edges(self._tree_positions(i, j))
        return RoutePath(
            origin=origin,
            destination=dest,
            nodes=nodes,
            edges=edges,
            duration_s=float(self.durations_s[i, j]),
            distance_m=float(self.distances_m[i, j]),
        )

    def _tree_positions(self, i: int, j: int) -> list[int]:
        """Return the search-CSR positions of the path from origin ``i`` to destination ``j``."""
        pred = self._pred.get(i)
        if pred is None:
            pred = self._search.predecessors([i])[0]
            self._pred[i] = pred
        s = self._search
        source, target = s.n_graph + i, s.n_graph + s.n_from + j
        steps: list[int] = []  # positions in the search CSR, from the target back
        node = target
        while node != source:
            parent = int(pred[node])
            if parent < 0:  # pragma: no cover - guarded by the finite check of path()
                raise RoutingError(f"no path from origin {i} to destination {j}")
            steps.append(s.position(parent, node))
            node = parent
        steps.reverse()
        return steps

    def _path_edges(self, steps: list[int]) -> tuple[list[int], list[PathEdge]]:
        """Return the OSM nodes passed and the street edges (or parts) driven along ``steps``."""
        g, s = self.graph, self._search
        edges: list[PathEdge] = []
        nodes: list[int] = []
        for pos in steps:
            e = int(s.edge[pos])
            f0, f1 = float(s.f0[pos]), float(s.f1[pos])
            if e < 0 or (f1 - f0 <= _NODE_EPS and len(steps) > 1):
                continue  # a zero-length attachment of a point that sits on a node
            u, v = int(g.node_ids[g.edge_u[e]]), int(g.node_ids[g.edge_v[e]])
            if f0 <= _NODE_EPS and (not nodes or nodes[-1] != u):
                nodes.append(u)
            if f1 >= 1.0 - _NODE_EPS:
                nodes.append(v)
            coords = g.edge_coords(e, f0, f1)
            b0, b1 = _bearings(coords) if (f0, f1) != (0.0, 1.0) else g.edge_bearings(e)
            edges.append(
                PathEdge(
                    edge=e,
                    u=u,
                    v=v,
                    key=int(g.edge_key[e]),
                    name=g.edge_name[e],
                    highway=g.edge_highway[e],
                    start_fraction=f0,
                    end_fraction=f1,
                    length_m=float(s.length[pos]),
                    travel_time_s=float(s.csr.data[pos]),
                    coords=coords,
                    bearing_start=b0,
                    bearing_end=b1,
                )
            )
        return nodes, edges


def _bearings(coords: list[tuple[float, float]]) -> tuple[float, float]:
    from routing.engine.graph import bearing

    (a, b), (c, d) = coords[0], coords[1]
    (e, f), (g, h) = coords[-2], coords[-1]
    return bearing(a, b, c, d), bearing(e, f, g, h)


def _virtual_edges(
    graph: StreetGraph, snaps_from: list[Snap], snaps_to: list[Snap]
) -> list[tuple[int, int, float, float, int, float, float]]:
    """Return the edges of the virtual origin and destination nodes.

    Each is ``(row, col, time, length, street edge or -1, from fraction, to fraction)``: from an
    origin to the ends it can drive to, into a destination from the ends it is reached from,
    zero-length attachments of points on a node, and origin -> destination along one edge.
    """
    n, nf = graph.n_nodes, len(snaps_from)
    extra: list[tuple[int, int, float, float, int, float, float]] = []
    t, length = graph.edge_time_s, graph.edge_length_m
    u_of, v_of, rev = graph.edge_u, graph.edge_v, graph.edge_reverse

    def sides(snap: Snap) -> list[tuple[int, float]]:
        out = [(snap.edge, snap.fraction)]
        r = int(rev[snap.edge])
        if r >= 0:
            out.append((r, 1.0 - snap.fraction))
        return out

    for a, snap in enumerate(snaps_from):
        src = n + a
        for e, f in sides(snap):
            extra.append((src, int(v_of[e]), (1 - f) * t[e], (1 - f) * length[e], e, f, 1.0))
        if snap.fraction <= _NODE_EPS:
            extra.append((src, int(u_of[snap.edge]), 0.0, 0.0, -1, 0.0, 0.0))
    on_edge: dict[int, list[tuple[int, float]]] = {}
    for b, snap in enumerate(snaps_to):
        dst = n + nf + b
        for e, f in sides(snap):
            extra.append((int(u_of[e]), dst, f * t[e], f * length[e], e, 0.0, f))
            on_edge.setdefault(e, []).append((dst, f))
        if snap.fraction >= 1.0 - _NODE_EPS:
            extra.append((int(v_of[snap.edge]), dst, 0.0, 0.0, -1, 1.0, 1.0))
    for a, snap in enumerate(snaps_from):
        for e, fa in sides(snap):
            for dst, fb in on_edge.get(e, ()):
                if fb >= fa:
                    extra.append((n + a, dst, (fb - fa) * t[e], (fb - fa) * length[e], e, fa, fb))
    return extra


class _SearchGraph:
    """The street CSR plus virtual origin and destination nodes (private to this module)."""

    def __init__(self, graph: StreetGraph, snaps_from: list[Snap], snaps_to: list[Snap]) -> None:
        n = graph.n_nodes
        nf, nt = len(snaps_from), len(snaps_to)
        self.n_graph, self.n_from, self.n_to = n, nf, nt
        m = n + nf + nt
        base = graph.time_csr
        rows = [np.repeat(np.arange(n, dtype=np.int64), np.diff(base.indptr))]
        cols = [base.indices.astype(np.int64)]
        times = [base.data]
        lengths = [graph.length_csr.data]
        edges = [graph.csr_edge.astype(np.int64)]
        f0s = [np.zeros(base.nnz)]
        f1s = [np.ones(base.nnz)]
        extra = _virtual_edges(graph, snaps_from, snaps_to)
        if extra:
            arr = np.array(extra, dtype=float)
            rows.append(arr[:, 0].astype(np.int64))
            cols.append(arr[:, 1].astype(np.int64))
            times.append(arr[:, 2])
            lengths.append(arr[:, 3])
            edges.append(arr[:, 4].astype(np.int64))
            f0s.append(arr[:, 5])
            f1s.append(arr[:, 6])
        row, col, time = np.concatenate(rows), np.concatenate(cols), np.concatenate(times)
        order = np.lexsort((time, col, row))  # fastest parallel entry first
        row, col = row[order], col[order]
        first = np.ones(row.size, dtype=bool)
        first[1:] = (row[1:] != row[:-1]) | (col[1:] != col[:-1])
        keep = order[first]
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(row[first], minlength=m), out=indptr[1:])
        self.csr = sp.csr_matrix((time[keep], col[first].astype(np.int32), indptr), shape=(m, m))
        self.length = np.concatenate(lengths)[keep]
        self.edge = np.concatenate(edges)[keep]
        self.f0 = np.concatenate(f0s)[keep]
        self.f1 = np.concatenate(f1s)[keep]
        self.m = m
        self._keys = row[first] * m + col[first]  # sorted: row-major, columns ascending
        self._indptr = np.ascontiguousarray(self.csr.indptr, dtype=np.int64)
        self._indices = np.ascontiguousarray(self.csr.indices, dtype=np.int32)
        self._weight = np.ascontiguousarray(self.csr.data, dtype=float)
        self._length = np.ascontiguousarray(self.length, dtype=float)

    def position(self, parent: int, node: int) -> int:
        """Return the index into the CSR data of the entry ``parent -> node``."""
        return int(np.searchsorted(self._keys, parent * self.m + node))

    def predecessors(self, origins: Sequence[int]) -> np.ndarray:
        """Return predecessor rows (one per origin index) of the fastest-path trees."""
        *_, pred = self.solve(np.asarray(origins, dtype=np.int64), keep=True, chunk_size=1)
        assert pred is not None
        return pred

    def solve(
        self, origins: np.ndarray, *, keep: bool, chunk_size: int, workers: int = 1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Return times and path lengths to every destination, and predecessor rows if kept."""
        return search_rows(
            CsrGraph(self._indptr, self._indices, self._weight, self._length),
            np.asarray(origins, dtype=np.int64) + self.n_graph,
            self.n_graph + self.n_from,
            self.n_to,
            keep_predecessors=keep,
            chunk_size=chunk_size,
            workers=workers,
        )


def travel_time_matrix(
    graph: StreetGraph,
    snaps_from: Sequence[Snap],
    snaps_to: Sequence[Snap] | None = None,
    *,
    chunk_size: int = 32,
    workers: int | None = None,
) -> TravelTimeMatrix:
    """Compute many-to-many travel times and distances between snapped points.

    Parameters
    ----------
    graph
        The street graph the points were snapped to.
    snaps_from
        Origins (rows), e.g. from :meth:`StreetGraph.snap_many`.
    snaps_to
        Destinations (columns); default the origins (a square matrix).
    chunk_size
        Origins per batch handed to one search thread (a batch reuses its work arrays).
    workers
        Search threads; default all CPUs this process may use for a large matrix, one for a
        small one. The result does not depend on it.

    Returns
    -------
    TravelTimeMatrix
        ``durations_s`` and ``distances_m`` arrays and :meth:`TravelTimeMatrix.path`.
        Travel starts at the origin's street point in any direction its street allows and
        ends at the destination's, including the partial edges at both ends.

    Raises
    ------
    InputError
        When an item is not a Snap of this graph, or ``chunk_size`` or ``workers`` is not
        positive.
    """
    origins = list(snaps_from)
    targets = origins if snaps_to is None else list(snaps_to)
    if chunk_size < 1:
        raise InputError(f"chunk_size={chunk_size} must be at least 1", field="chunk_size")
    if workers is not None and workers < 1:
        raise InputError(
            f"workers={workers} must be at least 1 (or None for all CPUs)", field="workers"
        )
    for name, items in (("snaps_from", origins), ("snaps_to", targets)):
        for k, item in enumerate(items):
            if not isinstance(item, Snap) or not 0 <= item.edge < graph.n_edges:
                raise InputError(
                    f"{name}[{k}] is {item!r}, not a Snap of this graph; snap points with "
                    "graph.snap_many(lats, lons) first",
                    field=name,
                )
    search = _SearchGraph(graph, origins, targets)
    nf = len(origins)
    keep = nf * search.m <= _KEEP_PREDECESSORS_MAX
    if workers is None:  # small matrices are not worth a thread hand-off
        workers = worker_count() if nf * search.m >= _THREADS_MIN_WORK else 1
    durations, distances, pred = search.solve(
        np.arange(nf, dtype=np.int64), keep=keep, chunk_size=chunk_size, workers=workers
    )
    predecessors: dict[int, np.ndarray] = {}
    if pred is not None:
        predecessors = {i: pred[i] for i in range(nf)}
    return TravelTimeMatrix(graph, origins, targets, durations, distances, search, predecessors)
