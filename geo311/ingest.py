"""Import 311 service requests: Boston CSV exports (2015 and current schema) and Open311 JSON.

Every row is validated. Bad rows are rejected with their row number, field and reason (kept
in the store and written to a rejects CSV); good rows are upserted on their source id, one
transaction per batch, so re-importing a file adds nothing and a changed row updates.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import multiprocessing
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from geo311.catalogue import OTHER_SERVICE_CODE, Catalogue
from geo311.city import default_city
from geo311.errors import InputError
from geo311.store import REQUEST_COLUMNS, Store

BOSTON_SOURCE = "boston"
OPEN311_SOURCE = "open311"

# The 2015 upper-case export schema -> the current lower-case one (the canonical names here).
BOSTON_2015_COLUMNS = {
    "CASE_ENQUIRY_ID": "case_enquiry_id",
    "OPEN_DT": "open_dt",
    "TARGET_DT": "target_dt",
    "CLOSED_DT": "closed_dt",
    "OnTime_Status": "ontime",
    "CASE_STATUS": "case_status",
    "CLOSURE_REASON": "closure_reason",
    "CASE_TITLE": "case_title",
    "TYPE": "type",
    "Location": "location",
    "neighborhood": "neighborhood",
    "LOCATION_ZIPCODE": "location_zipcode",
    "LATITUDE": "latitude",
    "LONGITUDE": "longitude",
    "Source": "source",
    "SubmittedPhoto": "submittedphoto",
}
REQUIRED_COLUMNS = ("case_enquiry_id", "open_dt", "case_status", "type")
# Every column the import reads (canonical names); the rest of an export is not stored.
READ_COLUMNS = (
    "case_enquiry_id",
    "open_dt",
    "target_dt",
    "closed_dt",
    "case_status",
    "closure_reason",
    "case_title",
    "type",
    "location",
    "neighborhood",
    "location_zipcode",
    "latitude",
    "longitude",
    "source",
)
BOSTON_2015_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
# Compressed files count more: about 50 bytes a row gzipped, 250 plain.
_BYTES_PER_ROW_ESTIMATE = 200
# A close logged at most this long before the open is clock skew, not an error.
CLOCK_SKEW = pd.Timedelta(minutes=10)

# Boston closure categories -> catalogue states.
CLOSURE_STATES = {
    "case resolved": "fixed",
    "internal case performed by highway": "fixed",
    "duplicate of existing case": "duplicate",
    "case invalid": "invalid",
    "case referred to external agency": "referred",
    "case noted": "closed",
    "case closed": "closed",
    "": "closed",
}


@dataclass
class Reject:
    """A rejected input row: where it is, which field is at fault, why, and the raw text."""

    row_number: int
    field: str
    reason: str
    raw: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the reject as a plain dict (the rejects CSV's columns)."""
        return {
            "row_number": self.row_number,
            "field": self.field,
            "reason": self.reason,
            "raw": self.raw,
        }


