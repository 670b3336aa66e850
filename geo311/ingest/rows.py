"""What the import readers hand the pipeline: request rows, rejects and batches of both."""

from __future__ import annotations

import gzip
import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pandas as pd

from geo311.db.store import REQUEST_COLUMNS
from geo311.notify.contacts import CONTACT_FIELDS, contact_values

BOSTON_SOURCE = "boston"


@dataclass
class Reject:
    """A rejected input row: where it is, which field is at fault, why, and the raw text.

    ``kind`` is the check that failed, without the row's values (what an import's summary
    counts); ``reason`` is the full message with them.
    """

    row_number: int
    field: str
    reason: str
    raw: str = ""
    kind: str = "invalid value"

    def as_dict(self) -> dict[str, Any]:
        """Return the reject as a plain dict (the rejects CSV's columns)."""
        return {
            "row_number": self.row_number,
            "field": self.field,
            "reason": self.reason,
            "raw": self.raw,
        }


@dataclass
class _Batch:
    frame: pd.DataFrame  # good rows, columns = store.REQUEST_COLUMNS, times tz-aware UTC
    rejects: list[Reject]
    # Reporters' contacts (private, never in the frame): frame position -> contact_values().
    contacts: dict[int, dict[str, str]] = field(default_factory=dict)


def row_contact(values: Mapping[str, Any]) -> dict[str, str] | None:
    """Return the checked contact details of an input row, or None when it gives none.

    Parameters
    ----------
    values
        The row's ``email``, ``first_name``, ``last_name``, ``phone`` (missing keys are empty).

    Raises
    ------
    InputError
        If the e-mail is not an e-mail address (field ``email``).
    """
    given = {k: str(values.get(k) or "").strip() for k in CONTACT_FIELDS}
    if not any(given.values()):
        return None
    return contact_values(**given)


def _row_hash(values: Sequence[str]) -> str:
    return hashlib.blake2b("\x1f".join(values).encode(), digest_size=12).hexdigest()


_TIME_COLUMNS = (
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "sla_target_datetime",
    "closed_datetime",
)


def rows_to_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Return request rows (dicts of column values) as a frame of the store's columns.

    Parameters
    ----------
    rows
        Rows as made by :func:`open311_record_to_row` or :func:`geo311.db.store.request_to_row`.

    Returns
    -------
    DataFrame
        One row per request; time columns are tz-aware UTC.
    """
    frame = pd.DataFrame(list(rows), columns=list(REQUEST_COLUMNS))
    for col in _TIME_COLUMNS:
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return path.open("r", encoding="utf-8-sig", newline="")
