"""A city's own CSV export, read through a mapping file (``geo311 import FILE.csv --mapping M``).

The mapping (TOML) says which column holds what, how the city's type and status values map
to the catalogue's services and states, and how times are written::

    source = "mycity"                    # stored with each row; re-imports upsert on it + id
    timezone = "Europe/Paris"            # times without an offset (default: the city's)
    time_format = "%d/%m/%Y %H:%M"       # strptime format (default: ISO 8601 / pandas)

    [columns]                            # id, type and opened are required
    id = "CaseID"
    type = "Category"
    opened = "Opened"
    closed = "Closed"
    status = "Status"
    address = "Address"
    lat = "Latitude"
    lon = "Longitude"
    description = "Details"
    neighbourhood = "Area"
    email = "Email"                      # the reporter's contact (optional, kept private:
    first_name = "FirstName"             # the contacts table, never the public API)
    last_name = "LastName"
    phone = "Phone"

    [types]                              # the city's type -> catalogue service code
    "Pothole in road" = "pothole"

    [statuses]                           # the city's status -> catalogue state code
    "Resolved" = "closed"

A row that cannot be read is rejected with its row number, the field and the fix, as the
other readers do; a type the mapping does not name is kept as ``other`` and counted.
"""

from __future__ import annotations

import csv
import time as timer
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from geo311.city.catalogue import OTHER_SERVICE_CODE, Catalogue
from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.errors import ConfigurationError, InputError
from geo311.ingest import runs
from geo311.ingest.importer import (
    ImportSummary,
    _parse_while_writing,
    _store_batch,
    write_rejects_csv,
)
from geo311.ingest.rows import Reject, _Batch, _open_text, _row_hash, row_contact, rows_to_frame
from geo311.notify.contacts import CONTACT_FIELDS

__all__ = [
    "COLUMN_KEYS",
    "CsvMapping",
    "import_mapped_csv",
    "load_mapping",
    "mapped_contact",
    "mapped_row",
]

COLUMN_KEYS = (
    "id",
    "type",
    "opened",
    "closed",
    "status",
    "address",
    "lat",
    "lon",
    "description",
    "neighbourhood",
    *CONTACT_FIELDS,
)
_REQUIRED = ("id", "type", "opened")


@dataclass(frozen=True)
class CsvMapping:
    """A validated mapping of a city's CSV export (see the module docstring)."""

    columns: dict[str, str]
    types: dict[str, str] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    source: str = "csv"
    timezone: str = ""
    time_format: str = ""
    delimiter: str = ","


def _mapping_error(where: Path, text: str, fld: str) -> ConfigurationError:
    return ConfigurationError(f"mapping {where}: {text}", field=fld)


def load_mapping(path: str | Path, *, catalogue: Catalogue | None = None) -> CsvMapping:
    """Read and validate a CSV mapping file.

    Parameters
    ----------
    path
        The TOML mapping.
    catalogue
        Checks that mapped types and statuses name catalogue services and states.

    Returns
    -------
    CsvMapping
        The mapping.

    Raises
    ------
    ConfigurationError
        Naming the key at fault and the fix.
    """
    where = Path(path)
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _mapping_error(where, "does not exist; give a TOML mapping file", "mapping") from None
    except tomllib.TOMLDecodeError as exc:
        raise _mapping_error(where, f"is not valid TOML: {exc}", "mapping") from None
    columns = {str(k): str(v) for k, v in raw.get("columns", {}).items()}
    unknown = sorted(set(columns) - set(COLUMN_KEYS))
    if unknown:
        raise _mapping_error(where, f"[columns] {unknown} unknown; use {COLUMN_KEYS}", "columns")
    missing = [k for k in _REQUIRED if k not in columns]
    if missing:
        raise _mapping_error(
            where, f"[columns] lacks {missing}; name the CSV column of each", "columns"
        )
    types = {str(k).strip().lower(): str(v) for k, v in raw.get("types", {}).items()}
    statuses = {str(k).strip().lower(): str(v) for k, v in raw.get("statuses", {}).items()}
    if catalogue is not None:
        bad = sorted({v for v in types.values() if v not in catalogue.services})
        if bad:
            raise _mapping_error(where, f"[types] maps to unknown services {bad}", "types")
        bad = sorted({v for v in statuses.values() if v not in catalogue.states})
        if bad:
            raise _mapping_error(where, f"[statuses] maps to unknown states {bad}", "statuses")
    tz = str(raw.get("timezone", ""))
    if tz:
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise _mapping_error(
                where, f"timezone {tz!r} is not an IANA zone", "timezone"
            ) from None
    return CsvMapping(
        columns=columns,
        types=types,
        statuses=statuses,
        source=str(raw.get("source", "csv")),
        timezone=tz,
        time_format=str(raw.get("time_format", "")),
        delimiter=str(raw.get("delimiter", ",")),
    )


