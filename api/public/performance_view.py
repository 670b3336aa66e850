"""What the public performance page shows of a report: tables in plain words, charts, the map."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from markupsafe import Markup

from api.web.charts import ChartStyle, Series, bar_chart
from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.requests.performance import DEFINITIONS, FIGURE_COLUMNS, PerformanceReport
from maps.assets import vendor_url

CHART_WIDTH = 420
"""The charts' drawing width: legible on a 360 px phone (the page caps it at 520 px)."""
HEADS = {
    "requests": "Received",
    "closed": "Closed",
    "open": "Still open",
    "median_days_to_close": "Median days to close",
    "p90_days_to_close": "9 in 10 closed within (days)",
    "share_within_target": "Closed within target",
}


def _cell(name: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if name == "share_within_target":
        return f"{100 * float(value):.0f} %"
    if name.endswith("days_to_close"):
        return f"{float(value):.1f}"
    return f"{int(value):,}" if isinstance(value, int | float) else str(value)


def _table(frame: pd.DataFrame, label: str, first: str) -> dict[str, Any]:
    rows = []
    for _, row in frame.iterrows():
        name = "All" if row[first] == "all" else str(row[first])
        rows.append([name, *(_cell(c, row[c]) for c in HEADS)])
    return {"heads": [label, *HEADS.values()], "rows": rows}


def _values(frame: pd.DataFrame, column: str, factor: float = 1.0) -> list[float | None]:
    return [None if pd.isna(v) else factor * float(v) for v in frame[column]]


def _service_charts(frame: pd.DataFrame) -> list[Markup]:
    shown = frame.loc[frame["service_code"] != "all"]
    if shown.empty or shown["closed"].sum() == 0:
        return []
    labels = [str(n) for n in shown["service_name"]]
    days = bar_chart(
        chart_id="chart-days",
        title="Days to close by service",
        caption="Median and 9-in-10 days from report to closing, per service, for the requests "
        "received in the period and closed (the table has the same numbers).",
        labels=labels,
        series=[
            Series("median", _values(shown, "median_days_to_close")),
            Series("9 in 10 within", _values(shown, "p90_days_to_close")),
        ],
        style=ChartStyle(unit=" d", width=CHART_WIDTH),
    )
    target = bar_chart(
        chart_id="chart-target",
        title="Closed within target by service",
        caption="Share of the closed requests of each service closed by their service-level "
        "target.",
        labels=labels,
        series=[Series("within target", _values(shown, "share_within_target", 100.0))],
        style=ChartStyle(unit=" %", axis_max=100.0, width=CHART_WIDTH),
    )
    return [days, target]


def _weekly_chart(weekly: pd.DataFrame) -> Markup | None:
    if weekly.empty:
        return None
    return bar_chart(
        chart_id="chart-weeks",
        title="Requests received and closed by week",
        caption="Requests received each week of the period, and requests closed that week "
        "(whenever they were received).",
        labels=[f"week of {d:%d %b %Y}" for d in weekly["week_start"]],
        series=[
            Series("received", [float(v) for v in weekly["received"]]),
            Series("closed", [float(v) for v in weekly["closed"]]),
        ],
        style=ChartStyle(width=CHART_WIDTH),
    )


def _backlog(frame: pd.DataFrame) -> tuple[dict[str, Any], Markup | None]:
    """Return the backlog as one row per service (counts per age, total, past target), a chart."""
    if frame.empty:
        return {"heads": [], "rows": []}, None
    wide = frame.pivot_table(
        index="service_name", columns="age", values="open", aggfunc="sum", observed=True
    ).fillna(0)
    late = frame.groupby("service_name")["overdue"].sum()
    ages = [str(c) for c in wide.columns]
    heads = ["Service", *(f"open {a}" for a in ages), "Open in all", "Of them past target"]
    rows = [
        [str(name), *(f"{int(v):,}" for v in wide.loc[name]), f"{int(wide.loc[name].sum()):,}",
         f"{int(late.get(name, 0)):,}"]
        for name in wide.index
    ]  # fmt: skip
    chart = bar_chart(
        chart_id="chart-backlog",
        title="Still open at the end of the period, by age",
        caption="Requests open at the end of the period per service, stacked by how long they "
        "had been open.",
        labels=[str(i) for i in wide.index],
        series=[
            Series(a, [float(v) for v in wide[c]]) for a, c in zip(ages, wide.columns, strict=True)
        ],
        style=ChartStyle(stacked=True, width=CHART_WIDTH),
    )
    return {"heads": heads, "rows": rows}, chart


def page_context(report: PerformanceReport, *, city: City, catalogue: Catalogue) -> dict[str, Any]:
    """Return the template context of ``public/performance.html`` for a report."""
    names = {code: s.name for code, s in catalogue.services.items()}
    backlog, backlog_chart = _backlog(report.backlog)
    points = [[lat, lon, kind, names.get(code, code)] for lat, lon, kind, code in report.points]
    tz = city.tz
    return {
        "city": city.name,
        "error": "",
        "start": report.period.start.isoformat(),
        "end": report.period.end.isoformat(),
        "period_text": f"{report.period.start:%d %B %Y} to {report.period.end:%d %B %Y}",
        "data_as_of": (
            f"{report.data_as_of.astimezone(tz):%d %B %Y, %H:%M}" if report.data_as_of else None
        ),
        "by_service": _table(report.by_service, "Service", "service_name"),
        "by_area": _table(report.by_neighbourhood, "Neighbourhood", "neighbourhood"),
        "service_charts": _service_charts(report.by_service),
        "weekly_chart": _weekly_chart(report.weekly),
        "backlog": backlog,
        "backlog_chart": backlog_chart,
        "points_json": Markup(json.dumps(points).replace("</", "<\\/")),
        "points_shown": len(report.points),
        "points_total": report.points_total,
        "definitions": DEFINITIONS,
        "columns": FIGURE_COLUMNS,
        "leaflet_js": vendor_url("leaflet", "dist/leaflet.js"),
        "leaflet_css": vendor_url("leaflet", "dist/leaflet.css"),
    }
