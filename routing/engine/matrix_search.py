"""Compiled many-to-many Dijkstra for :mod:`routing.engine.matrix` (private).

One search per origin over a CSR graph (``indptr``/``indices``/``weight``) with a 4-ary heap. While relaxing an edge the search also carries the *length* of the path it
keeps (``length[v] = length[u] + edge_length`` whenever ``u`` becomes ``v``'s predecessor),
so the distance driven along the fastest path comes out of the same pass, with the same
tie-breaking as the predecessor tree used to draw the path. A search stops once every
destination node is settled.

The kernel is compiled with numba (``nogil``), so :func:`search_rows` runs batches of origins
on several threads at once; results do not depend on the number of threads. Compiling it takes
about 5 s; numba caches the machine code on disk (``__pycache__``, or its user cache directory
when that is read-only) and later processes load it (about 0.5 s). :func:`warm_up` compiles it
once at install time (``make`` runs it after ``pip install``) so that the first plan does not.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["search_rows", "thread_work_bytes", "warm_up", "worker_count"]


@numba.njit(cache=True, nogil=True)
def _search_block(  # noqa: PLR0913, PLR0915 - one compiled numba kernel: arrays travel as arguments; a call per block would cost more
    indptr: np.ndarray,
    indices: np.ndarray,
    weight: np.ndarray,
    length: np.ndarray,
    sources: np.ndarray,
    target_start: int,
    out_time: np.ndarray,
    out_length: np.ndarray,
    out_pred: np.ndarray,
    keep_pred: bool,
) -> None:  # pragma: no cover - compiled; exercised through search_rows
    """Fill rows of ``out_time``/``out_length`` (and ``out_pred``) for ``sources``.

    Destination column ``j`` is node ``target_start + j``; unreachable entries stay ``inf``.
    The heap is 4-ary, holds ``(time, node)`` entries and skips stale ones when popped (no
    decrease-key: fewer memory writes than an indexed heap on street graphs; 4-ary is
    shallower than binary, measured faster on the 50k-node grid).
    """
    m = indptr.size - 1
    n_targets = out_time.shape[1]
    dist = np.empty(m)
    dlen = np.empty(m)
    pred = np.empty(m, dtype=np.int32)
    done = np.zeros(m, dtype=np.bool_)
    capacity = indices.size + 1  # at most one push per improving relaxation, plus the source
    heap_key = np.empty(capacity)
    heap_node = np.empty(capacity, dtype=np.int32)
    for row in range(sources.size):
        dist[:] = np.inf
        done[:] = False
        if keep_pred:
            pred[:] = -1
        src = sources[row]
        dist[src] = 0.0
        dlen[src] = 0.0
        heap_key[0] = 0.0
        heap_node[0] = src
        size = 1
        left = n_targets
        while size > 0 and left > 0:
            du = heap_key[0]
            u = heap_node[0]
            size -= 1
            if size > 0:  # move the last entry down from the root
                key = heap_key[size]
                node = heap_node[size]
                i = 0
                while True:
                    c = 4 * i + 1
                    if c >= size:
                        break
                    best = c
                    best_key = heap_key[c]
                    for cc in range(c + 1, min(c + 4, size)):
                        if heap_key[cc] < best_key:
                            best = cc
                            best_key = heap_key[cc]
                    if best_key >= key:
                        break
                    heap_key[i] = best_key
                    heap_node[i] = heap_node[best]
                    i = best
                heap_key[i] = key
                heap_node[i] = node
            if done[u]:
                continue  # a stale entry: u was settled with a shorter time
            done[u] = True
            if u >= target_start:
                left -= 1
            lu = dlen[u]
            for e in range(indptr[u], indptr[u + 1]):
                v = indices[e]
                nd = du + weight[e]
                if nd < dist[v]:
                    dist[v] = nd
                    dlen[v] = lu + length[e]
                    if keep_pred:
                        pred[v] = u
                    i = size
                    size += 1
                    while i > 0:
                        p = (i - 1) >> 2
                        if heap_key[p] <= nd:
                            break
                        heap_key[i] = heap_key[p]
                        heap_node[i] = heap_node[p]
                        i = p
                    heap_key[i] = nd
                    heap_node[i] = v
        for j in range(n_targets):
            t = target_start + j
            if done[t]:
                out_time[row, j] = dist[t]
                out_length[row, j] = dlen[t]
            else:
                out_time[row, j] = np.inf
                out_length[row, j] = np.inf
        if keep_pred:
            out_pred[row, :] = pred


def thread_work_bytes(n_nodes: int, n_edges: int) -> int:
    """Return the bytes of work arrays one search thread allocates (heap, times, lengths ...).

    Parameters
    ----------
    n_nodes, n_edges
        Nodes and stored edges of the searched CSR graph.

    Returns
    -------
    int
        ``8 + 8 + 4 + 1`` bytes per node and ``8 + 4`` per heap slot (one per edge).
    """
    return n_nodes * 21 + (n_edges + 1) * 12


def worker_count() -> int:
    """Return the number of threads used for a large matrix (the CPUs this process may use)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class CsrGraph:
    """A search graph in CSR form: travel times and lengths of its edges.

    Parameters
    ----------
    indptr : numpy.ndarray
        ``int64`` row pointers (one row per node, plus one).
    indices : numpy.ndarray
        ``int32`` head node of each edge.
    weight : numpy.ndarray
        ``float64`` travel time of each edge, seconds.
    length : numpy.ndarray
        ``float64`` length of each edge, metres.
    """

    indptr: np.ndarray
    indices: np.ndarray
    weight: np.ndarray
    length: np.ndarray


