"""What the planner's dashboard shows for its filters: tables, charts, maps' data.

Every table and chart (metrics by service and by neighbourhood, the trend by week, the backlog
by age) and both maps show the requests that pass the same :class:`PlannerFilters`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from api.web import planner_charts
from api.web.planner_filters import (
    OUTSIDE,
    PlannerFilters,
    neighbourhood_choices,
    requests_with_points,
)
from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.db.store import Store
from geo311.i18n import N_
from geo311.requests.performance import Period, in_period, period_metrics, weekly_trend
from maps.planner_layers import extent, hotspot_cells, located_requests, open_work_points

# The words are English, translated where the page shows them (`_(h)`); the CSVs keep them.
COLUMNS = {
    "requests": N_("requests"),
    "open": N_("open"),
    "closed": N_("closed"),
    "median_days_to_close": N_("median days to close"),
    "p90_days_to_close": N_("p90 days to close"),
    "share_within_sla": N_("share within SLA"),
}
HEADS = {"service": N_("service"), "neighborhood": N_("neighbourhood")}
ALL = {"service": N_("all services"), "neighborhood": N_("all neighbourhoods")}
TREND_HEADS = [
    N_("week starting (Monday)"),
    N_("received"),
    N_("closed"),
    N_("median days to close"),
]


def filtered_metrics(
    frame: pd.DataFrame, by: str, *, filters: PlannerFilters, tz: ZoneInfo
) -> pd.DataFrame:
    """Return the metrics of the requests that pass ``filters``, by service or neighbourhood.

    ``by`` is ``service`` or ``neighborhood``; the ``all`` row comes last; empty without
    requests.

    The public ``/performance`` figures come from the same function,
    :func:`geo311.requests.performance.period_metrics`. The empty neighbourhood is named :data:`OUTSIDE`.
    """
    if frame.empty:
        return pd.DataFrame(columns=[by, *COLUMNS])
    out = period_metrics(filters.select(frame), filters.period, by=[by], tz=tz)
    out = out if out.index.names == [None] else out.reset_index()
    if by == "neighborhood":
        out[by] = out[by].fillna("").replace("", OUTSIDE)
    return out


def metrics_table(
    store: Store,
    by: str,
    *,
    period: Period | None = None,
    tz: ZoneInfo | None = None,
    filters: PlannerFilters | None = None,
) -> pd.DataFrame:
    """Return the metrics grouped by ``service`` or ``neighborhood`` (empty without data).

    With a ``period`` (or ``filters``), only the requests received in it (of its service and
    neighbourhood) count (see :func:`filtered_metrics`).
    """
    chosen = filters or PlannerFilters(period=period)
    frame = requests_with_points(store)
    return filtered_metrics(frame, by, filters=chosen, tz=tz or ZoneInfo("UTC"))


def _rows(frame: pd.DataFrame, by: str, names: Mapping[str, str]) -> list[list[str]]:
    def cell(name: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and pd.isna(value)):
            return ""
        if name == by:
            return ALL[by] if value == "all" else names.get(str(value), str(value))
        if name == "share_within_sla":
            return f"{100 * float(value):.1f} %"
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    columns = [by, *(c for c in COLUMNS if c in frame.columns)]
    return [[cell(n, row[n]) for n in columns] for _, row in frame.iterrows()]


def _metrics_tables(
    frame: pd.DataFrame, filters: PlannerFilters, names: Mapping[str, str], tz: ZoneInfo
) -> list[dict[str, Any]]:
    tables = []
    words = filters.describe(names)
    query = filters.query()
    for by in ("service", "neighborhood"):
        table = filtered_metrics(frame, by, filters=filters, tz=tz)
        rows = _rows(table, by, names)
        charts = []
        if by == "service":
            shown = table.assign(service=[r[0] for r in rows]) if rows else table
            charts = planner_charts.service_charts(shown)
        tables.append(
            {
                "id": f"by-{by}",
                "title": f"Metrics by {HEADS[by]}{words}",
                "csv": f"/planner/metrics.csv?by={by}" + (f"&{query}" if query else ""),
                "heads": [HEADS[by], *(COLUMNS[c] for c in COLUMNS if c in table.columns)],
                "rows": rows,
                "charts": charts,
                "empty": N_("No requests imported yet."),
            }
        )
    return tables


def weekly_table(frame: pd.DataFrame, filters: PlannerFilters, tz: ZoneInfo) -> pd.DataFrame:
    """Return the filtered requests' trend by week over the chosen period, else their span."""
    chosen = filters.select(frame)
    period = filters.period
    if period is None:
        if chosen.empty:
            return pd.DataFrame(columns=["week_start", "received", "closed"])
        local = chosen["requested_datetime"].dt.tz_convert(tz)
        period = Period(local.min().date(), local.max().date())
    return weekly_trend(chosen, period, tz=tz)