@dataclass
class ImportSummary:
    """What an import did: counts of new, updated, unchanged and rejected rows."""

    path: str
    format: str = ""
    rows_read: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    needs_geocoding: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    unknown_types: Counter[str] = field(default_factory=Counter)
    import_run_id: int | None = None
    rejects_path: str | None = None
    seconds: float = 0.0

    @property
    def stored(self) -> int:
        """Rows now stored from this file (new + updated + unchanged)."""
        return self.new + self.updated + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as a JSON-friendly dict."""
        return {
            "path": self.path,
            "format": self.format,
            "rows_read": self.rows_read,
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "needs_geocoding": self.needs_geocoding,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "unknown_types_kept_as_other": dict(self.unknown_types),
            "rejects_path": self.rejects_path,
            "seconds": round(self.seconds, 3),
        }

    def lines(self) -> list[str]:
        """Return the summary as human-readable lines."""
        out = [
            f"import {self.path} ({self.format}): {self.rows_read} rows read in {self.seconds:.1f} s",
            f"  new {self.new}, updated {self.updated}, unchanged {self.unchanged}, "
            f"rejected {self.rejected}, needs geocoding {self.needs_geocoding}",
        ]
        for reason, n in self.rejected_by_reason.most_common():
            out.append(f"  rejected: {n} x {reason}")
        for t, n in self.unknown_types.most_common():
            out.append(f"  unknown type kept as '{OTHER_SERVICE_CODE}': {n} x {t!r}")
        if self.rejects_path:
            out.append(f"  rejected rows written to {self.rejects_path}")
        return out


@dataclass
class _Batch:
    frame: pd.DataFrame  # good rows, columns = store.REQUEST_COLUMNS, times tz-aware UTC
    rejects: list[Reject]


def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open("r", encoding="utf-8-sig", newline="")


def detect_format(path: Path) -> str:
    """Return ``boston_csv`` or ``open311_json`` for an input file.

    Parameters
    ----------
    path : Path
        The input file (plain or gzip).

    Returns
    -------
    str
        The format name.
    """
    with _open_text(path) as fh:
        head = fh.read(4096).lstrip()
    if head.startswith("[") or head.startswith("{"):
        return "open311_json"
    return "boston_csv"


def _row_hash(values: Sequence[str]) -> str:
    return hashlib.blake2b("\x1f".join(values).encode(), digest_size=12).hexdigest()


def _parse_times(col: pd.Series, fmt: str | None, tz: str) -> pd.Series:
    text = col.str.strip()
    if fmt is not None:
        arrow = pa.array(text.tolist(), type=pa.string())
        stamps = pc.strptime(arrow, format=fmt, unit="s", error_is_null=True)
        parsed = pd.Series(stamps.to_numpy(zero_copy_only=False), index=col.index)
    else:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=False)
    if getattr(parsed.dt, "tz", None) is None:
        parsed = parsed.dt.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")
    return parsed.dt.tz_convert(UTC)


_TIME_COLUMNS = ("requested_datetime", "updated_datetime", "expected_datetime", "closed_datetime")


def _collapse_spaces(text: pd.Series) -> pd.Series:
    """Return the strings with runs of white space made one space, trimmed (vectorised)."""
    arrow = pa.array(text.astype(str).tolist() if text.dtype == object else text, type=pa.string())
    out = pc.utf8_trim_whitespace(
        pc.replace_substring_regex(arrow, pattern=r"\s+", replacement=" ")
    )
    return pd.Series(out.to_pylist(), index=text.index, dtype=object)


def rows_to_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return request rows (dicts of column values) as a frame of the store's columns.

    Parameters
    ----------
    rows : sequence of dict
        Rows as made by :func:`open311_record_to_row` or :func:`geo311.store.request_to_row`.

    Returns
    -------
    DataFrame
        One row per request; time columns are tz-aware UTC.
    """
    frame = pd.DataFrame(list(rows), columns=list(REQUEST_COLUMNS))
    for col in _TIME_COLUMNS:
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


