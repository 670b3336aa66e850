"""Boston 311 CSV exports (2015 upper-case schema and the current one): read, validate columnar.

The reader streams the file with pyarrow, turns each chunk into validated request rows and
rejects (:class:`BostonBatcher`), optionally in a second process. Neither Boston schema has
reporters' contacts; columns ``email``, ``first_name``, ``last_name``, ``phone`` (any case), when
an export has them, are taken into the private contacts table.
"""

from __future__ import annotations

import csv
import multiprocessing
import queue
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from geo311.city.catalogue import Catalogue
from geo311.errors import InputError
from geo311.ingest.boston_rows import BostonBatcher
from geo311.ingest.rows import (
    Reject,
    _Batch,
    _open_text,
    rows_to_frame,
)


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
) -> Iterator[tuple[_Batch, BostonBatcher]]:
    with _open_text(path) as fh:
        try:
            header = next(csv.reader(fh))
        except StopIteration:
            raise InputError("the file is empty: expected a header row", field="header") from None
    batcher = BostonBatcher(header, catalogue, tz)
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
            "column count differs from the header",
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
    batcher: BostonBatcher,
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
