"""Boston 311 export rows: the two schemas' columns, and a chunk checked into requests and rejects."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo311.city.catalogue import OTHER_SERVICE_CODE, Catalogue
from geo311.city.profile import default_city
from geo311.db.store import REQUEST_COLUMNS
from geo311.errors import InputError
from geo311.ingest.rows import (
    BOSTON_SOURCE,
    Reject,
    _Batch,
    row_contact,
)
from geo311.notify.contacts import CONTACT_FIELDS

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


def parse_times(col: pd.Series, fmt: str | None, tz: str) -> pd.Series:
    """Parse a column of local times (``fmt``, else ISO / the exports' own forms) to UTC."""
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


def collapse_spaces(text: pd.Series) -> pd.Series:
    """Return the strings with runs of white space made one space, trimmed (vectorised)."""
    arrow = pa.array(text.astype(str).tolist() if text.dtype == object else text, type=pa.string())
    out = pc.utf8_trim_whitespace(
        pc.replace_substring_regex(arrow, pattern=r"\s+", replacement=" ")
    )
    return pd.Series(out.to_pylist(), index=text.index, dtype=object)


class BostonBatcher:
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
        """Return the column of a canonical name (empty strings when the export lacks it)."""
        if name in self.index:
            return df[self.index[name]]
        return pd.Series([""] * len(df), index=df.index, dtype=object)

    def process(self, df: pd.DataFrame, line_numbers: list[int]) -> _Batch:
        """Check one chunk: its valid rows as a batch of requests, the others as rejects."""
        # df: one string column per header column (positional labels), one row per record.
        n = len(df)
        blank = np.ones(n, dtype=bool)
        for column in df.columns:
            blank &= (df[column] == "").to_numpy()
        rj = Rejecter(n, self.display)
        rj.reject(blank, "row", "empty line; remove it")
        ids = self._check_ids(df, rj, line_numbers)
        times = self._check_times(df, rj)
        lat, lon = self._check_points(df, rj)
        types = self.col(df, "type").str.strip()
        rj.reject((types == "").to_numpy(), "type", "missing TYPE; give the Boston request type")
        status_raw = self.col(df, "case_status").str.strip().str.lower()
        bad_status = ~status_raw.isin(["open", "closed"]).to_numpy()
        rj.reject(bad_status, "case_status", "status {v!r} is neither Open nor Closed", status_raw)

        contacts = self._check_contacts(df, rj)
        placeholder = default_city().placeholder_mask(lat.to_numpy(), lon.to_numpy())
        needs_geo = placeholder | (lat.isna() | lon.isna()).to_numpy()
        good = rj.reason == ""
        rejects = [
            Reject(
                line_numbers[i],
                str(rj.fieldname[i]),
                str(rj.reason[i]),
                ",".join(df.iloc[i].tolist()),
                str(rj.kind[i]),
            )
            for i in np.flatnonzero(~good)
        ]
        if not good.any():
            return _Batch(pd.DataFrame(columns=list(REQUEST_COLUMNS)), rejects)
        checked = Checked(good, ids, times, lat, lon, types, status_raw, needs_geo)
        position = np.cumsum(good) - 1  # row of the chunk -> row of the frame of good rows
        kept = {int(position[i]): c for i, c in contacts.items() if good[i]}
        return _Batch(self._frame(df, checked), rejects, kept)

    def _check_contacts(self, df: pd.DataFrame, rj: Rejecter) -> dict[int, dict[str, str]]:
        """Return row -> reporter's contact, when the export has contact columns.

        Neither Boston schema has them; a city's own export may (``email``, ``first_name``,
        ``last_name``, ``phone``, any case). A row with a malformed e-mail is rejected.
        """
        present = [k for k in CONTACT_FIELDS if k in self.index]
        if not present:
            return {}
        values = {k: self.col(df, k).str.strip() for k in present}
        given = np.zeros(len(df), dtype=bool)
        for column in values.values():
            given |= (column != "").to_numpy()
        contacts: dict[int, dict[str, str]] = {}
        reasons = np.full(len(df), "", dtype=object)
        for i in np.flatnonzero(given):
            try:
                found = row_contact({k: v.iat[int(i)] for k, v in values.items()})
            except InputError as exc:
                reasons[i] = str(exc)
                continue
            if found is not None:
                contacts[int(i)] = found
        rj.reject(reasons != "", "email", "{v}", reasons, kind="not an e-mail address")
        return contacts

    def _check_ids(self, df: pd.DataFrame, rj: Rejecter, line_numbers: list[int]) -> pd.Series:
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
        rj.reject(dup_reason != "", "case_enquiry_id", "{v}", dup_reason, kind="duplicate id")
        return ids

    def _check_times(self, df: pd.DataFrame, rj: Rejecter) -> dict[str, pd.Series]:
        fmt_hint = "MM/DD/YYYY hh:mm:ss AM" if self.upper else "YYYY-MM-DD hh:mm:ss"
        times: dict[str, pd.Series] = {}
        for name in ("open_dt", "target_dt", "closed_dt"):
            raw = self.col(df, name)
            parsed = parse_times(raw, self.time_format, self.tz)
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

    def _check_points(self, df: pd.DataFrame, rj: Rejecter) -> tuple[pd.Series, pd.Series]:
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

    def _frame(self, df: pd.DataFrame, c: Checked) -> pd.DataFrame:
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
                # The City's target: the SLA target, and the expected time until a plan
                # gives an ETA.
                "expected_datetime": expected,
                "sla_target_datetime": expected,
                "closed_datetime": closed_at,
                "address": collapse_spaces(keep(self.col(df, "location"))),
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


class Rejecter:
    """The first reason (and field) each row of a chunk is rejected for."""

    def __init__(self, n: int, display: dict[str, str]) -> None:
        self.reason = np.full(n, "", dtype=object)
        self.fieldname = np.full(n, "", dtype=object)
        self.kind = np.full(n, "", dtype=object)
        self.display = display

    def reject(
        self, mask: np.ndarray, fld: str, why: str, values: Any = None, *, kind: str = ""
    ) -> None:
        """Reject rows in ``mask`` not yet rejected; ``why`` may format the value as ``{v}``.

        ``kind`` names the check for the import's summary; by default ``why`` up to its first
        ``;`` with the value left out.
        """
        m = mask & (self.reason == "")
        if not m.any():
            return
        self.fieldname[m] = self.display.get(fld, fld)
        self.kind[m] = kind or re.sub(r"\s*\{v[^}]*\}", "", why.split(";")[0]).strip()
        if values is None:
            self.reason[m] = why
        else:
            vals = np.asarray(values, dtype=object)
            for i in np.flatnonzero(m):
                self.reason[i] = why.format(v=vals[i])


@dataclass
class Checked:
    """The validated columns of a chunk, with the mask of rows that passed every check."""

    good: np.ndarray
    ids: pd.Series
    times: dict[str, pd.Series]
    lat: pd.Series
    lon: pd.Series
    types: pd.Series
    status_raw: pd.Series
    needs_geo: np.ndarray
