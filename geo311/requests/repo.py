"""The service requests' rows: insert, read, query and update them (table ``requests``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db.schema import (
    REQUEST_COLUMNS,
    TIME_COLUMN_NAMES,
    requests,
)
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.model import ServiceRequest
from geo311.requests import updates as update_log

__all__ = [
    "add_request",
    "count_requests",
    "existing_hashes",
    "get_request",
    "insert_request_frame",
    "insert_request_rows",
    "query_request_rows",
    "query_requests",
    "RequestFilters",
    "request_to_row",
    "requests_frame_rows",
    "row_to_request",
    "select_requests",
    "set_geocodes",
    "update_request_fields",
    "update_request_rows",
    "update_requests_in",
    "update_requests_in_open",
]


def row_to_request(row: sa.Row[Any]) -> ServiceRequest:
    """Return the request of a ``requests`` row."""
    m = row._mapping
    return ServiceRequest(
        service_request_id=m["service_request_id"],
        service_code=m["service_code"],
        status=m["status"],
        requested_datetime=m["requested_datetime"],
        source=m["source"],
        source_id=m["source_id"],
        service_name=m["service_name"],
        status_notes=m["status_notes"],
        description=m["description"],
        updated_datetime=m["updated_datetime"],
        expected_datetime=m["expected_datetime"],
        sla_target_datetime=m["sla_target_datetime"],
        closed_datetime=m["closed_datetime"],
        address=m["address"],
        zipcode=m["zipcode"],
        lat=m["lat"],
        long=m["lon"],
        media_url=m["media_url"],
        channel=m["channel"],
        neighborhood=m["neighborhood"],
        closure_category=m["closure_category"],
        source_type=m["source_type"],
        needs_geocoding=bool(m["needs_geocoding"]),
        geocode_match_type=m["geocode_match_type"],
        geocode_score=m["geocode_score"],
        work_order_id=m["work_order_id"],
    )


def request_to_row(req: ServiceRequest, *, row_hash: str = "") -> dict[str, Any]:
    """Return the table row (a dict of column values) for a service request.

    Parameters
    ----------
    req
        The request.
    row_hash
        Hash of the source record, used to tell changed re-imports from unchanged ones.

    Returns
    -------
    dict
        Column name to value.
    """
    return {
        "service_request_id": req.service_request_id,
        "source": req.source,
        "source_id": req.source_id,
        "service_code": req.service_code,
        "service_name": req.service_name,
        "source_type": req.source_type,
        "status": req.status,
        "status_notes": req.status_notes,
        "description": req.description,
        "requested_datetime": req.requested_datetime,
        "updated_datetime": req.updated_datetime,
        "expected_datetime": req.expected_datetime,
        "sla_target_datetime": req.sla_target_datetime,
        "closed_datetime": req.closed_datetime,
        "address": req.address,
        "zipcode": req.zipcode,
        "lat": req.lat,
        "lon": req.long,
        "media_url": req.media_url,
        "channel": req.channel,
        "neighborhood": req.neighborhood,
        "closure_category": req.closure_category,
        "needs_geocoding": req.needs_geocoding,
        "geocode_match_type": req.geocode_match_type,
        "geocode_score": req.geocode_score,
        "work_order_id": req.work_order_id,
        "row_hash": row_hash,
    }


@dataclass(frozen=True)
class RequestFilters:
    """Which request rows a query keeps, in which order and which page (every field optional).

    Attributes
    ----------
    ids, service_codes, statuses
        Keep only these request ids, services or state codes.
    start, end
        Keep requests with ``start <= requested_datetime < end``.
    needs_geocoding
        Keep only rows still (or no longer) needing geocoding.
    bbox
        Keep only requests inside this box (min lon, min lat, max lon, max lat).
    work_order_id
        Keep only members of this work order.
    limit, offset
        Paging.
    newest_first
        Order by requested time descending instead of ascending.
    """

    ids: Sequence[str] | None = None
    service_codes: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    needs_geocoding: bool | None = None
    bbox: tuple[float, float, float, float] | None = None
    work_order_id: int | None = None
    limit: int | None = None
    offset: int = 0
    newest_first: bool = False


def select_requests(stmt: sa.Select[Any], filters: RequestFilters) -> sa.Select[Any]:
    """Add the filters, order and page of ``filters`` to a select of request rows.

    Parameters
    ----------
    stmt
        A select over ``service_requests``.
    filters
        What to keep, the order and the page.

    Returns
    -------
    sqlalchemy.Select
        The select, filtered, ordered by requested time (then id) and paged.
    """
    f = filters
    ids, service_codes, statuses = f.ids, f.service_codes, f.statuses
    start, end, needs_geocoding, bbox = f.start, f.end, f.needs_geocoding, f.bbox
    work_order_id, limit, offset, newest_first = f.work_order_id, f.limit, f.offset, f.newest_first
    if ids is not None:
        stmt = stmt.where(requests.c.service_request_id.in_(list(ids)))
    if service_codes is not None:
        stmt = stmt.where(requests.c.service_code.in_(list(service_codes)))
    if statuses is not None:
        stmt = stmt.where(requests.c.status.in_(list(statuses)))
    if start is not None:
        stmt = stmt.where(requests.c.requested_datetime >= start)
    if end is not None:
        stmt = stmt.where(requests.c.requested_datetime < end)
    if needs_geocoding is not None:
        stmt = stmt.where(requests.c.needs_geocoding == needs_geocoding)
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        stmt = stmt.where(
            requests.c.lat.between(min_lat, max_lat), requests.c.lon.between(min_lon, max_lon)
        )
    if work_order_id is not None:
        stmt = stmt.where(requests.c.work_order_id == work_order_id)
    order = requests.c.requested_datetime
    stmt = stmt.order_by(order.desc() if newest_first else order, requests.c.service_request_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return stmt


# -- service requests --------------------------------------------------------------
def existing_hashes(
    store: Store, conn: Connection, source: str, source_ids: Sequence[str]
) -> dict[str, tuple[str, str]]:
    """Return ``source_id -> (service_request_id, row_hash)`` for ids already stored.

    Parameters
    ----------
    conn
        Open connection (inside the import's transaction).
    source
        Source system.
    source_ids
        Ids to look up.

    Returns
    -------
    dict
        The ids found.
    """
    found: dict[str, tuple[str, str]] = {}
    mark = "?" if store.dialect == "sqlite" else "%s"
    for start in range(0, len(source_ids), 5000):
        chunk = list(source_ids[start : start + 5000])
        sql = (
            "SELECT source_id, service_request_id, row_hash FROM service_requests "
            f"WHERE source = {mark} AND source_id IN ({', '.join([mark] * len(chunk))})"
        )
        for sid, rid, h in conn.exec_driver_sql(sql, (source, *chunk)):
            found[sid] = (rid, h)
    return found


def insert_request_frame(store: Store, conn: Connection, frame: pd.DataFrame) -> None:
    """Insert new requests from a frame of :data:`REQUEST_COLUMNS` in one executemany.

    The fast path of the import: values go to the driver as tuples, with the time
    columns (tz-aware UTC) converted once per column for the dialect.

    Parameters
    ----------
    conn
        Open connection inside the batch's transaction.
    frame
        One row per new request.
    """
    if frame.empty:
        return
    columns: list[list[Any]] = []
    for name in REQUEST_COLUMNS:
        col = frame[name]
        if name in TIME_COLUMN_NAMES:
            utc = pd.to_datetime(col, utc=True)
            if store.dialect == "sqlite":
                # SQLAlchemy's SQLite DATETIME text, "YYYY-MM-DD HH:MM:SS.ffffff", so the
                # stored text compares and reads back like rows written through the ORM.
                naive = utc.dt.tz_localize(None).to_numpy().astype("datetime64[us]")
                iso = pa.array(np.datetime_as_string(naive, unit="us"), type=pa.string())
                text = pc.replace_substring(iso, pattern="T", replacement=" ", max_replacements=1)
                missing = utc.isna().to_numpy()
                columns.append(
                    [None if m else t for t, m in zip(text.to_pylist(), missing, strict=True)]
                )
            else:
                values = utc.astype(object).where(utc.notna(), None).tolist()
                columns.append([v.to_pydatetime() if v is not None else None for v in values])
        elif name == "needs_geocoding":
            columns.append([bool(v) for v in col.tolist()])
        else:
            columns.append(col.astype(object).where(col.notna(), None).tolist())
    marks = ", ".join(["?" if store.dialect == "sqlite" else "%s"] * len(REQUEST_COLUMNS))
    sql = f"INSERT INTO service_requests ({', '.join(REQUEST_COLUMNS)}) VALUES ({marks})"
    conn.exec_driver_sql(sql, list(zip(*columns, strict=True)))


def insert_request_rows(store: Store, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert new request rows (dicts from :func:`request_to_row`) in one statement."""
    if rows:
        conn.execute(requests.insert(), list(rows))


def update_request_rows(store: Store, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Update stored requests from re-imported source rows, keyed by ``service_request_id``.

    Fields geo311 owns (work order link) are kept, and so is the expected time of a
    request a published plan gave an ETA (the City's due time lands in its SLA target).
    """
    if not rows:
        return
    cols = [c for c in REQUEST_COLUMNS if c not in ("service_request_id", "work_order_id")]
    values: dict[str, Any] = {c: sa.bindparam(c) for c in cols}
    values["expected_datetime"] = sa.case(
        (
            requests.c.expected_plan_id.is_(None),
            sa.bindparam("expected_datetime", type_=requests.c.expected_datetime.type),
        ),
        else_=requests.c.expected_datetime,
    )
    stmt = (
        requests.update().where(requests.c.service_request_id == sa.bindparam("_id")).values(values)
    )
    conn.execute(stmt, [{"_id": r["service_request_id"], **{c: r[c] for c in cols}} for r in rows])


def add_request(store: Store, req: ServiceRequest) -> ServiceRequest:
    """Store one new request (e.g. from an Open311 POST) and return it.

    Inside ``store.begin()`` it joins the caller's transaction (e.g. with the reporter's
    contact and the acknowledgement in the notification outbox: stored together or not at all).

    Raises
    ------
    ConflictError
        If a request with the same id, or the same source and source id, is stored already
        (the database's integrity error is its ``__cause__``).
    """
    try:
        with store.begin() as conn:
            conn.execute(requests.insert(), [request_to_row(req)])
    except sa.exc.IntegrityError as exc:
        raise ConflictError(
            f"service_request_id {req.service_request_id!r} (source {req.source!r}, "
            f"source_id {req.source_id!r}) is stored already; send a new id or update "
            "the stored request"
        ) from exc
    return req


def get_request(store: Store, service_request_id: str) -> ServiceRequest:
    """Return one request by its Open311 id.

    Raises
    ------
    NotFoundError
        If no request has this id.
    """
    with store.read() as conn:
        row = conn.execute(
            sa.select(requests).where(requests.c.service_request_id == service_request_id)
        ).first()
    if row is None:
        raise NotFoundError(f"service_request_id {service_request_id!r} does not exist")
    return row_to_request(row)


def query_requests(store: Store, filters: RequestFilters | None = None) -> list[ServiceRequest]:
    """Return requests matching every given filter.

    Parameters
    ----------
    store
        The store to read.
    filters
        Which requests, in which order and page (:class:`RequestFilters`); all of them,
        oldest first, by default.

    Returns
    -------
    list of ServiceRequest
        The requests, ordered by requested time (then id).
    """
    stmt = select_requests(sa.select(requests), filters or RequestFilters())
    with store.read() as conn:
        return [row_to_request(r) for r in conn.execute(stmt).all()]


def query_request_rows(
    store: Store, columns: Sequence[str], filters: RequestFilters | None = None
) -> list[tuple[Any, ...]]:
    """Return only some columns of the requests :meth:`query_requests` would return.

    The fast path for read-heavy callers (the Open311 ``GET requests``): no
    :class:`ServiceRequest` is built; times are aware UTC datetimes as everywhere.

    Parameters
    ----------
    columns
        Column names of ``service_requests`` (``lon`` for the longitude), in output order.
    filters
        As in :meth:`query_requests` (``needs_geocoding``, ``bbox`` and ``work_order_id``
        apply too).

    Returns
    -------
    list of tuple
        One tuple per request, values in the order of ``columns``.

    Raises
    ------
    InputError
        If a column name is not a column of ``service_requests``.
    """
    unknown = [c for c in columns if c not in requests.c]
    if unknown:
        raise InputError(
            f"columns: {unknown} are not columns of service_requests; use names from "
            "geo311.db.store.REQUEST_COLUMNS"
        )
    stmt = select_requests(
        sa.select(*(requests.c[c] for c in columns)), filters or RequestFilters()
    )
    with store.read() as conn:
        return [tuple(r) for r in conn.execute(stmt).all()]


def count_requests(store: Store, *, source: str | None = None) -> int:
    """Return how many requests are stored (optionally from one source)."""
    stmt = sa.select(sa.func.count()).select_from(requests)
    if source is not None:
        stmt = stmt.where(requests.c.source == source)
    with store.read() as conn:
        return int(conn.execute(stmt).scalar_one())


def update_request_fields(store: Store, service_request_id: str, **values: Any) -> None:
    """Change some columns of one stored request.

    Raises
    ------
    NotFoundError
        If no request has this id.
    """
    if "long" in values:
        values["lon"] = values.pop("long")
    with store.begin() as conn:
        if update_requests_in(store, conn, [service_request_id], **values) == 0:
            raise NotFoundError(f"service_request_id {service_request_id!r} does not exist")


def set_geocodes(store: Store, results: Iterable[dict[str, Any]]) -> int:
    """Write geocoding results to the stored requests.

    Parameters
    ----------
    results
        Dicts with ``service_request_id``, ``lat``, ``lon``, ``geocode_match_type``,
        ``geocode_score`` and ``needs_geocoding``.

    Returns
    -------
    int
        Number of rows written.
    """
    rows = [dict(r, _id=r["service_request_id"]) for r in results]
    if not rows:
        return 0
    stmt = (
        requests.update()
        .where(requests.c.service_request_id == sa.bindparam("_id"))
        .values(
            lat=sa.bindparam("lat"),
            lon=sa.bindparam("lon"),
            geocode_match_type=sa.bindparam("geocode_match_type"),
            geocode_score=sa.bindparam("geocode_score"),
            needs_geocoding=sa.bindparam("needs_geocoding"),
        )
    )
    with store.begin() as conn:
        conn.execute(stmt, rows)
    return len(rows)


def requests_frame_rows(store: Store, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    """Return the given columns of every stored request as tuples (for metrics and maps)."""
    cols = [requests.c[c] for c in columns]
    with store.read() as conn:
        return [tuple(r) for r in conn.execute(sa.select(*cols))]


def update_requests_in(
    store: Store,
    conn: Connection,
    service_request_ids: Sequence[str],
    *,
    update_media_url: str = "",
    **values: Any,
) -> int:
    """Set the same column values on several requests; return how many rows changed.

    A new ``status`` or ``status_notes`` is a change the citizen sees: it is recorded in
    ``request_updates`` in the same transaction (see :meth:`request_updates_between`),
    with ``update_media_url`` as the update's photo, and ``updated_datetime`` moves to now
    unless ``values`` sets it.
    """
    if not service_request_ids:
        return 0
    ids = list(service_request_ids)
    noted = "status" in values or "status_notes" in values
    if noted:
        values.setdefault("updated_datetime", datetime.now(UTC))
    res = conn.execute(
        requests.update().where(requests.c.service_request_id.in_(ids)).values(**values)
    )
    if noted:
        update_log.record_updates(
            conn,
            ids,
            kind="status" if "status" in values else "note",
            at=values["updated_datetime"],
            descriptions={} if "status_notes" not in values else None,
            media_url=update_media_url,
        )
    return int(res.rowcount)


def update_requests_in_open(
    store: Store, conn: Connection, service_request_ids: Sequence[str], **values: Any
) -> int:
    """Set column values on those of the requests still open (no ``closed_datetime``)."""
    if not service_request_ids:
        return 0
    res = conn.execute(
        requests.update()
        .where(
            requests.c.service_request_id.in_(list(service_request_ids)),
            requests.c.closed_datetime.is_(None),
        )
        .values(**values)
    )
    return int(res.rowcount)
