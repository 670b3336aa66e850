"""Whether a page of stored requests may have changed: the cheap checks behind a reused list.

A rendered ``GET requests`` page can be served again while the database has not changed and
its time window has not gained or lost a request. On PostgreSQL the database's current
snapshot (``pg_current_snapshot()``: which transactions are committed) is such a marker: any
committed write, to any table, gives another one. When it has changed (a write elsewhere),
a digest of the page's rows computed by the database (:func:`page_digest`) tells whether the
page itself changed, without bringing the rows over. Other databases give neither, so nothing
is reused there. Like :mod:`geo311.db.store`, this module runs SQL; nothing else may.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from geo311.db.schema import requests
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.requests.repo import RequestFilters
from geo311.requests.repo import select_requests as _select_requests


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


def _page(columns: Sequence[str], filters: RequestFilters) -> sa.Select[Any]:
    unknown = [c for c in columns if c not in requests.c]
    if unknown:
        raise InputError(f"columns: {unknown} are not columns of service_requests")
    return _select_requests(
        sa.select(*(requests.c[c] for c in columns)), replace(filters, newest_first=True)
    )


def _digest_of(page: sa.Select[Any]) -> sa.Select[Any]:
    rows = page.subquery("page")
    # Every row as text (NULL and '' differ there), in page order, hashed by the database.
    text = sa.func.string_agg(sa.literal_column("page::text"), sa.literal("\n"))
    return sa.select(sa.func.md5(sa.func.coalesce(text, ""))).select_from(rows)


def page_digest(store: Store, columns: Sequence[str], filters: RequestFilters) -> str | None:
    """Return a digest of a page's rows, computed by the database (None except on PostgreSQL).

    Equal digests mean the same values in the same order, so the same rendered page.

    Parameters
    ----------
    store
        The store.
    columns
        Column names of ``service_requests`` the page shows.
    filters
        Which requests, newest first.

    Returns
    -------
    str or None
        An MD5 hex digest, or None where the database cannot give one.
    """
    if store.dialect != "postgresql":
        return None
    with store.engine.connect() as conn:
        return str(conn.execute(_digest_of(_page(columns, filters))).scalar_one())


def page_rows(
    store: Store, columns: Sequence[str], filters: RequestFilters
) -> tuple[list[tuple[Any, ...]], str | None]:
    """Return a page's rows and their :func:`page_digest`, both from one snapshot.

    Parameters
    ----------
    store
        The store.
    columns
        Column names of ``service_requests``, in row order (``lon`` for the longitude).
    filters
        Which requests, newest first.

    Returns
    -------
    tuple
        The rows (aware UTC times) and the digest (None except on PostgreSQL).
    """
    page = _page(columns, filters)
    if store.dialect != "postgresql":
        with store.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(page).all()], None
    options = {"isolation_level": "REPEATABLE READ"}  # one snapshot for both statements
    with store.engine.connect().execution_options(**options) as conn:
        rows = [tuple(r) for r in conn.execute(page).all()]
        digest = str(conn.execute(_digest_of(page)).scalar_one())
    return rows, digest
