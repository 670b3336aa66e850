"""Service metrics that matter to a public-works department.

Per service (and/or neighbourhood): requests, open, closed, median and 90th-percentile days
to close, and the share closed within the SLA (``closed_datetime <= sla_target_datetime``: the
service-level target, which a published plan's ETA never moves).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from geo311.db.store import Store
from geo311.errors import InputError
from geo311.model import WorkOrder
from geo311.requests import repo as request_repo

GROUP_COLUMNS = {"service": "service_code", "neighborhood": "neighborhood", "status": "status"}
_FRAME_COLUMNS = [
    "service_request_id",
    "service_code",
    "neighborhood",
    "status",
    "requested_datetime",
    "sla_target_datetime",
    "closed_datetime",
]


def requests_frame(store: Store) -> pd.DataFrame:
    """Return the stored requests' metric columns as a DataFrame (times tz-aware UTC).

    Parameters
    ----------
    store
        The store to read.

    Returns
    -------
    DataFrame
        One row per request.
    """
    frame = pd.DataFrame(
        request_repo.requests_frame_rows(store, _FRAME_COLUMNS), columns=_FRAME_COLUMNS
    )
    for col in ("requested_datetime", "sla_target_datetime", "closed_datetime"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def compute_metrics(frame: pd.DataFrame, *, by: Sequence[str] = ("service",)) -> pd.DataFrame:
    """Compute service metrics from a requests frame.

    Parameters
    ----------
    frame
        Columns as returned by :func:`requests_frame`.
    by
        Grouping: any of ``service``, ``neighborhood``, ``status``.

    Returns
    -------
    DataFrame
        One row per group plus a final ``all`` row: ``requests``, ``open``, ``closed``,
        ``median_days_to_close``, ``p90_days_to_close``, ``share_within_sla``.

    Raises
    ------
    InputError
        If ``by`` names an unknown grouping.
    """
    unknown = [b for b in by if b not in GROUP_COLUMNS]
    if unknown:
        raise InputError(
            f"by={unknown} is unknown; group by any of {', '.join(GROUP_COLUMNS)}", field="by"
        )
    cols = [GROUP_COLUMNS[b] for b in by]
    work = frame.copy()
    work["is_closed"] = work["closed_datetime"].notna()
    work["days_to_close"] = (
        work["closed_datetime"] - work["requested_datetime"]
    ).dt.total_seconds() / 86400.0
    work["within_sla"] = work["is_closed"] & (
        work["closed_datetime"] <= work["sla_target_datetime"]
    )

    def summarise(g: pd.DataFrame) -> pd.Series:
        closed_days = g.loc[g["is_closed"], "days_to_close"]
        n_closed = int(g["is_closed"].sum())
        return pd.Series(
            {
                "requests": len(g),
                "open": len(g) - n_closed,
                "closed": n_closed,
                "median_days_to_close": float(closed_days.median()) if n_closed else np.nan,
                "p90_days_to_close": float(closed_days.quantile(0.9)) if n_closed else np.nan,
                "share_within_sla": float(g["within_sla"].sum() / n_closed) if n_closed else np.nan,
            }
        )

    if cols and not work.empty:
        table = work.groupby(cols, sort=True)[list(work.columns)].apply(summarise).reset_index()
    else:
        table = pd.DataFrame(columns=cols)
    total = summarise(work).to_frame().T
    for c in cols:
        total[c] = "all"
    table = pd.concat([table, total[cols + list(total.columns.drop(cols))]], ignore_index=True)
    for c in ("requests", "open", "closed"):
        table[c] = table[c].astype(int)
    return table.rename(columns={v: k for k, v in GROUP_COLUMNS.items() if v in cols})


def service_metrics(store: Store, *, by: Sequence[str] = ("service",)) -> pd.DataFrame:
    """Compute the service metrics of every stored request.

    Parameters
    ----------
    store
        The store to read.
    by
        Grouping (see :func:`compute_metrics`).

    Returns
    -------
    DataFrame
        The metrics table.
    """
    return compute_metrics(requests_frame(store), by=by)


# Age buckets of the dispatcher's backlog of work orders: edges in days and their labels.
WORK_ORDER_AGE_BINS = (0.0, 2.0, 7.0, 30.0)
WORK_ORDER_AGE_LABELS = ("0-2 days", "2-7 days", "7-30 days", "30+ days")


def work_orders_frame(orders: Iterable[WorkOrder]) -> pd.DataFrame:
    """Return work orders as a frame :func:`backlog_by_age` counts (times tz-aware UTC).

    Parameters
    ----------
    orders
        The work orders.

    Returns
    -------
    DataFrame
        Columns ``service_group``, ``opened``, ``closed_datetime``, ``sla_due``,
        ``report_count``; one row per work order.
    """
    columns = ["service_group", "opened", "closed_datetime", "sla_due", "report_count"]
    frame = pd.DataFrame(
        [
            (wo.service_group, wo.opened, wo.closed_datetime, wo.sla_due, wo.report_count)
            for wo in orders
        ],
        columns=columns,
    )
    for col in ("opened", "closed_datetime", "sla_due"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


@dataclass(frozen=True, kw_only=True)
class BacklogColumns:
    """The columns :func:`backlog_by_age` reads; the defaults name a :func:`requests_frame`.

    Parameters
    ----------
    group : str
        Column to count by; ``service_code`` is reported as ``service``.
    opened : str
        Column of the opening time: a row counts from then on.
    closed : str, optional
        Column of the closing time (a row no longer counts from then on), or ``None`` when
        every row of the frame is open.
    due : str
        Column of the due time: a row still open after it is overdue.
    reports : str, optional
        Column of the number of reports a row stands for (default: one each).
    """

    group: str = "service_code"
    opened: str = "requested_datetime"
    closed: str | None = "closed_datetime"
    due: str = "sla_target_datetime"
    reports: str | None = None


def backlog_by_age(
    frame: pd.DataFrame,
    *,
    at: datetime,
    bins_days: Sequence[float] = (0, 1, 2, 7, 14, 30, 90),
    labels: Sequence[str] | None = None,
    columns: BacklogColumns | None = None,
) -> pd.DataFrame:
    """Count what is open at ``at`` per group by age bucket, with how much of it is overdue.

    The one backlog count of geo311: requests (a frame from :func:`requests_frame`, the
    defaults) or work orders (a frame from :func:`work_orders_frame` with ``columns``
    naming its columns).

    Parameters
    ----------
    frame
        One row per request or work order.
    at
        The moment (timezone-aware).
    bins_days
        Bucket edges in days; the last bucket is open-ended.
    labels
        One label per bucket (default ``"0-1 d"`` ... ``">90 d"`` from the edges).
    columns
        Which columns of ``frame`` to read (:class:`BacklogColumns`; a request frame's by
        default).

    Returns
    -------
    DataFrame
        Columns ``service`` (or the group column), ``age`` (categorical, in bucket order),
        ``open``, ``reports``, ``overdue``; one row per group and bucket, empty buckets
        included.

    Raises
    ------
    InputError
        If ``at`` is naive.
    """
    cols = columns or BacklogColumns()
    group, opened, closed, due, reports = (
        cols.group,
        cols.opened,
        cols.closed,
        cols.due,
        cols.reports,
    )
    if at.tzinfo is None:
        raise InputError("at must be timezone-aware (e.g. 2015-10-06T07:00-04:00)", field="at")
    at_ts = pd.Timestamp(at).tz_convert("UTC")
    is_open = frame[opened] <= at_ts
    if closed is not None:
        is_open &= frame[closed].isna() | (frame[closed] > at_ts)
    open_now = frame.loc[is_open]
    age = (at_ts - open_now[opened]).dt.total_seconds() / 86400.0
    edges = [*bins_days, np.inf]
    if labels is None:
        labels = [
            f"{edges[i]:g}-{edges[i + 1]:g} d" if np.isfinite(edges[i + 1]) else f">{edges[i]:g} d"
            for i in range(len(edges) - 1)
        ]
    counted = pd.DataFrame(
        {
            group: open_now[group],
            "age": pd.cut(age, bins=edges, labels=list(labels), right=False),
            "open": 1,
            "reports": open_now[reports] if reports is not None else 1,
            "overdue": (open_now[due] < at_ts).astype(int),
        }
    )
    cells = counted.groupby([group, "age"], observed=False)[["open", "reports", "overdue"]]
    table = cells.sum().reset_index()
    return table.rename(columns={"service_code": "service"})


def format_metrics_table(table: pd.DataFrame) -> str:
    """Return the metrics table as aligned text for the terminal.

    Parameters
    ----------
    table
        As returned by :func:`compute_metrics`.

    Returns
    -------
    str
        The table, days with one decimal and shares as percentages.
    """
    shown = table.copy()
    for c in ("median_days_to_close", "p90_days_to_close"):
        shown[c] = shown[c].map(lambda v: "-" if pd.isna(v) else f"{v:.1f}")
    shown["share_within_sla"] = shown["share_within_sla"].map(
        lambda v: "-" if pd.isna(v) else f"{100 * v:.1f}%"
    )
    shown = shown.rename(
        columns={
            "median_days_to_close": "median days",
            "p90_days_to_close": "p90 days",
            "share_within_sla": "within SLA",
        }
    )
    return shown.to_string(index=False)