class _BostonBatcher:
    """Turns chunks of raw CSV records into validated request rows and rejects."""

    def __init__(self, header: list[str], catalogue: Catalogue, tz: str) -> None:
        self.catalogue = catalogue
        self.tz = tz
        self.header = header
        canonical = [BOSTON_2015_COLUMNS.get(h.strip(), h.strip().lower()) for h in header]
        self.upper = any(h.strip() in ("CASE_ENQUIRY_ID", "OPEN_DT") for h in header)
        self.time_format = BOSTON_2015_TIME_FORMAT if self.upper else None
        missing = [c for c in REQUIRED_COLUMNS if c not in canonical]
        if missing:
            raise InputError(
                f"the header lacks column(s) {', '.join(missing)}: a Boston 311 export needs "
                f"{', '.join(REQUIRED_COLUMNS)} (2015 schema: CASE_ENQUIRY_ID, OPEN_DT, "
                "CASE_STATUS, TYPE)",
                field="header",
            )
        self.index = {c: i for i, c in enumerate(canonical)}
        self.display = {c: header[i].strip() for c, i in self.index.items()}
        self.seen_ids: dict[str, int] = {}
        self.unknown_types: Counter[str] = Counter()
        self.type_codes = {
            t.lower(): s.code for s in catalogue.services.values() for t in s.boston_types
        }
        self.sla_hours = {s.code: s.sla_hours for s in catalogue.services.values()}
        self.service_names = {s.code: s.name for s in catalogue.services.values()}

    def col(self, df: pd.DataFrame, name: str) -> pd.Series:
        if name in self.index:
            return df[self.index[name]]
        return pd.Series([""] * len(df), index=df.index, dtype=object)

    def process(self, df: pd.DataFrame, line_numbers: list[int]) -> _Batch:
        # df: one string column per header column (positional labels), one row per record.
        n = len(df)
        blank = np.ones(n, dtype=bool)
        for column in df.columns:
            blank &= (df[column] == "").to_numpy()
        rj = _Rejecter(n, self.display)
        rj.reject(blank, "row", "empty line; remove it")
        ids = self._check_ids(df, rj, line_numbers)
        times = self._check_times(df, rj)
        lat, lon = self._check_points(df, rj)
        types = self.col(df, "type").str.strip()
        rj.reject((types == "").to_numpy(), "type", "missing TYPE; give the Boston request type")
        status_raw = self.col(df, "case_status").str.strip().str.lower()
        bad_status = ~status_raw.isin(["open", "closed"]).to_numpy()
        rj.reject(bad_status, "case_status", "status {v!r} is neither Open nor Closed", status_raw)

        placeholder = default_city().placeholder_mask(lat.to_numpy(), lon.to_numpy())
        needs_geo = placeholder | (lat.isna() | lon.isna()).to_numpy()
        good = rj.reason == ""
        rejects = [
            Reject(
                line_numbers[i],
                str(rj.fieldname[i]),
                str(rj.reason[i]),
                ",".join(df.iloc[i].tolist()),
            )
            for i in np.flatnonzero(~good)
        ]
        if not good.any():
            return _Batch(pd.DataFrame(columns=list(REQUEST_COLUMNS)), rejects)
        checked = _Checked(good, ids, times, lat, lon, types, status_raw, needs_geo)
        return _Batch(self._frame(df, checked), rejects)

    def _check_ids(self, df: pd.DataFrame, rj: _Rejecter, line_numbers: list[int]) -> pd.Series:
        ids = self.col(df, "case_enquiry_id").str.strip()
        rj.reject(
            (ids == "").to_numpy(),
            "case_enquiry_id",
            "missing case id; every row needs its own CASE_ENQUIRY_ID",
        )
        # A row duplicating an id seen earlier in the same file is rejected (the first one wins).
        dup_reason = np.full(len(df), "", dtype=object)
        seen = self.seen_ids
        for i, rid in enumerate(ids.tolist()):
            first = seen.setdefault(rid, line_numbers[i])
            if first != line_numbers[i] and rid and not rj.reason[i]:
                dup_reason[i] = (
                    f"duplicate CASE_ENQUIRY_ID {rid}: same id as row {first}; keep one row per case"
                )
        rj.reject(dup_reason != "", "case_enquiry_id", "{v}", dup_reason)
        return ids

    def _check_times(self, df: pd.DataFrame, rj: _Rejecter) -> dict[str, pd.Series]:
        fmt_hint = "MM/DD/YYYY hh:mm:ss AM" if self.upper else "YYYY-MM-DD hh:mm:ss"
        times: dict[str, pd.Series] = {}
        for name in ("open_dt", "target_dt", "closed_dt"):
            raw = self.col(df, name)
            parsed = _parse_times(raw, self.time_format, self.tz)
            bad = (raw.str.strip() != "").to_numpy() & parsed.isna().to_numpy()
            rj.reject(bad, name, "unparseable date {v!r}; write it as " + fmt_hint, raw)
            times[name] = parsed
        rj.reject(
            times["open_dt"].isna().to_numpy(),
            "open_dt",
            f"missing open time; write it as {fmt_hint}",
        )
        # Crews logging their own repairs close cases seconds "before" opening them (clock
        # skew): within CLOCK_SKEW the close time is taken as the open time.
        gap = times["closed_dt"] - times["open_dt"]
        close_before = (gap < -CLOCK_SKEW).fillna(False).to_numpy()
        rj.reject(
            close_before, "closed_dt", "closed before it was opened; check OPEN_DT and CLOSED_DT"
        )
        skewed = ((gap < pd.Timedelta(0)) & (gap >= -CLOCK_SKEW)).fillna(False)
        times["closed_dt"] = times["closed_dt"].where(~skewed, times["open_dt"])
        return times

    def _check_points(self, df: pd.DataFrame, rj: _Rejecter) -> tuple[pd.Series, pd.Series]:
        lat_raw = self.col(df, "latitude").str.strip()
        lon_raw = self.col(df, "longitude").str.strip()
        lat = pd.to_numeric(lat_raw, errors="coerce")
        lon = pd.to_numeric(lon_raw, errors="coerce")
        for raw, val, name, lo, hi in (
            (lat_raw, lat, "latitude", -90, 90),
            (lon_raw, lon, "longitude", -180, 180),
        ):
            not_number = (raw != "").to_numpy() & val.isna().to_numpy()
            rj.reject(not_number, name, "{v!r} is not a number; give decimal degrees", raw)
            out = ((val < lo) | (val > hi)).fillna(False).to_numpy()
            bounds = f"{lo}..{hi}"
            rj.reject(
                out,
                name,
                "{v} is outside " + bounds + "; give decimal degrees (EPSG:4326)",
                val,
            )
        one_only = (lat.isna() != lon.isna()).to_numpy()
        rj.reject(
            one_only, "latitude", "latitude and longitude must both be given or both be empty"
        )
        return lat, lon

    def _frame(self, df: pd.DataFrame, c: _Checked) -> pd.DataFrame:
        good = c.good

        def keep(series: pd.Series) -> pd.Series:
            return series[good].reset_index(drop=True)

        btype = keep(c.types)
        codes = btype.str.lower().map(self.type_codes)
        unknown = codes.isna()
        if unknown.any():
            self.unknown_types.update(btype[unknown].tolist())
        codes = codes.fillna(OTHER_SERVICE_CODE).astype(object)
        is_open = keep(c.status_raw) == "open"
        category = keep(self.col(df, "closure_reason").str.strip())
        state = category.str.lower().map(CLOSURE_STATES).fillna("closed").astype(object)
        state = state.where(~is_open, "open")
        requested = keep(c.times["open_dt"])
        sla = pd.to_timedelta(codes.map(self.sla_hours).astype(float), unit="h")
        expected = keep(c.times["target_dt"]).fillna(requested + sla)
        closed_at = keep(c.times["closed_dt"]).where(~is_open)
        category = category.where(category != "", "Case Closed").where(~is_open, "")
        closed_day = closed_at.dt.tz_convert(self.tz).dt.strftime("%Y-%m-%d")
        notes = (category + " on " + closed_day.fillna("")).where(closed_at.notna(), category)
        zipcode = keep(self.col(df, "location_zipcode")).str.strip()
        zipcode = zipcode.str.replace(r"\.0*$", "", regex=True)
        zipcode = zipcode.where(zipcode == "", zipcode.str.zfill(5))
        geo = pd.Series(c.needs_geo[good])
        ids_good = keep(c.ids)
        # The hash covers the columns geo311 reads: a change there updates the stored row;
        # a change only in a column geo311 ignores (ward, precinct ...) leaves it unchanged.
        used = sorted(self.index[col] for col in READ_COLUMNS if col in self.index)
        raw_good = df.loc[good, used].reset_index(drop=True)
        row_hash = pd.util.hash_pandas_object(raw_good, index=False).map("{:016x}".format)
        return pd.DataFrame(
            {
                "service_request_id": ids_good,
                "source": BOSTON_SOURCE,
                "source_id": ids_good,
                "service_code": codes,
                "service_name": codes.map(self.service_names),
                "source_type": btype,
                "status": state,
                "status_notes": notes,
                "description": keep(self.col(df, "case_title")).str.strip(),
                "requested_datetime": requested,
                "updated_datetime": closed_at.fillna(requested),
                "expected_datetime": expected,
                "closed_datetime": closed_at,
                "address": _collapse_spaces(keep(self.col(df, "location"))),
                "zipcode": zipcode,
                "lat": keep(c.lat).where(~geo),
                "lon": keep(c.lon).where(~geo),
                "media_url": "",
                "channel": keep(self.col(df, "source")).str.strip(),
                "neighborhood": keep(self.col(df, "neighborhood"))
                .fillna("")
                .astype(str)
                .str.strip(),
                "closure_category": category,
                "needs_geocoding": geo,
                "geocode_match_type": "",
                "geocode_score": np.nan,
                "work_order_id": pd.array([None] * len(ids_good), dtype="Int64"),
                "row_hash": row_hash,
            },
            columns=list(REQUEST_COLUMNS),
        )


