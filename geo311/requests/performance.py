"""The city's service record for a period: the figures residents and planners both see.

One function computes the figures of a period (:func:`period_metrics`): the planner's dashboard
and the public ``/performance`` page both call it, so they never disagree. A request belongs to a
period when it was *received* between the period's first and last day (local dates, both
included); it counts as closed when it has a closing time (also after the period); its days to
close are from receipt to closing; it was closed within target when it was closed by its
service-level target. :data:`DEFINITIONS` says so in plain words for the page and the files.

Only aggregate figures and the points of open and recently fixed work leave this module: no
description, contact, address or photo.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo311.city.catalogue import Catalogue
from geo311.errors import InputError
from geo311.i18n import N_
from geo311.requests.metrics import BacklogColumns, backlog_by_age, compute_metrics

__all__ = [
    "BACKLOG_BINS_DAYS",
    "DEFINITIONS",
    "DEFAULT_DAYS",
    "FIGURE_COLUMNS",
    "Period",
    "PerformanceReport",
    "backlog_at_end",
    "default_period",
    "parse_period",
    "performance_report",
    "period_metrics",
    "recent_work_points",
    "select_requests",
    "weekly_trend",
]

DEFAULT_DAYS = 90
"""The default period: the last 90 days of the data."""
RECENT_FIXED_DAYS = 14
"""The map shows work fixed in the period's last 14 days, besides what is open at its end."""
MAP_POINTS_MAX = 5000
"""At most this many points on the map (the newest first); the page says when it cuts."""
BACKLOG_BINS_DAYS = (0, 2, 7, 30, 90)
TARGET_COLUMN = "sla_target_datetime"
"""The requests frame's column holding each request's service-level target."""
UNKNOWN_AREA = N_("Unknown area")
"""Shown for requests with no neighbourhood."""

FIGURE_COLUMNS = {
    "requests": N_("requests received in the period"),
    "closed": N_("of them closed (by the time the data was last updated)"),
    "open": N_("of them still open"),
    "median_days_to_close": N_("median days from receipt to closing (closed requests)"),
    "p90_days_to_close": N_("90th percentile of days to close: 9 in 10 were closed within it"),
    "share_within_target": N_(
        "share of the closed requests closed within the service-level target"
    ),
}
"""The figures' columns (CSV, JSON and the page's tables) and what each means."""

DEFINITIONS = {
    "period": N_(
        "A request belongs to the period when it was received between the first and the "
        "last day shown (both included, local time)."
    ),
    "closed": N_(
        "A request is closed when the City has recorded it as closed (fixed, or closed "
        "for another reason such as a duplicate); it then counts as closed even when that "
        "happened after the period."
    ),
    "days_to_close": N_(
        "Days to close run from the moment the request was received to the moment it was closed."
    ),
    "target": N_(
        "The service-level target is the time by which the City aims to close a request "
        "of that service (from the City's own data, else the service catalogue); it never moves "
        "because work was scheduled."
    ),
    "backlog": N_(
        "The backlog counts the requests still open at the end of the period, by how "
        "long they had been open then; overdue means past their target."
    ),
}
"""Plain-language definitions shown on the page and carried by the JSON file."""


@dataclass(frozen=True)
class Period:
    """A period of local dates, both included."""

    start: date
    end: date

    def bounds(self, tz: ZoneInfo) -> tuple[pd.Timestamp, pd.Timestamp]:
        """Return the period's first and end moments (``start <= t < end``) in UTC."""
        first = datetime.combine(self.start, time.min, tz)
        after = datetime.combine(self.end + timedelta(days=1), time.min, tz)
        return pd.Timestamp(first).tz_convert("UTC"), pd.Timestamp(after).tz_convert("UTC")


def default_period(latest: date | None, *, days: int = DEFAULT_DAYS) -> Period:
    """Return the last ``days`` days of the data (ending on the day of its latest request).

    Parameters
    ----------
    latest
        The local date of the latest request received; None (no data): today.
    days
        The period's length.
    """
    end = latest or date.today()
    return Period(end - timedelta(days=days - 1), end)


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{name}: {value!r} is not a date; write it as YYYY-MM-DD (e.g. 2015-01-01)",
            field=name,
        ) from None