def _days(value: Any) -> str:
    return "" if value is None or pd.isna(value) else f"{float(value):.1f}"


def _trend(
    frame: pd.DataFrame, filters: PlannerFilters, names: Mapping[str, str], tz: ZoneInfo
) -> dict[str, Any]:
    weekly = weekly_table(frame, filters, tz)
    span = "every request" if filters.period is None else "the chosen period"
    chart = planner_charts.weekly_chart(weekly, span=span)
    query = filters.query()
    rows = [
        [f"{week:%Y-%m-%d}", str(received), str(closed), _days(median)]
        for week, received, closed, median in zip(
            weekly["week_start"],
            weekly["received"],
            weekly["closed"],
            weekly.get("median_days_to_close", pd.Series(dtype=float)),
            strict=False,
        )
    ]
    return {
        "id": "trend",
        "title": f"Trend by week{filters.describe(names)}",
        "csv": "/planner/weekly.csv" + (f"?{query}" if query else ""),
        "heads": TREND_HEADS,
        "rows": rows,
        "charts": [chart] if chart is not None else [],
        "empty": N_("No requests in this period."),
    }


def _backlog_view(
    backlog: pd.DataFrame, moment: datetime, groups: Mapping[str, str], query: str, words: str
) -> dict[str, Any]:
    at_text = moment.strftime("%Y-%m-%d %H:%M")
    shown = backlog.assign(service_group=[groups.get(g, g) for g in backlog["service_group"]])
    chart = planner_charts.backlog_chart(shown, at_text=at_text)
    stamp = moment.strftime("%Y-%m-%dT%H:%M")
    return {
        "id": "backlog",
        "title": f"Backlog by age at {at_text}{words}",
        "csv": f"/planner/backlog.csv?at={stamp}" + (f"&{query}" if query else ""),
        "heads": [str(c).replace("_", " ") for c in backlog.columns],
        "rows": [[str(v) for v in row] for row in shown.itertuples(index=False)],
        "charts": [chart] if chart is not None else [],
        "empty": N_("No open work orders at this time."),
    }


def _request_ids(frame: pd.DataFrame, filters: PlannerFilters) -> set[str] | None:
    """Return the ids of the requests of the chosen service and area (None: no such filter)."""
    if not filters.service and not filters.neighbourhood:
        return None
    return set(filters.select(frame)["service_request_id"].astype(str))


def dashboard(
    store: Store,
    catalogue: Catalogue,
    city: City,
    frame: pd.DataFrame,
    filters: PlannerFilters,
    moment: datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """Return the dashboard's tables (with their charts and CSV links) and its maps' data."""
    names = {code: s.name for code, s in catalogue.services.items()}
    ids = _request_ids(frame, filters)
    orders = planner_charts.open_orders(store, catalogue, at=moment, requests=ids)
    backlog = planner_charts.backlog_table(store, catalogue, at=moment, orders=orders)
    area_words = filters.describe(names).replace(
        f", received {filters.period.start} to {filters.period.end}" if filters.period else "", ""
    )
    tables = [
        *_metrics_tables(frame, filters, names, tz),
        _trend(frame, filters, names, tz),
        _backlog_view(backlog, moment, catalogue.groups, filters.query(), area_words),
    ]
    received = filters.select(frame)
    if filters.period is not None:
        received = in_period(received, filters.period, tz)
    located = located_requests(received, placeholder_mask=city.placeholder_mask)
    return {
        "tables": tables,
        "work_points": open_work_points(orders, names=names, at=moment),
        "hotspots": hotspot_cells(located),
        "extent": extent(located),
        "services": sorted(names.items(), key=lambda kv: kv[1]),
        "neighbourhoods": neighbourhood_choices(frame),
        "filters": filters,
    }
