"""The public performance figures, computed once per data change and served from memory.

Computing a period's figures reads every request (about a second for 100,000); the page, the
CSV and the JSON of a period are rendered once and kept until the data changes. Whether it
changed is asked of the database (:func:`geo311.requests.open_data.data_marker`, one aggregate query)
at most every ``check_every_s`` seconds per process; a change drops every kept rendering. Kept
renderings are also dropped after ``max_age_s`` (a change the marker cannot see, e.g. a row
edited in place by hand, shows within that time). Concurrent requests for a missing rendering
wait for one computation (a lock per key) instead of each computing it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from geo311.db.store import Store
from geo311.requests.open_data import data_marker


class PerformanceCache:
    """Renderings per key (period and format), valid while the requests' data is unchanged.

    Parameters
    ----------
    check_every_s
        Least time between two looks at the data marker.
    max_age_s
        Longest time a rendering is kept, whatever the marker says.
    size
        Most renderings kept (least recently used dropped first).
    """

    def __init__(
        self, *, check_every_s: float = 2.0, max_age_s: float = 600.0, size: int = 64
    ) -> None:
        self.check_every_s = check_every_s
        self.max_age_s = max_age_s
        self.size = size
        self.builds = 0
        self._lock = threading.Lock()
        self._marker: tuple[Any, ...] | None = None
        self._generation = 0  # counts the data changes seen
        self._checked = float("-inf")
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._stale: dict[Hashable, Any] = {}  # the renderings of the data before its change
        self._rebuilding: set[Hashable] = set()

    def _refresh(self, store: Store) -> None:
        """Drop every rendering if the data marker changed (looked at most every few s)."""
        now = time.monotonic()
        with self._lock:
            if self._marker is not None and now - self._checked < self.check_every_s:
                return
            self._checked = now
        marker = data_marker(store)
        with self._lock:
            if marker != self._marker:
                self._marker = marker
                self._generation += 1
                self._stale.update({k: v for k, (_t, v) in self._entries.items()})
                self._entries.clear()

    def due(self) -> bool:
        """Tell whether the next :meth:`marker` call will read the database."""
        with self._lock:
            fresh = time.monotonic() - self._checked < self.check_every_s
            return self._marker is None or not fresh

    def peek(self, key: Hashable) -> Any | None:
        """Return the kept rendering of ``key`` without any database work (None: none kept)."""
        return self._fresh(key)

    def stale(self, store: Store, key: Hashable, build: Callable[[], Any]) -> Any | None:
        """Return the rendering of the data before its last change, rebuilding it meanwhile.

        None when there is none. Otherwise one background thread builds the current
        rendering (:meth:`get`), so that readers never wait for a computation while an older
        answer exists: the figures lag a change by at most one computation (about a second
        for 100,000 requests).
        """
        with self._lock:
            old = self._stale.get(key)
            if old is None or key in self._rebuilding:
                return old
            self._rebuilding.add(key)

        def rebuild() -> None:
            try:
                self.get(store, key, build)
            finally:
                with self._lock:
                    self._rebuilding.discard(key)

        threading.Thread(target=rebuild, name="performance-rebuild", daemon=True).start()
        return old

    def last_marker(self) -> tuple[Any, ...] | None:
        """Return the data marker last seen, without reading the database."""
        with self._lock:
            return self._marker

    def marker(self, store: Store) -> tuple[Any, ...]:
        """Return the data marker last seen (looked at again when ``check_every_s`` passed).

        Its second item is the latest request's receipt time (None without data).
        """
        self._refresh(store)
        with self._lock:
            assert self._marker is not None
            return self._marker

    def _fresh(self, key: Hashable) -> Any | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or time.monotonic() - entry[0] > self.max_age_s:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def get(self, store: Store, key: Hashable, build: Callable[[], Any]) -> Any:
        """Return the kept rendering of ``key``, or build it (once, however many ask).

        Parameters
        ----------
        store
            Where the data marker is read.
        key
            Identifies the rendering (e.g. the period and the format).
        build
            Computes the rendering from the store (blocking; called in this thread).
        """
        self._refresh(store)
        found = self._fresh(key)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found = self._fresh(key)
            if found is not None:
                return found
            with self._lock:
                generation = self._generation
            value = build()
            with self._lock:
                self.builds += 1
                if generation != self._generation:  # the data changed meanwhile: not current,
                    self._stale[key] = value  # but newer than any older answer kept
                    return value
                self._entries[key] = (time.monotonic(), value)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
            return value