def parse_period(start: str | None, end: str | None, *, latest: date | None) -> Period:
    """Return the period a reader chose (``from`` / ``to``, ISO dates), defaults filled in.

    Raises
    ------
    InputError
        Naming ``from`` or ``to``: not a date, or ``from`` after ``to``.
    """
    default = default_period(latest)
    last = _date(end, "to") if end else default.end
    first = _date(start, "from") if start else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InputError(
            f"from: {first} is after to ({last}); choose a first day before the last", field="from"
        )
    return Period(first, last)


def in_period(frame: pd.DataFrame, period: Period, tz: ZoneInfo) -> pd.DataFrame:
    """Return the requests of ``frame`` received in ``period``."""
    first, after = period.bounds(tz)
    received = frame["requested_datetime"]
    return frame.loc[(received >= first) & (received < after)]


def select_requests(
    frame: pd.DataFrame,
    *,
    services: Sequence[str] = (),
    neighbourhoods: Sequence[str] = (),
) -> pd.DataFrame:
    """Return the requests of some services and/or neighbourhoods (empty choice: all of them).

    Parameters
    ----------
    frame
        Requests (:func:`geo311.requests.metrics.requests_frame`).
    services
        Service codes to keep.
    neighbourhoods
        Neighbourhood names to keep (``""``: the requests with no neighbourhood).
    """
    keep = pd.Series(True, index=frame.index)
    if services:
        keep &= frame["service_code"].isin(list(services))
    if neighbourhoods:
        keep &= frame["neighborhood"].fillna("").isin(list(neighbourhoods))
    return frame.loc[keep]


def period_metrics(
    frame: pd.DataFrame, period: Period | None, *, by: Sequence[str], tz: ZoneInfo
) -> pd.DataFrame:
    """Compute the metrics of the requests received in a period (the one function for both).

    Parameters
    ----------
    frame
        Requests (:func:`geo311.requests.metrics.requests_frame`).
    period
        The period; None: every request.
    by
        Grouping (``service`` and/or ``neighborhood``), see :func:`geo311.requests.metrics.compute_metrics`.
    tz
        The city's time zone (the period's days are local).

    Returns
    -------
    DataFrame
        :func:`geo311.requests.metrics.compute_metrics`'s table for those requests, ``all`` row last.
    """
    chosen = frame if period is None else in_period(frame, period, tz)
    return compute_metrics(chosen, by=by)


