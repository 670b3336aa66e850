"""Whether the stored requests may have changed: the cheap check behind a reused Open311 list.

A rendered ``GET requests`` page can be served again while the database has not changed and
its time window has not gained or lost a request. On PostgreSQL the database's current
snapshot (``pg_current_snapshot()``: which transactions are committed) is such a marker: any
committed write, to any table, gives another one. Other databases give no marker, so nothing
is reused there. Like :mod:`geo311.store`, this module runs SQL; nothing else may.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from geo311.schema import requests
from geo311.store import Store


@dataclass(frozen=True)
class ReadState:
    """What :func:`read_state` found.

    Attributes
    ----------
    marker
        Changes whenever committed data may have changed (None: no marker on this database,
        treat everything as changed).
    requested_in_spans
        True when a stored request was requested inside one of the spans asked about.
    """

    marker: str | None
    requested_in_spans: bool


def read_state(store: Store, spans: Sequence[tuple[datetime, datetime]] = ()) -> ReadState:
    """Return the change marker and whether a request was requested in one of ``spans``.

    Read the marker *before* the data it vouches for: a write committed in between then
    makes the next marker differ, so a page is never reused past a change (at worst it is
    rebuilt once more than needed).

    Parameters
    ----------
    store
        The store.
    spans
        ``(start, end)`` ranges of ``requested_datetime`` (``start <= t < end``, aware
        times), e.g. the slices a default 90-day window has moved by since a page was built.

    Returns
    -------
    ReadState
        The marker (None except on PostgreSQL) and the span check (True on other databases:
        nothing to reuse there anyway).
    """
    if store.dialect != "postgresql":
        return ReadState(None, True)
    t = requests.c.requested_datetime
    hit: sa.ColumnElement[bool] = sa.false()
    if spans:
        inside = sa.or_(*((t >= a) & (t < b) for a, b in spans))
        hit = sa.select(requests.c.service_request_id).where(inside).exists()
    stmt = sa.select(sa.cast(sa.func.pg_current_snapshot(), sa.Text), hit)
    with store.engine.connect() as conn:
        marker, found = conn.execute(stmt).one()
    return ReadState(str(marker), bool(found))