class _Rejecter:
    """The first reason (and field) each row of a chunk is rejected for."""

    def __init__(self, n: int, display: dict[str, str]) -> None:
        self.reason = np.full(n, "", dtype=object)
        self.fieldname = np.full(n, "", dtype=object)
        self.display = display

    def reject(self, mask: np.ndarray, fld: str, why: str, values: Any = None) -> None:
        """Reject rows in ``mask`` not yet rejected; ``why`` may format the value as ``{v}``."""
        m = mask & (self.reason == "")
        if not m.any():
            return
        self.fieldname[m] = self.display.get(fld, fld)
        if values is None:
            self.reason[m] = why
        else:
            vals = np.asarray(values, dtype=object)
            for i in np.flatnonzero(m):
                self.reason[i] = why.format(v=vals[i])


@dataclass
class _Checked:
    """The validated columns of a chunk, with the mask of rows that passed every check."""

    good: np.ndarray
    ids: pd.Series
    times: dict[str, pd.Series]
    lat: pd.Series
    lon: pd.Series
    types: pd.Series
    status_raw: pd.Series
    needs_geo: np.ndarray


def _has_newline(column: pa.Array) -> bool:
    """Whether any value of a string column holds a newline (a scan of its bytes)."""
    data = column.buffers()[2]
    return data is not None and memoryview(data).tobytes().find(b"\n") >= 0


