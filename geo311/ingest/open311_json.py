"""Open311 GeoReport v2 JSON files: one request object at a time, validated.

A request object may carry the reporter's ``email``, ``first_name``, ``last_name`` and
``phone`` (the Open311 POST fields): they are stored apart, in the private contacts table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import IO, Any

import pandas as pd

from geo311.city.catalogue import Catalogue
from geo311.city.profile import default_city
from geo311.errors import InputError
from geo311.ingest.rows import Reject, _Batch, _row_hash, row_contact, rows_to_frame
from geo311.model import OPEN311_SOURCE


def _parse_iso(value: Any, fld: str, tz: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"{fld} is missing; give an ISO 8601 time such as 2015-10-06T07:00:00-04:00", field=fld
        )
    try:
        ts = pd.Timestamp(value.strip())
    except (ValueError, TypeError):
        raise InputError(
            f"{fld} {value!r} is not an ISO 8601 time (e.g. 2015-10-06T07:00:00-04:00)", field=fld
        ) from None
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return ts.tz_convert(UTC).to_pydatetime()


def _open311_point(record: dict[str, Any]) -> tuple[float | None, float | None]:
    lat_v, lon_v = record.get("lat"), record.get("long")
    if lat_v in (None, "") and lon_v in (None, ""):
        return None, None
    try:
        lat, lon = float(lat_v), float(lon_v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(
            f"lat/long {lat_v!r}, {lon_v!r} are not numbers; give decimal degrees", field="lat"
        ) from None
    if not -90 <= lat <= 90:
        raise InputError(f"lat {lat} is outside -90..90; give decimal degrees", field="lat")
    if not -180 <= lon <= 180:
        raise InputError(f"long {lon} is outside -180..180; give decimal degrees", field="long")
    return lat, lon


def open311_record_to_row(record: dict[str, Any], catalogue: Catalogue, tz: str) -> dict[str, Any]:
    """Validate one Open311 GeoReport v2 request (a JSON object) and return its table row.

    Parameters
    ----------
    record
        One element of a GeoReport v2 ``requests.json`` list.
    catalogue
        Service catalogue (``service_code`` must be in it).
    tz
        Time zone for times written without an offset.

    Returns
    -------
    dict
        The row for :func:`geo311.requests.repo.insert_request_rows`.

    Raises
    ------
    InputError
        Naming the field at fault and the fix.
    """
    if not isinstance(record, dict):
        raise InputError("each element must be a JSON object of GeoReport v2 fields", field="row")
    rid = str(record.get("service_request_id") or "").strip()
    if not rid:
        raise InputError(
            "service_request_id is missing; every request needs one", field="service_request_id"
        )
    code = str(record.get("service_code") or "").strip()
    if code not in catalogue.services:
        raise InputError(
            f"service_code {code!r} is not in the catalogue; use one of {', '.join(sorted(catalogue.services))}",
            field="service_code",
        )
    service = catalogue.services[code]
    requested = _parse_iso(record.get("requested_datetime"), "requested_datetime", tz)
    updated = (
        _parse_iso(record["updated_datetime"], "updated_datetime", tz)
        if record.get("updated_datetime")
        else None
    )
    expected = (
        _parse_iso(record["expected_datetime"], "expected_datetime", tz)
        if record.get("expected_datetime")
        else requested + timedelta(hours=service.sla_hours)
    )
    status = str(record.get("status") or "open").strip().lower()
    if status not in catalogue.states:
        raise InputError(f"status {status!r} is unknown; use open or closed", field="status")
    lat, lon = _open311_point(record)
    address = str(record.get("address") or "").strip()
    if lat is None and not address:
        raise InputError("a request needs lat and long or an address", field="lat")
    needs_geo = lat is None or default_city().is_placeholder(lat, lon)
    state = catalogue.states[status]
    closed_at = (updated or requested) if not state.is_open else None
    if closed_at is not None and closed_at < requested:
        raise InputError(
            "updated_datetime of a closed request is before requested_datetime",
            field="updated_datetime",
        )
    return {
        "service_request_id": rid,
        "source": OPEN311_SOURCE,
        "source_id": rid,
        "service_code": code,
        "service_name": service.name,
        "source_type": str(record.get("service_name") or ""),
        "status": status,
        "status_notes": str(record.get("status_notes") or ""),
        "description": str(record.get("description") or "")[:4000],
        "requested_datetime": requested,
        "updated_datetime": updated or requested,
        "expected_datetime": expected,
        "sla_target_datetime": expected,
        "closed_datetime": closed_at,
        "address": address,
        "zipcode": str(record.get("zipcode") or ""),
        "lat": None if needs_geo else lat,
        "lon": None if needs_geo else lon,
        "media_url": str(record.get("media_url") or ""),
        # The intake channel (Boston's CSV "Source"): these came through an Open311 API.
        # agency_responsible is not a channel and has no column of its own.
        "channel": OPEN311_SOURCE,
        "neighborhood": "",
        "closure_category": "" if state.is_open else state.label,
        "needs_geocoding": needs_geo,
        "geocode_match_type": "",
        "geocode_score": None,
        "work_order_id": None,
        "row_hash": _row_hash([json.dumps(record, sort_keys=True, default=str)]),
    }


def _iter_open311_batches(
    fh: IO[str], catalogue: Catalogue, tz: str, batch_size: int, on_rows: Callable[[int], None]
) -> Iterator[_Batch]:
    try:
        data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"the file is not valid JSON (line {exc.lineno}): {exc.msg}", field="file"
        ) from None
    if isinstance(data, dict) and "service_requests" in data:
        data = data["service_requests"]
    if not isinstance(data, list):
        raise InputError("an Open311 file must be a JSON list of requests", field="file")
    seen: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    contacts: dict[int, dict[str, str]] = {}
    for number, record in enumerate(data, start=1):
        try:
            row = open311_record_to_row(record, catalogue, tz)
            if row["service_request_id"] in seen:
                raise InputError(
                    f"duplicate service_request_id {row['service_request_id']}: same id as "
                    f"element {seen[row['service_request_id']]}; keep one per request",
                    field="service_request_id",
                )
            contact = row_contact(record)  # the POST fields email, first_name, ... if given
            seen[row["service_request_id"]] = number
            if contact is not None:
                contacts[len(rows)] = contact
            rows.append(row)
        except InputError as exc:
            raw = json.dumps(record, default=str)[:2000]
            rejects.append(Reject(number, exc.field or "row", str(exc), raw))
        if len(rows) + len(rejects) >= batch_size:
            on_rows(len(rows) + len(rejects))
            yield _Batch(rows_to_frame(rows), rejects, contacts)
            rows, rejects, contacts = [], [], {}
    on_rows(len(rows) + len(rejects))
    yield _Batch(rows_to_frame(rows), rejects, contacts)
