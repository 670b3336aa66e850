"""Rendered ``GET requests`` pages kept for reuse while the database shows no change.

A page is reused when the database's change marker (:func:`geo311.requests.read.read_state`,
read before the page's rows were) is the same as now and, for the default window that ends
"now", no request was requested in the slices the window has moved by since; or else, when
the digest of the page's rows computed by the database (:func:`~geo311.requests.read.page_digest`)
equals the digest of the rows it was rendered from (a write elsewhere, not on this page).
Otherwise it is built again. So a reused page is byte for byte what building it now would
give; it only saves bringing the rows over and rendering them. Without marker and digest
(SQLite) nothing is reused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.open311.service import OUT_COLUMNS, RequestQuery
from geo311.db.store import Store
from geo311.requests.read import page_digest, page_rows, read_state

Rows = list[tuple[Any, ...]]


@dataclass(frozen=True)
class Page:
    """A rendered page: body, ETag, the query it answers, the marker read before, its digest."""

    body: bytes
    tag: str
    query: RequestQuery
    marker: str | None
    digest: str | None


def moved_spans(old: RequestQuery, new: RequestQuery) -> list[tuple[datetime, datetime]] | None:
    """Return the time slices where two queries' windows differ (None: not the same query).

    Parameters
    ----------
    old, new
        Two queries; they answer alike when they differ at most in their window and no
        request was requested in the slices returned.

    Returns
    -------
    list of (start, end) or None
        Empty when the windows are equal; None when the queries differ otherwise.
    """
    if (old.ids, old.service_codes, old.statuses, old.limit, old.offset) != (
        new.ids,
        new.service_codes,
        new.statuses,
        new.limit,
        new.offset,
    ):
        return None
    spans = []
    for a, b in ((old.start, new.start), (old.end, new.end)):
        if a != b:
            if a is None or b is None:
                return None
            spans.append((min(a, b), max(a, b)))
    return spans


class PageCache:
    """Keep the last rendered page of each list query (``size`` queries at most, LRU).

    Parameters
    ----------
    size
        How many queries' pages are kept.
    """

    def __init__(self, *, size: int = 32) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, Page] = OrderedDict()
        self._lock = threading.Lock()
        self.reused = 0

    def get(
        self,
        key: Hashable,
        store: Store,
        query: RequestQuery,
        render: Callable[[Rows], tuple[bytes, str]],
    ) -> tuple[bytes, str]:
        """Return the page of ``query``: the kept one if it has not changed, else built anew.

        Parameters
        ----------
        key
            The query's identity (format and parameters, without the time of asking).
        store
            Where the rows come from.
        query
            The query as of now.
        render
            Builds the body and ETag from the rows (columns ``OUT_COLUMNS``).

        Returns
        -------
        tuple
            Body and ETag.
        """
        with self._lock:
            old = self._pages.get(key)
        spans = moved_spans(old.query, query) if old is not None else None
        state = read_state(store, spans or ())
        if old is not None and state.marker is not None:
            if spans is not None and state.marker == old.marker and not state.requested_in_spans:
                return self._keep(key, old, query, state.marker)
            if old.digest is not None and page_digest(store, OUT_COLUMNS, query.filters()) == (
                old.digest
            ):
                return self._keep(key, old, query, state.marker)
        rows, digest = page_rows(store, OUT_COLUMNS, query.filters())
        body, tag = render(rows)
        self._put(key, Page(body, tag, query, state.marker, digest))
        return body, tag

    def _keep(
        self, key: Hashable, old: Page, query: RequestQuery, marker: str
    ) -> tuple[bytes, str]:
        self._put(key, Page(old.body, old.tag, query, marker, old.digest))
        with self._lock:
            self.reused += 1
        return old.body, old.tag

    def _put(self, key: Hashable, page: Page) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