class _LineNumbers:
    """Physical line numbers of the records pyarrow's CSV reader yields.

    pyarrow numbers records (a quoted value may span lines) and skips invalid ones after
    reporting them to the handler, before their block is yielded. This turns record numbers
    into physical line numbers, for the kept rows and for the skipped rows' rejects.
    """

    def __init__(self) -> None:
        self.next_record = 2  # record 1 is the header
        self.offset = 0  # newlines inside quoted values seen before next_record
        self.skipped: list[tuple[int, int, Reject]] = []  # (record, its newlines, its reject)
        self._applied = 0

    def skip(self, record: int, text: str, reject: Reject) -> None:
        self.skipped.append((record, text.count("\n"), reject))

    def assign(self, batch: pa.RecordBatch) -> np.ndarray:
        n = batch.num_rows
        extra = np.zeros(n, dtype=np.int64)
        for column in batch.columns:
            if _has_newline(column):
                counts = pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
                extra += np.asarray(counts, dtype=np.int64)
        records = self.next_record + np.arange(n, dtype=np.int64)
        shifts: list[tuple[int, int, Reject]] = []
        while self._applied < len(self.skipped):
            rec, nl, rej = self.skipped[self._applied]
            if n == 0 or rec > records[-1]:
                break
            records[records >= rec] += 1
            shifts.append((rec, nl, rej))
            self._applied += 1
        # Lines: record number plus every newline inside quoted values of earlier records.
        kept: list[tuple[int, int, Reject | None]] = [
            (int(r), int(e), None) for r, e in zip(records, extra, strict=True)
        ]
        events = sorted(kept + [(rec, nl, rej) for rec, nl, rej in shifts], key=lambda x: x[0])
        lines = np.empty(n, dtype=np.int64)
        position = {int(r): i for i, r in enumerate(records)}
        offset = self.offset
        for record, newlines, skipped_reject in events:
            if skipped_reject is None:
                lines[position[record]] = record + offset
            else:
                skipped_reject.row_number = record + offset
            offset += newlines
        self.offset = offset
        if n:
            self.next_record = int(records[-1]) + 1
        return lines

    def finish(self) -> None:
        """Give the skipped rows after the last kept row their physical line numbers."""
        offset = self.offset
        for rec, nl, rej in self.skipped[self._applied :]:
            rej.row_number = rec + offset
            offset += nl
        self._applied = len(self.skipped)


