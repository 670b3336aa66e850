"""Geocoding in bulk: the store's requests without a point, and CSV files."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from geo311.errors import InputError
from geo311.geocoding.geocoder import Geocoder
from geo311.geocoding.known import (
    guess_columns,
)
from geo311.geocoding.results import MATCH_TYPES
from geo311.requests import repo as request_repo

if TYPE_CHECKING:
    from geo311.db.store import Store
    from geo311.settings import Settings

__all__ = [
    "geocode_csv",
    "geocode_pending_requests",
    "located_report_columns",
    "summarise",
]


def summarise(match_types: Iterable[str]) -> str:
    """Return ``"N geocoded: a address_point, b interpolated, ...; c none"``."""
    counts = Counter(match_types)
    total = sum(counts.values())
    parts = [f"{counts[t]} {t}" for t in MATCH_TYPES if counts.get(t)]
    return f"{total} geocoded: " + (", ".join(parts) if parts else "nothing to do")


def geocode_pending_requests(
    store: Store,
    *,
    settings: Settings,
    geocoder: Geocoder | None = None,
    min_score: float = 0.0,
    known_addresses: bool = False,
) -> str:
    """Geocode the stored requests flagged ``needs_geocoding`` and write the answers.

    Matched rows get lat/lon, match type and score and ``needs_geocoding = False``; rows
    without a match (or below ``min_score``) keep ``needs_geocoding = True`` with match
    type ``none``.

    Parameters
    ----------
    store
        The store.
    settings
        Application settings (its ``data_dir`` holds the OSM extracts).
    geocoder
        A ready geocoder (default: built from ``settings.data_dir``).
    min_score
        Answers scoring below this are not used.
    known_addresses
        Also place house numbers from the stored requests that came with coordinates from
        their source (see :meth:`Geocoder.with_known_addresses`).

    Returns
    -------
    str
        One line: ``geocoding: N requests: a address_point, ..., c none``.
    """
    pending = request_repo.query_requests(store, request_repo.RequestFilters(needs_geocoding=True))
    if not pending:
        return "geocoding: no requests need geocoding"
    if geocoder is None:
        geocoder = Geocoder.from_data_dir(settings.data_dir)
    if known_addresses:
        geocoder = _with_located_requests(geocoder, store)
    frame = geocoder.geocode_many([_request_address(r.address, r.zipcode) for r in pending])
    rows: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    for req, answer in zip(pending, frame.itertuples(index=False), strict=True):
        row = _geocode_row(req.service_request_id, answer, min_score)
        if row["needs_geocoding"]:
            low = f"score below {min_score:.2f}"
            reasons[str(answer.failure) if answer.match_type == "none" else low] += 1
        rows.append(row)
    request_repo.set_geocodes(store, rows)
    types = [str(r["geocode_match_type"]) for r in rows]
    line = "geocoding: " + summarise(types).replace(" geocoded:", " requests:")
    if reasons:
        line += " (none: " + ", ".join(f"{n} {k}" for k, n in reasons.most_common(3)) + ")"
    return line


def _with_located_requests(geocoder: Geocoder, store: Store) -> Geocoder:
    """Return the geocoder plus the house numbers of the requests located by their source."""
    located = [
        r
        for r in request_repo.query_requests(
            store, request_repo.RequestFilters(needs_geocoding=False)
        )
        if r.lat is not None and r.long is not None and not r.geocode_match_type and r.address
    ]
    return geocoder.with_known_addresses(
        [_request_address(r.address, r.zipcode) for r in located],
        [float(r.lat) for r in located if r.lat is not None],
        [float(r.long) for r in located if r.long is not None],
    )


def _geocode_row(request_id: str, answer: Any, min_score: float) -> dict[str, Any]:
    """Return the store update of one request from its row of ``Geocoder.geocode_many``."""
    ok = answer.match_type != "none" and float(answer.score) >= min_score
    return {
        "service_request_id": request_id,
        "lat": float(answer.lat) if ok else None,
        "lon": float(answer.lon) if ok else None,
        "geocode_match_type": answer.match_type if ok else "none",
        "geocode_score": float(answer.score) if ok else 0.0,
        "needs_geocoding": not ok,
    }


def _request_address(address: str, zipcode: str) -> str:
    if zipcode and zipcode not in address and not address.upper().startswith("INTERSECTION"):
        return f"{address} {zipcode}"
    return address


def geocode_csv(
    in_path: Path | str,
    out_path: Path | str,
    *,
    address_column: str,
    geocoder: Geocoder,
) -> Counter[str]:
    """Add ``lat, lon, match_type, score, matched_address, error_m`` columns to a CSV file.

    Parameters
    ----------
    in_path
        Input CSV (``.csv`` or ``.csv.gz``) with a header row.
    out_path
        Output CSV; the input columns come first, unchanged.
    address_column
        Name of the column holding the address text.
    geocoder
        The geocoder to use.

    Returns
    -------
    collections.Counter
        Rows per match type.
    """
    in_path = Path(in_path)
    if not in_path.is_file():
        raise InputError(
            f"input CSV {str(in_path)!r} does not exist; pass an existing file", field="in_path"
        )
    frame = pd.read_csv(in_path, dtype=str, keep_default_na=False)
    if address_column not in frame.columns:
        raise InputError(
            f"--address-column {address_column!r} is not a column of {in_path.name}; "
            f"choose one of {', '.join(map(str, frame.columns))}",
            field="address_column",
        )
    result = geocoder.geocode_many(frame[address_column].tolist())
    out = frame.copy()
    for col in ("lat", "lon", "match_type", "score", "matched_address", "error_m"):
        out[col] = result[col].to_numpy()
    out.to_csv(out_path, index=False, quoting=csv.QUOTE_MINIMAL)
    return Counter(result["match_type"])


def located_report_columns(path: Path | str) -> tuple[str, str, str]:
    """Return the address, latitude and longitude columns of a city's located-reports CSV.

    The file can then be named as an extract's ``known_addresses`` (``file``, ``address``,
    ``lat``, ``lon``) in ``osm/extracts.toml``; ``geo311 city init --located-reports`` does.

    Parameters
    ----------
    path
        The CSV (``.csv`` or ``.csv.gz``) with a header row.

    Returns
    -------
    (str, str, str)
        The column names as written (``address``/``location``, ``lat``/``latitude``,
        ``lon``/``long``/``longitude``, matched without regard to case).

    Raises
    ------
    InputError
        When a column is missing; the message lists the file's columns.
    """
    return guess_columns(path)