def _time(value: str, fld: str, mapping: CsvMapping, tz: str) -> datetime:
    text = value.strip()
    example = mapping.time_format or "ISO 8601, e.g. 2015-10-06 07:00"
    try:
        ts = (
            pd.Timestamp(datetime.strptime(text, mapping.time_format))
            if mapping.time_format
            else pd.Timestamp(text)
        )
    except (ValueError, TypeError):
        raise InputError(
            f"{fld} {value!r} is an unparseable date; write it as {example} "
            "(or set time_format in the mapping)",
            field=fld,
        ) from None
    if pd.isna(ts):
        raise InputError(f"{fld} is empty; give a time as {example}", field=fld)
    if ts.tzinfo is None:
        ts = ts.tz_localize(tz)
    return ts.tz_convert(UTC).to_pydatetime()


def _point(get: Callable[[str], str]) -> tuple[float | None, float | None]:
    la, lo = get("lat").strip(), get("lon").strip()
    if not la and not lo:
        return None, None
    try:
        lat, lon = float(la), float(lo)
    except ValueError:
        raise InputError(
            f"lat/lon {la!r}, {lo!r} is not a number; give degrees", field="lat"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InputError(f"lat/lon {lat}, {lon} is outside -90..90 / -180..180", field="lat")
    return lat, lon


def _codes(
    city_type: str,
    status_text: str,
    mapping: CsvMapping,
    catalogue: Catalogue,
    unknown: Counter[str],
) -> tuple[str, str]:
    """Return the catalogue service and state codes of a row's type and status values."""
    code = mapping.types.get(city_type.lower())
    if code is None:
        code = city_type if city_type in catalogue.services else OTHER_SERVICE_CODE
        if code == OTHER_SERVICE_CODE:
            unknown[city_type] += 1
    status = mapping.statuses.get(status_text.lower(), status_text.lower() or "open")
    if status not in catalogue.states:
        raise InputError(
            f"status {status_text!r} is not mapped; add it to [statuses] of the mapping "
            f"(states: {', '.join(sorted(catalogue.states))})",
            field="status",
        )
    return code, status


def mapped_row(
    record: dict[str, str], mapping: CsvMapping, catalogue: Catalogue, unknown: Counter[str]
) -> dict[str, Any]:
    """Validate one CSV row through the mapping and return its table row.

    Parameters
    ----------
    record
        The CSV row (column -> text).
    mapping
        The mapping.
    catalogue
        The service catalogue.
    unknown
        Counts city types the mapping does not name (kept as ``other``).

    Returns
    -------
    dict
        The row for the store.

    Raises
    ------
    InputError
        Naming the field at fault and the fix.
    """

    def get(key: str) -> str:
        col = mapping.columns.get(key)
        return str(record.get(col) or "") if col else ""

    tz = mapping.timezone or default_city().timezone
    rid = get("id").strip()
    if not rid:
        raise InputError(f"{mapping.columns['id']} (id) is empty; every row needs one", field="id")
    city_type = get("type").strip()
    code, status = _codes(city_type, get("status").strip(), mapping, catalogue, unknown)
    service = catalogue.services[code]
    opened = _time(get("opened"), "opened", mapping, tz)
    closed = _time(get("closed"), "closed", mapping, tz) if get("closed").strip() else None
    state = catalogue.states[status]
    if closed is not None and closed < opened:
        raise InputError("closed is before opened; check the two time columns", field="closed")
    lat, lon = _point(get)
    address = get("address").strip()
    if lat is None and not address:
        raise InputError("a row needs lat and lon or an address", field="lat")
    needs_geo = lat is None or default_city().is_placeholder(lat, lon)
    closed_at = closed or (None if state.is_open else opened)
    return {
        "service_request_id": f"{mapping.source}-{rid}",
        "source": mapping.source,
        "source_id": rid,
        "service_code": code,
        "service_name": service.name,
        "source_type": city_type,
        "status": status,
        "status_notes": "",
        "description": get("description")[:4000],
        "requested_datetime": opened,
        "updated_datetime": closed or opened,
        "expected_datetime": opened + timedelta(hours=service.sla_hours),
        "sla_target_datetime": opened + timedelta(hours=service.sla_hours),
        "closed_datetime": None if state.is_open else closed_at,
        "address": address,
        "zipcode": "",
        "lat": None if needs_geo else lat,
        "lon": None if needs_geo else lon,
        "media_url": "",
        "channel": mapping.source,
        "neighborhood": get("neighbourhood").strip(),
        "closure_category": "" if state.is_open else state.label,
        "needs_geocoding": needs_geo,
        "geocode_match_type": "",
        "geocode_score": None,
        "work_order_id": None,
        "row_hash": _row_hash([f"{k}={v}" for k, v in sorted(record.items())]),
    }


def mapped_contact(record: dict[str, str], mapping: CsvMapping) -> dict[str, str] | None:
    """Return the reporter's contact of a CSV row through the mapping (None when none given).

    Raises
    ------
    InputError
        If the mapped e-mail column holds something that is not an e-mail address.
    """
    values = {k: record.get(mapping.columns[k]) for k in CONTACT_FIELDS if k in mapping.columns}
    return row_contact(values) if values else None


def _batches(
    path: Path,
    mapping: CsvMapping,
    catalogue: Catalogue,
    unknown: Counter[str],
    on_rows: Callable[[int], None],
    batch_size: int,
) -> Iterator[_Batch]:
    with _open_text(path) as fh:
        reader = csv.DictReader(fh, delimiter=mapping.delimiter)
        absent = [c for c in mapping.columns.values() if c not in (reader.fieldnames or [])]
        if absent:
            raise InputError(
                f"{path} has no column(s) {absent} named in the mapping; its header is "
                f"{reader.fieldnames}; fix [columns]",
                field="mapping",
            )
        seen: dict[str, int] = {}
        batch = _Batch(rows_to_frame([]), [])
        rows: list[dict[str, Any]] = []
        for number, record in enumerate(reader, start=1):
            try:
                row = mapped_row(record, mapping, catalogue, unknown)
                if row["source_id"] in seen:
                    raise InputError(
                        f"duplicate id {row['source_id']}: same as row {seen[row['source_id']]}",
                        field="id",
                    )
                contact = mapped_contact(record, mapping)
                seen[row["source_id"]] = number
                if contact is not None:
                    batch.contacts[len(rows)] = contact
                rows.append(row)
            except InputError as exc:
                reject = Reject(number, exc.field or "row", str(exc), str(record)[:2000])
                batch.rejects.append(reject)
            if len(rows) + len(batch.rejects) >= batch_size:
                on_rows(len(rows) + len(batch.rejects))
                batch.frame = rows_to_frame(rows)
                yield batch
                batch, rows = _Batch(rows_to_frame([]), []), []
        on_rows(len(rows) + len(batch.rejects))
        batch.frame = rows_to_frame(rows)
        yield batch


def import_mapped_csv(
    store: Store,
    path: str | Path,
    mapping: CsvMapping,
    catalogue: Catalogue,
    *,
    rejects_path: str | Path | None = None,
    batch_size: int = 20_000,
    progress: bool = False,
) -> ImportSummary:
    """Import a city's own CSV export through a mapping (rejects kept with reasons).

    Parameters
    ----------
    store
        Where the requests go.
    path
        The CSV file (plain or gzip).
    mapping
        Its mapping (:func:`load_mapping`).
    catalogue
        The service catalogue.
    rejects_path
        Where to write the rejects CSV (default ``./<file name>.rejects.csv``).
    batch_size
        Rows per transaction.
    progress
        Unused here (rows are counted in the summary); kept for the CLI's symmetry.

    Returns
    -------
    ImportSummary
        New, updated, unchanged and rejected counts; unknown types kept as ``other``.

    Raises
    ------
    InputError
        When the file is missing or lacks a mapped column.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"input file {path} does not exist; give the CSV export", field="path")
    t0 = timer.perf_counter()
    summary = ImportSummary(path=str(path), format=f"csv ({mapping.source} mapping)")
    with store.begin() as conn:
        summary.import_run_id = run_id = runs.start_import_run(store, conn, str(path))
    unknown: Counter[str] = Counter()

    def on_rows(n: int) -> None:
        summary.rows_read += n

    def write(batch: _Batch) -> None:
        _store_batch(store, run_id, batch, summary)

    _parse_while_writing(_batches(path, mapping, catalogue, unknown, on_rows, batch_size), write)
    summary.unknown_types = unknown
    summary.seconds = timer.perf_counter() - t0
    if summary.rejected:
        out = Path(rejects_path) if rejects_path else Path.cwd() / (path.name + ".rejects.csv")
        summary.rejects_path = str(write_rejects_csv(runs.rejects_of(store, run_id), out))
    runs.finish_import_run(store, run_id, summary.as_dict())
    return summary
