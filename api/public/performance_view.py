"""What the public performance page shows of a report: tables in plain words, charts, the map.

Every word and number is in the reader's language and locale (the ``i18n``
:class:`~geo311.i18n.Localizer`); the CSV and JSON files keep the English column texts.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from markupsafe import Markup

from api.web.charts import ChartStyle, Series, bar_chart
from geo311.city.catalogue import Catalogue
from geo311.city.profile import City
from geo311.i18n import N_, Localizer
from geo311.requests.performance import (
    DEFINITIONS,
    FIGURE_COLUMNS,
    UNKNOWN_AREA,
    PerformanceReport,
)
from maps.assets import vendor_url

CHART_WIDTH = 420
"""The charts' drawing width: legible on a 360 px phone (the page caps it at 520 px)."""
HEADS = {
    "requests": N_("Received"),
    "closed": N_("Closed"),
    "open": N_("Still open"),
    "median_days_to_close": N_("Median days to close"),
    "p90_days_to_close": N_("9 in 10 closed within (days)"),
    "share_within_target": N_("Closed within target"),
}
TITLES = {
    "period": N_("Period"),
    "closed": N_("Closed"),
    "days_to_close": N_("Days to close"),
    "target": N_("Target"),
    "backlog": N_("Backlog"),
}
"""The titles of :data:`~geo311.requests.performance.DEFINITIONS` on the page."""


def _cell(name: str, value: Any, tr: Localizer) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if name == "share_within_target":
        return f"{tr.number(100 * float(value))} %"
    if name.endswith("days_to_close"):
        return tr.number(round(float(value), 1), 1)
    return tr.number(int(value)) if isinstance(value, int | float) else str(value)


def _table(frame: pd.DataFrame, label: str, first: str, tr: Localizer) -> dict[str, Any]:
    rows = []
    for _, row in frame.iterrows():
        name = tr.city(str(row[first]))  # the city's service and area names, in its words
        if name in ("all", UNKNOWN_AREA):  # words of geo311's, not the city's
            name = tr.gettext("All") if name == "all" else tr.gettext(UNKNOWN_AREA)
        rows.append([name, *(_cell(c, row[c], tr) for c in HEADS)])
    return {"heads": [label, *(tr.gettext(h) for h in HEADS.values())], "rows": rows}


def _values(frame: pd.DataFrame, column: str, factor: float = 1.0) -> list[float | None]:
    return [None if pd.isna(v) else factor * float(v) for v in frame[column]]


def _service_charts(frame: pd.DataFrame, tr: Localizer) -> list[Markup]:
    shown = frame.loc[frame["service_code"] != "all"]
    if shown.empty or shown["closed"].sum() == 0:
        return []
    labels = [tr.city(str(n)) for n in shown["service_name"]]
    days = bar_chart(
        chart_id="chart-days",
        title=tr.gettext("Days to close by service"),
        caption=tr.gettext(
            "Median and 9-in-10 days from report to closing, per service, for the requests "
            "received in the period and closed (the table has the same numbers)."
        ),
        labels=labels,
        series=[
            Series(tr.gettext("median"), _values(shown, "median_days_to_close")),
            Series(tr.gettext("9 in 10 within"), _values(shown, "p90_days_to_close")),
        ],
        style=ChartStyle(unit=" d", width=CHART_WIDTH),
    )
    target = bar_chart(
        chart_id="chart-target",
        title=tr.gettext("Closed within target by service"),
        caption=tr.gettext(
            "Share of the closed requests of each service closed by their service-level target."
        ),
        labels=labels,
        series=[Series(tr.gettext("within target"), _values(shown, "share_within_target", 100.0))],
        style=ChartStyle(unit=" %", axis_max=100.0, width=CHART_WIDTH),
    )
    return [days, target]