def _iter_boston_batches(
    path: Path, catalogue: Catalogue, tz: str, batch_size: int, on_rows: Callable[[int], None]
) -> Iterator[tuple[_Batch, _BostonBatcher]]:
    with _open_text(path) as fh:
        try:
            header = next(csv.reader(fh))
        except StopIteration:
            raise InputError("the file is empty: expected a header row", field="header") from None
    batcher = _BostonBatcher(header, catalogue, tz)
    width = len(header)
    names = [f"c{i}" for i in range(width)]
    early: list[Reject] = []
    numbers = _LineNumbers()

    def on_invalid(row: Any) -> str:
        record = int(row.number) if row.number is not None else -1
        reject = Reject(
            record,
            "row",
            f"row has {row.actual_columns} columns but the header has {width}; "
            "check for a missing or extra comma",
            str(row.text),
        )
        early.append(reject)
        numbers.skip(record, str(row.text), reject)
        return "skip"

    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    source = pa.input_stream(str(path), compression="gzip" if gzipped else None)
    try:
        reader = pa_csv.open_csv(
            source,
            read_options=pa_csv.ReadOptions(
                use_threads=False,
                block_size=8 << 20,
                skip_rows=1,
                column_names=names,
                encoding="utf8",
            ),
            parse_options=pa_csv.ParseOptions(
                invalid_row_handler=on_invalid, ignore_empty_lines=False, newlines_in_values=True
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
            ),
        )
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for record_batch in _batches(reader):
            pending.append(record_batch)
            pending_rows += record_batch.num_rows
            if pending_rows >= batch_size:
                yield _process_arrow(batcher, pending, numbers, early, on_rows), batcher
                pending, pending_rows, early[:] = [], 0, []
        if pending or early:
            yield _process_arrow(batcher, pending, numbers, early, on_rows, final=True), batcher
    except pa.ArrowInvalid as exc:
        raise InputError(
            f"the CSV cannot be parsed after record {numbers.next_record - 1}: {exc}; "
            "fix the quoting",
            field="row",
        ) from None
    finally:
        source.close()


def _batches(reader: Any) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            yield reader.read_next_batch()
        except StopIteration:
            return


def _process_arrow(
    batcher: _BostonBatcher,
    pending: list[pa.RecordBatch],
    numbers: _LineNumbers,
    early: list[Reject],
    on_rows: Callable[[int], None],
    *,
    final: bool = False,
) -> _Batch:
    lines = (
        np.concatenate([numbers.assign(b) for b in pending])
        if pending
        else np.array([], dtype=np.int64)
    )
    if final:
        numbers.finish()
    if pending:
        table = pa.Table.from_batches(pending)
        df = table.to_pandas()
        df.columns = range(len(df.columns))
        batch = batcher.process(df, lines.tolist())
    else:
        batch = _Batch(rows_to_frame([]), [])
    batch.rejects[:0] = list(early)
    on_rows(int(lines.size) + len(early))
    return batch


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
    record : dict
        One element of a GeoReport v2 ``requests.json`` list.
    catalogue : Catalogue
        Service catalogue (``service_code`` must be in it).
    tz : str
        Time zone for times written without an offset.

    Returns
    -------
    dict
        The row for :meth:`geo311.store.Store.insert_request_rows`.

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
    for number, record in enumerate(data, start=1):
        try:
            row = open311_record_to_row(record, catalogue, tz)
            if row["service_request_id"] in seen:
                raise InputError(
                    f"duplicate service_request_id {row['service_request_id']}: same id as "
                    f"element {seen[row['service_request_id']]}; keep one per request",
                    field="service_request_id",
                )
            seen[row["service_request_id"]] = number
            rows.append(row)
        except InputError as exc:
            raw = json.dumps(record, default=str)[:2000]
            rejects.append(Reject(number, exc.field or "row", str(exc), raw))
        if len(rows) + len(rejects) >= batch_size:
            on_rows(len(rows) + len(rejects))
            yield _Batch(rows_to_frame(rows), rejects)
            rows, rejects = [], []
    on_rows(len(rows) + len(rejects))
    yield _Batch(rows_to_frame(rows), rejects)


def _store_batch(
    store: Store,
    run_id: int,
    batch: _Batch,
    summary: ImportSummary,
    *,
    sources_empty_at_start: frozenset[str] = frozenset(),
) -> None:
    frame = batch.frame
    with store.begin() as conn:
        is_new = np.ones(len(frame), dtype=bool)
        is_changed = np.zeros(len(frame), dtype=bool)
        for source, part in frame.groupby("source", sort=False):
            if source in sources_empty_at_start:
                # Nothing of this source was stored before this import, and a file cannot
                # repeat an id (the repeat is rejected): every row is new.
                continue
            existing = store.existing_hashes(conn, str(source), part["source_id"].tolist())
            if not existing:
                continue
            for pos, sid, h in zip(part.index, part["source_id"], part["row_hash"], strict=True):
                found = existing.get(sid)
                if found is None:
                    continue
                is_new[pos] = False
                if found[1] != h:
                    is_changed[pos] = True
                    frame.at[pos, "service_request_id"] = found[0]
        store.insert_request_frame(conn, frame[is_new])
        store.update_request_rows(conn, _frame_rows(frame[is_changed]))
        store.add_rejects(conn, run_id, [r.as_dict() for r in batch.rejects])
    summary.new += int(is_new.sum())
    summary.updated += int(is_changed.sum())
    summary.unchanged += int((~is_new & ~is_changed).sum())
    summary.rejected += len(batch.rejects)
    summary.needs_geocoding += int(frame["needs_geocoding"].astype(bool).sum())
    for rj in batch.rejects:
        summary.rejected_by_reason[f"{rj.field}: {_reason_kind(rj.reason)}"] += 1


