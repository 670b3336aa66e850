"""The public reads of the requests table: the open-data export, the map's points, a data marker.

Everything here is public by construction: the columns read are the Open311 public fields
(:data:`PUBLIC_COLUMNS`), free text only where the city's profile allows it
(``[open_data] descriptions``), photo links only where it allows them (``photos``). Contacts
live in another table and are never read here; nor are staff names (audit, updates, plans).
Like :mod:`geo311.db.store`, this module runs SQL.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.db.schema import requests
from geo311.db.store import Store
from geo311.requests import repo as request_repo

__all__ = [
    "FREE_TEXT_COLUMNS",
    "PUBLIC_COLUMNS",
    "data_marker",
    "export_columns",
    "open_data_csv",
    "request_points",
    "write_open_data",
]

PUBLIC_COLUMNS = (
    "service_request_id",
    "status",
    "service_code",
    "service_name",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "closed_datetime",
    "address",
    "zipcode",
    "lat",
    "lon",
    "neighborhood",
)
"""The fields every exported request carries (Open311's public fields and the neighbourhood)."""
FREE_TEXT_COLUMNS = ("description", "status_notes")
"""Free text, exported only when the city's profile sets ``[open_data] descriptions = true``."""
PHOTO_COLUMNS = ("media_url",)
"""The reporter's photo link, exported unless the profile sets ``[open_data] photos = false``."""
_OUT_NAMES = {"lon": "long"}  # the Open311 field names
_BATCH = 5000


def export_columns(city: City) -> tuple[str, ...]:
    """Return the stored columns the city's open-data export carries, in order."""
    cols = list(PUBLIC_COLUMNS)
    if city.open_data.get("descriptions", False):
        cols += FREE_TEXT_COLUMNS
    if city.open_data.get("photos", True):
        cols += PHOTO_COLUMNS
    return tuple(cols)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return "" if value is None else value


def _rows(store: Store, columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
    stmt = sa.select(*(requests.c[c] for c in columns)).order_by(
        requests.c.requested_datetime, requests.c.service_request_id
    )
    with store.read() as conn:
        for row in conn.execution_options(yield_per=_BATCH).execute(stmt):
            yield tuple(row)


def open_data_csv(store: Store, catalogue: Catalogue, city: City) -> Iterator[str]:
    """Yield the open-data export as CSV text, header first, oldest request first.

    Parameters
    ----------
    store
        The store.
    catalogue
        Fills a missing service name from the catalogue.
    city
        Its ``open_data`` settings choose the free-text and photo columns.
    """
    columns = export_columns(city)
    name_at = columns.index("service_name")
    code_at = columns.index("service_code")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([_OUT_NAMES.get(c, c) for c in columns])
    for i, row in enumerate(_rows(store, columns), start=1):
        cells = [_cell(v) for v in row]
        if not cells[name_at] and cells[code_at] in catalogue.services:
            cells[name_at] = catalogue.services[cells[code_at]].name
        writer.writerow(cells)
        if i % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_open_data(store: Store, catalogue: Catalogue, city: City, path: Path) -> int:
    """Write the open-data export to ``path`` (atomically: a temporary file, then a rename).

    Returns
    -------
    int
        The number of requests written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    lines = 0
    with part.open("w", encoding="utf-8", newline="") as out:
        for chunk in open_data_csv(store, catalogue, city):
            out.write(chunk)
            lines += chunk.count("\n")
    part.replace(path)
    return max(lines - 1, 0)


def request_points(store: Store) -> pd.DataFrame:
    """Return every request's point, service and times (for the public map; no text).

    Returns
    -------
    DataFrame
        ``lat``, ``lon``, ``service_code``, ``requested_datetime``, ``closed_datetime``
        (times tz-aware UTC).
    """
    cols = ["lat", "lon", "service_code", "requested_datetime", "closed_datetime"]
    frame = pd.DataFrame(request_repo.requests_frame_rows(store, cols), columns=cols)
    for col in ("requested_datetime", "closed_datetime"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def data_marker(store: Store) -> tuple[Any, ...]:
    """Return a marker of the requests' data that changes when a figure may have changed.

    The number of requests and the latest received, updated and closed times: an import, a
    new report, a status change (which moves ``updated_datetime``) or a closing changes it.
    """
    r = requests.c
    stmt = sa.select(
        sa.func.count(),
        sa.func.max(r.requested_datetime),
        sa.func.max(r.updated_datetime),
        sa.func.max(r.closed_datetime),
    )
    with store.read() as conn:
        return tuple(conn.execute(stmt).one())