def _weekly_chart(weekly: pd.DataFrame, tr: Localizer) -> Markup | None:
    if weekly.empty:
        return None
    week = tr.gettext("week of %(day)s")
    return bar_chart(
        chart_id="chart-weeks",
        title=tr.gettext("Requests received and closed by week"),
        caption=tr.gettext(
            "Requests received each week of the period, and requests closed that week "
            "(whenever they were received)."
        ),
        labels=[week % {"day": tr.date(d, "medium")} for d in weekly["week_start"]],
        series=[
            Series(tr.gettext("received"), [float(v) for v in weekly["received"]]),
            Series(tr.gettext("closed"), [float(v) for v in weekly["closed"]]),
        ],
        style=ChartStyle(width=CHART_WIDTH),
    )


def _backlog(frame: pd.DataFrame, tr: Localizer) -> tuple[dict[str, Any], Markup | None]:
    """Return the backlog as one row per service (counts per age, total, past target), a chart."""
    if frame.empty:
        return {"heads": [], "rows": []}, None
    wide = frame.pivot_table(
        index="service_name", columns="age", values="open", aggfunc="sum", observed=True
    ).fillna(0)
    late = frame.groupby("service_name")["overdue"].sum()
    ages = [str(c) for c in wide.columns]
    opened = tr.gettext("open %(age)s")
    heads = [
        tr.gettext("Service"),
        *(opened % {"age": a} for a in ages),
        tr.gettext("Open in all"),
        tr.gettext("Of them past target"),
    ]
    rows = [
        [tr.city(str(name)), *(tr.number(int(v)) for v in wide.loc[name]),
         tr.number(int(wide.loc[name].sum())), tr.number(int(late.get(name, 0)))]
        for name in wide.index
    ]  # fmt: skip
    chart = bar_chart(
        chart_id="chart-backlog",
        title=tr.gettext("Still open at the end of the period, by age"),
        caption=tr.gettext(
            "Requests open at the end of the period per service, stacked by how long they "
            "had been open."
        ),
        labels=[tr.city(str(i)) for i in wide.index],
        series=[
            Series(a, [float(v) for v in wide[c]]) for a, c in zip(ages, wide.columns, strict=True)
        ],
        style=ChartStyle(stacked=True, width=CHART_WIDTH),
    )
    return {"heads": heads, "rows": rows}, chart


def _as_of(report: PerformanceReport, tr: Localizer) -> str | None:
    if report.data_as_of is None:
        return None
    return f"{tr.date(report.data_as_of)}, {tr.time(report.data_as_of)}"


def page_context(
    report: PerformanceReport, *, city: City, catalogue: Catalogue, i18n: Localizer
) -> dict[str, Any]:
    """Return the template context of ``public/performance.html`` for a report.

    Parameters
    ----------
    report
        The period's figures.
    city, catalogue
        The city profile and its services.
    i18n
        The reader's language and formats.
    """
    tr = i18n
    names = {code: tr.city(s.name) for code, s in catalogue.services.items()}
    backlog, backlog_chart = _backlog(report.backlog, tr)
    points = [[lat, lon, kind, names.get(code, code)] for lat, lon, kind, code in report.points]
    period = tr.gettext("%(start)s to %(end)s") % {
        "start": tr.date(report.period.start),
        "end": tr.date(report.period.end),
    }
    return {
        "i18n": tr,
        "city": city.name,
        "error": "",
        "start": report.period.start.isoformat(),
        "end": report.period.end.isoformat(),
        "period_text": period,
        "data_as_of": _as_of(report, tr),
        "by_service": _table(report.by_service, tr.gettext("Service"), "service_name", tr),
        "by_area": _table(
            report.by_neighbourhood, tr.gettext("Neighbourhood"), "neighbourhood", tr
        ),
        "service_charts": _service_charts(report.by_service, tr),
        "weekly_chart": _weekly_chart(report.weekly, tr),
        "backlog": backlog,
        "backlog_chart": backlog_chart,
        "points_json": Markup(json.dumps(points).replace("</", "<\\/")),
        "points_shown": len(report.points),
        "points_total": report.points_total,
        "definitions": {
            tr.gettext(TITLES.get(k, k)): tr.gettext(t) for k, t in DEFINITIONS.items()
        },
        "columns": {k: tr.gettext(t) for k, t in FIGURE_COLUMNS.items()},
        "leaflet_js": vendor_url("leaflet", "dist/leaflet.js"),
        "leaflet_css": vendor_url("leaflet", "dist/leaflet.css"),
    }