def _frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for rec in frame.to_dict("records"):
        for key, value in rec.items():
            if value is pd.NaT or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
                rec[key] = None
            elif isinstance(value, pd.Timestamp):
                rec[key] = value.to_pydatetime()
        rows.append({str(k): v for k, v in rec.items()})
    return rows


def _reason_kind(reason: str) -> str:
    # Group reasons in the summary without the row-specific values.
    for marker in (
        "unparseable date",
        "duplicate",
        "not a number",
        "is outside",
        "columns but",
        "empty line",
        "missing",
        "closed before",
        "not in the catalogue",
        "neither Open",
    ):
        if marker in reason:
            return marker
    return reason.split(";")[0][:60]


def _boston_batches_here(
    path: Path,
    catalogue: Catalogue,
    tz: str,
    batch_size: int,
    on_rows: Callable[[int], None],
    unknown: list[Counter[str]],
) -> Iterator[_Batch]:
    for batch, batcher in _iter_boston_batches(path, catalogue, tz, batch_size, on_rows):
        unknown[:] = [batcher.unknown_types]
        yield batch


def _parse_in_child(path: Path, catalogue: Catalogue, tz: str, batch_size: int, out: Any) -> None:
    """Child process: parse and validate, send ``("batch", n_rows, batch)`` items."""
    try:
        rows = [0]

        def count(n: int) -> None:
            rows[0] = n

        last: Counter[str] = Counter()
        for batch, batcher in _iter_boston_batches(path, catalogue, tz, batch_size, count):
            last = batcher.unknown_types
            out.put(("batch", rows[0], batch))
        out.put(("done", 0, last))
    except Exception as exc:  # re-raised in the parent with its message
        field_name = getattr(exc, "field", None)
        out.put(("error", 0, (type(exc).__name__, str(exc), field_name)))


def _boston_batches_from_subprocess(
    path: Path,
    catalogue: Catalogue,
    tz: str,
    batch_size: int,
    on_rows: Callable[[int], None],
    unknown: list[Counter[str]],
) -> Iterator[_Batch]:
    """Parse in a forked child process (its own core and interpreter) and yield its batches."""
    context = multiprocessing.get_context("fork")
    channel = context.Queue(maxsize=3)
    child = context.Process(
        target=_parse_in_child,
        args=(path, catalogue, tz, batch_size, channel),
        name="geo311-import-parser",
        daemon=True,
    )
    child.start()
    try:
        while True:
            try:
                kind, n_rows, payload = channel.get(timeout=1.0)
            except queue.Empty:
                if not child.is_alive():
                    raise InputError(
                        f"the parsing process for {path} stopped (exit code {child.exitcode}); "
                        "run the import again with parse_in_subprocess=False to see why",
                        field="path",
                    ) from None
                continue
            if kind == "batch":
                on_rows(n_rows)
                yield payload
            elif kind == "done":
                unknown[:] = [payload]
                return
            else:
                name, message, field_name = payload
                if name in ("InputError", "ConfigurationError"):
                    raise InputError(message, field=field_name)
                raise RuntimeError(f"parsing {path} failed: {name}: {message}")
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=5)


def _parse_while_writing(batches: Iterator[_Batch], write: Callable[[_Batch], None]) -> None:
    """Write each batch in a second thread while the next one is parsed (both cores work).

    Batches are written in order, one transaction each. An error on either side stops the
    import after the batches already handed to the writer; committed batches stay.
    """
    handoff: queue.Queue[_Batch | None] = queue.Queue(maxsize=2)
    failure: list[BaseException] = []

    def writer() -> None:
        while (batch := handoff.get()) is not None:
            if failure:
                continue
            try:
                write(batch)
            except BaseException as exc:  # re-raised in the parsing thread
                failure.append(exc)

    thread = threading.Thread(target=writer, name="geo311-import-writer", daemon=True)
    thread.start()
    try:
        for batch in batches:
            if failure:
                break
            handoff.put(batch)
    finally:
        handoff.put(None)
        thread.join()
    if failure:
        raise failure[0]