def weekly_trend(frame: pd.DataFrame, period: Period, *, tz: ZoneInfo) -> pd.DataFrame:
    """Return per week (Monday first) of the period: received, closed, median days to close.

    ``closed`` and the median count the requests *closed* that week (whenever received).
    """
    first, after = period.bounds(tz)

    def week(times: pd.Series) -> pd.Series:
        local = times.dt.tz_convert(tz).dt.tz_localize(None).dt.normalize()
        monday: pd.Series = (local - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.date
        return monday

    received = in_period(frame, period, tz)
    closed_at = frame["closed_datetime"]
    closed = frame.loc[closed_at.notna() & (closed_at >= first) & (closed_at < after)]
    days = (closed["closed_datetime"] - closed["requested_datetime"]).dt.total_seconds() / 86400.0
    start = period.start - timedelta(days=period.start.weekday())
    weeks = [start + timedelta(days=7 * i) for i in range((period.end - start).days // 7 + 1)]
    table = pd.DataFrame({"week_start": weeks})
    table["received"] = table["week_start"].map(week(received["requested_datetime"]).value_counts())
    by_week = days.groupby(week(closed["closed_datetime"]))
    table["closed"] = table["week_start"].map(by_week.size())
    table["median_days_to_close"] = table["week_start"].map(by_week.median())
    return table.fillna({"received": 0, "closed": 0}).astype({"received": int, "closed": int})


def backlog_at_end(frame: pd.DataFrame, period: Period, *, tz: ZoneInfo) -> pd.DataFrame:
    """Return what was open at the end of the period per service, by age, with how much overdue."""
    _first, after = period.bounds(tz)
    table = backlog_by_age(
        frame,
        at=after.to_pydatetime(),
        bins_days=BACKLOG_BINS_DAYS,
        columns=BacklogColumns(due=TARGET_COLUMN),
    )
    return table.loc[table["open"] > 0].reset_index(drop=True)


def recent_work_points(
    points: pd.DataFrame, period: Period, *, tz: ZoneInfo, limit: int = MAP_POINTS_MAX
) -> tuple[list[list[Any]], int]:
    """Return the map's points: open at the end of the period, or fixed in its last days.

    Parameters
    ----------
    points
        Requests with ``lat``, ``lon``, ``service_code``, ``requested_datetime``,
        ``closed_datetime``.
    period, tz
        The period and the city's time zone.
    limit
        Most points returned (the newest).

    Returns
    -------
    (list of [lat, lon, "open" | "fixed", service_code], int)
        The points (coordinates rounded to 5 decimals, about a metre) and how many there were.
    """
    _first, after = period.bounds(tz)
    recent = after - pd.Timedelta(days=RECENT_FIXED_DAYS)
    closed = points["closed_datetime"]
    located = points["lat"].notna() & points["lon"].notna()
    received = points["requested_datetime"] < after
    is_open = received & (closed.isna() | (closed >= after))
    fixed = closed.notna() & (closed >= recent) & (closed < after)
    keep = located & (is_open | fixed)
    chosen = points.loc[keep].copy()
    chosen["kind"] = np.where(is_open[keep], "open", "fixed")
    chosen = chosen.sort_values("requested_datetime", ascending=False)
    head = chosen.head(limit)
    rows = [
        [round(lat, 5), round(lon, 5), str(kind), str(code)]
        for lat, lon, kind, code in zip(
            head["lat"].astype(float).tolist(),
            head["lon"].astype(float).tolist(),
            head["kind"],
            head["service_code"],
            strict=True,
        )
    ]
    return rows, len(chosen)


@dataclass(frozen=True)
class PerformanceReport:
    """A period's figures: by service and neighbourhood, the backlog, the weekly trend, the map."""

    period: Period
    by_service: pd.DataFrame
    by_neighbourhood: pd.DataFrame
    backlog: pd.DataFrame
    weekly: pd.DataFrame
    points: list[list[Any]]
    points_total: int
    data_as_of: datetime | None


def _named(table: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    out = table.rename(columns={"share_within_sla": "share_within_target"})
    if "service" in out.columns:
        out.insert(1, "service_name", [names.get(str(c), str(c)) for c in out["service"]])
        out = out.rename(columns={"service": "service_code"})
    if "neighborhood" in out.columns:
        out["neighborhood"] = out["neighborhood"].replace("", UNKNOWN_AREA).fillna(UNKNOWN_AREA)
        out = out.rename(columns={"neighborhood": "neighbourhood"})
    return out


def performance_report(
    frame: pd.DataFrame,
    points: pd.DataFrame,
    period: Period,
    *,
    catalogue: Catalogue,
    tz: ZoneInfo,
) -> PerformanceReport:
    """Compute a period's public figures.

    Parameters
    ----------
    frame
        Requests (:func:`geo311.requests.metrics.requests_frame`).
    points
        Requests' points and times (:func:`geo311.requests.open_data.request_points`).
    period
        The period.
    catalogue
        Gives the services' names.
    tz
        The city's time zone.
    """
    names = {code: s.name for code, s in catalogue.services.items()}
    by_service = _named(period_metrics(frame, period, by=["service"], tz=tz), names)
    by_area = _named(period_metrics(frame, period, by=["neighborhood"], tz=tz), names)
    backlog = _named(backlog_at_end(frame, period, tz=tz), names)
    shown, total = recent_work_points(points, period, tz=tz)
    latest = frame["requested_datetime"].max() if len(frame) else None
    return PerformanceReport(
        period=period,
        by_service=by_service,
        by_neighbourhood=by_area,
        backlog=backlog,
        weekly=weekly_trend(frame, period, tz=tz),
        points=shown,
        points_total=total,
        data_as_of=None if latest is None or pd.isna(latest) else latest.to_pydatetime(),
    )
