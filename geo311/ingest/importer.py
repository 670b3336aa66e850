"""Import 311 service requests: Boston CSV exports (2015 and current schema) and Open311 JSON.

The pipeline; the readers are :mod:`geo311.ingest.boston` (CSV) and :mod:`geo311.ingest.open311_json`.

Every row is validated. Bad rows are rejected with their row number, field and reason (kept
in the store and written to a rejects CSV); good rows are upserted on their source id, one
transaction per batch, so re-importing a file adds nothing and a changed row updates.

Reporters' contact details (``email``, ``first_name``, ``last_name``, ``phone``), when a file
has them, go to the private contacts table in the same transaction as their rows (one row per
request: a re-import updates it and keeps an unsubscribe); the public request never holds them.
"""

from __future__ import annotations

import csv
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo311.city.catalogue import OTHER_SERVICE_CODE, Catalogue
from geo311.city.profile import default_city
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.ingest import runs
from geo311.ingest.boston import _boston_batches_from_subprocess, _boston_batches_here
from geo311.ingest.boston_rows import BOSTON_2015_COLUMNS, CLOSURE_STATES, REQUIRED_COLUMNS
from geo311.ingest.open311_json import _iter_open311_batches, open311_record_to_row
from geo311.ingest.rows import BOSTON_SOURCE, Reject, _Batch, _open_text, rows_to_frame
from geo311.model import OPEN311_SOURCE
from geo311.notify.contacts import save_contacts
from geo311.requests import repo as request_repo

__all__ = [
    "BOSTON_2015_COLUMNS",
    "BOSTON_SOURCE",
    "CLOSURE_STATES",
    "OPEN311_SOURCE",
    "REQUIRED_COLUMNS",
    "ImportSummary",
    "Reject",
    "detect_format",
    "import_file",
    "open311_record_to_row",
    "rows_to_frame",
    "write_rejects_csv",
]


# Compressed files count more: about 50 bytes a row gzipped, 250 plain.
_BYTES_PER_ROW_ESTIMATE = 200


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


def detect_format(path: Path) -> str:
    """Return ``boston_csv`` or ``open311_json`` for an input file.

    Parameters
    ----------
    path
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
        stored_ids: dict[int, str] = {}  # frame position -> id of the row stored before
        for source, part in frame.groupby("source", sort=False):
            if source in sources_empty_at_start:
                # Nothing of this source was stored before this import, and a file cannot
                # repeat an id (the repeat is rejected): every row is new.
                continue
            existing = request_repo.existing_hashes(
                store, conn, str(source), part["source_id"].tolist()
            )
            if not existing:
                continue
            for pos, sid, h in zip(part.index, part["source_id"], part["row_hash"], strict=True):
                found = existing.get(sid)
                if found is None:
                    continue
                is_new[pos] = False
                stored_ids[pos] = found[0]
                if found[1] != h:
                    is_changed[pos] = True
                    frame.at[pos, "service_request_id"] = found[0]
        request_repo.insert_request_frame(store, conn, frame[is_new])
        request_repo.update_request_rows(store, conn, _frame_rows(frame[is_changed]))
        runs.add_rejects(store, conn, run_id, [r.as_dict() for r in batch.rejects])
        ids = frame["service_request_id"]
        contacts = [
            {"service_request_id": str(stored_ids.get(pos, ids.at[pos])), **values}
            for pos, values in batch.contacts.items()
        ]
        save_contacts(conn, contacts)
    summary.new += int(is_new.sum())
    summary.updated += int(is_changed.sum())
    summary.unchanged += int((~is_new & ~is_changed).sum())
    summary.rejected += len(batch.rejects)
    summary.needs_geocoding += int(frame["needs_geocoding"].astype(bool).sum())
    for rj in batch.rejects:
        summary.rejected_by_reason[f"{rj.field}: {rj.kind}"] += 1


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
    rejects
        Rejects as stored by the import.
    path
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


@dataclass(frozen=True, kw_only=True)
class ImportOptions:
    """How :func:`import_file` reads and writes a file; the defaults suit most imports.

    Parameters
    ----------
    timezone : str, optional
        Local time zone of times written without an offset (default: the city profile's).
    rejects_path : str or Path, optional
        Where to write the rejects CSV; default ``./<file name>.rejects.csv`` (only written
        when anything is rejected).
    batch_size : int
        Rows per transaction.
    progress : bool
        Show a progress bar on stderr.
    bulk : bool, optional
        Rebuild the secondary indexes after the load instead of updating them row by row
        (see :meth:`geo311.db.store.Store.bulk_load`). Default: when the file likely holds more
        rows than the store.
    parse_in_subprocess : bool, optional
        Parse a Boston CSV in a second process while this one writes (uses both cores).
        Default: with ``bulk``.
    """

    timezone: str | None = None
    rejects_path: str | Path | None = None
    batch_size: int = 20_000
    progress: bool = False
    bulk: bool | None = None
    parse_in_subprocess: bool | None = None


def import_file(
    store: Store,
    path: str | Path,
    catalogue: Catalogue,
    options: ImportOptions | None = None,
) -> ImportSummary:
    """Import a Boston CSV export (either schema, plain or gzip) or an Open311 JSON file.

    Parameters
    ----------
    store
        Where the requests go.
    path
        The input file.
    catalogue
        Service catalogue (maps Boston types and validates service codes).
    options
        How to read and write (time zone, rejects file, batch size, bulk load...);
        :class:`ImportOptions` defaults when omitted.

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
    opts = options or ImportOptions()
    timezone = opts.timezone or default_city().timezone
    batch_size, bulk, parse_in_subprocess = opts.batch_size, opts.bulk, opts.parse_in_subprocess
    fmt = detect_format(path)
    summary = ImportSummary(path=str(path), format=fmt)
    with store.begin() as conn:
        run_id = runs.start_import_run(store, conn, str(path))
    summary.import_run_id = run_id
    bar = tqdm(
        desc=f"importing {path.name}", unit=" rows", disable=not opts.progress, mininterval=0.5
    )

    def on_rows(n: int) -> None:
        summary.rows_read += n
        bar.update(n)

    empty = frozenset(
        src
        for src in (BOSTON_SOURCE, OPEN311_SOURCE)
        if request_repo.count_requests(store, source=src) == 0
    )
    if bulk is None:
        bulk = path.stat().st_size / _BYTES_PER_ROW_ESTIMATE > max(
            100_000, request_repo.count_requests(store)
        )
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
        out = (
            Path(opts.rejects_path)
            if opts.rejects_path
            else Path.cwd() / (path.name + ".rejects.csv")
        )
        summary.rejects_path = str(write_rejects_csv(runs.rejects_of(store, run_id), out))
    runs.finish_import_run(store, run_id, summary.as_dict())
    return summary