def write_rejects_csv(rejects: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write rejected rows (row_number, field, reason, raw) to a CSV file.

    Parameters
    ----------
    rejects : sequence of dict
        Rejects as stored by the import.
    path : str or Path
        Output file.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(
            fh, fieldnames=["row_number", "field", "reason", "raw"], extrasaction="ignore"
        )
        w.writeheader()
        for r in rejects:
            w.writerow(r)
    return path


def import_file(
    store: Store,
    path: str | Path,
    catalogue: Catalogue,
    *,
    timezone: str | None = None,
    rejects_path: str | Path | None = None,
    batch_size: int = 20_000,
    progress: bool = False,
    bulk: bool | None = None,
    parse_in_subprocess: bool | None = None,
) -> ImportSummary:
    """Import a Boston CSV export (either schema, plain or gzip) or an Open311 JSON file.

    Parameters
    ----------
    store : Store
        Where the requests go.
    path : str or Path
        The input file.
    catalogue : Catalogue
        Service catalogue (maps Boston types and validates service codes).
    timezone : str, keyword-only, optional
        Local time zone of times written without an offset (default: the city profile's).
    rejects_path : str or Path, keyword-only, optional
        Where to write the rejects CSV; default ``./<file name>.rejects.csv`` (only written
        when anything is rejected).
    batch_size : int, keyword-only
        Rows per transaction.
    progress : bool, keyword-only
        Show a progress bar on stderr.
    bulk : bool, keyword-only, optional
        Rebuild the secondary indexes after the load instead of updating them row by row
        (see :meth:`geo311.store.Store.bulk_load`). Default: when the file likely holds more
        rows than the store.
    parse_in_subprocess : bool, keyword-only, optional
        Parse a Boston CSV in a second process while this one writes (uses both cores).
        Default: with ``bulk``.

    Returns
    -------
    ImportSummary
        Counts of new, updated, unchanged and rejected rows.

    Raises
    ------
    InputError
        If the file is missing or is neither format (row-level problems are rejects instead).
    """
    import time

    from tqdm import tqdm

    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"input file {path} does not exist; give the path of a Boston CSV or Open311 JSON file",
            field="path",
        )
    t0 = time.perf_counter()
    timezone = timezone or default_city().timezone
    fmt = detect_format(path)
    summary = ImportSummary(path=str(path), format=fmt)
    with store.begin() as conn:
        run_id = store.start_import_run(conn, str(path))
    summary.import_run_id = run_id
    bar = tqdm(desc=f"importing {path.name}", unit=" rows", disable=not progress, mininterval=0.5)

    def on_rows(n: int) -> None:
        summary.rows_read += n
        bar.update(n)

    empty = frozenset(
        src for src in (BOSTON_SOURCE, OPEN311_SOURCE) if store.count_requests(source=src) == 0
    )
    if bulk is None:
        bulk = path.stat().st_size / _BYTES_PER_ROW_ESTIMATE > max(100_000, store.count_requests())
    try:
        with store.bulk_load() if bulk else nullcontext():

            def write(batch: _Batch) -> None:
                _store_batch(store, run_id, batch, summary, sources_empty_at_start=empty)

            if fmt == "open311_json":
                with _open_text(path) as fh:
                    _parse_while_writing(
                        _iter_open311_batches(fh, catalogue, timezone, batch_size, on_rows), write
                    )
            else:  # the Boston readers open the file themselves (pyarrow stream)
                unknown: list[Counter[str]] = []
                if parse_in_subprocess if parse_in_subprocess is not None else bulk:
                    batches = _boston_batches_from_subprocess(
                        path, catalogue, timezone, batch_size, on_rows, unknown
                    )
                else:
                    batches = _boston_batches_here(
                        path, catalogue, timezone, batch_size, on_rows, unknown
                    )
                _parse_while_writing(batches, write)
                if unknown:
                    summary.unknown_types = unknown[0]
    finally:
        bar.close()
    summary.seconds = time.perf_counter() - t0
    if summary.rejected:
        out = Path(rejects_path) if rejects_path else Path.cwd() / (path.name + ".rejects.csv")
        summary.rejects_path = str(write_rejects_csv(store.rejects_of(run_id), out))
    store.finish_import_run(run_id, summary.as_dict())
    return summary