def search_rows(
    graph: CsrGraph,
    sources: np.ndarray,
    target_start: int,
    n_targets: int,
    *,
    keep_predecessors: bool,
    chunk_size: int,
    workers: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return fastest times, their path lengths and optionally the predecessor rows.

    Parameters
    ----------
    graph
        The CSR graph (:class:`CsrGraph`): travel times and lengths.
    sources
        Node index of each origin (one row each).
    target_start, n_targets
        Destinations are the nodes ``target_start .. target_start + n_targets - 1`` (the last
        nodes of the graph, which the search stops on once all are settled).
    keep_predecessors
        Also return the ``(len(sources), m)`` int32 predecessor rows (-1 for none).
    chunk_size
        Origins per task handed to a thread.
    workers
        Threads searching at once.

    Returns
    -------
    tuple
        ``(times, lengths, predecessors or None)``; times and lengths are
        ``(len(sources), n_targets)`` arrays with ``inf`` where a destination is unreachable.
    """
    indptr, indices, weight, length = graph.indptr, graph.indices, graph.weight, graph.length
    k, m = sources.size, indptr.size - 1
    times = np.empty((k, n_targets))
    lengths = np.empty((k, n_targets))
    pred = np.empty((k if keep_predecessors else 0, m), dtype=np.int32)
    src = np.ascontiguousarray(sources, dtype=np.int64)
    blocks = [slice(a, min(a + chunk_size, k)) for a in range(0, k, chunk_size)]

    def run(block: slice) -> None:
        _search_block(
            indptr,
            indices,
            weight,
            length,
            src[block],
            target_start,
            times[block],
            lengths[block],
            pred[block] if keep_predecessors else pred,
            keep_predecessors,
        )

    if workers <= 1 or len(blocks) <= 1:
        for block in blocks:
            run(block)
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(blocks))) as pool:
            for _ in pool.map(run, blocks):
                pass
    return times, lengths, (pred if keep_predecessors else None)


def warm_up() -> None:
    """Compile the search kernel (or load it from numba's disk cache) on a two-node graph.

    The call has the argument types of every real search, so it fills the one cache entry
    that :func:`search_rows` uses.
    """
    indptr = np.array([0, 1, 2], dtype=np.int64)
    indices = np.array([1, 0], dtype=np.int32)
    weight = np.array([1.0, 1.0])
    search_rows(
        CsrGraph(indptr, indices, weight, weight.copy()),
        np.array([0], dtype=np.int64),
        1,
        1,
        keep_predecessors=True,
        chunk_size=1,
        workers=1,
    )
