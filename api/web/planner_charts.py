"""The planner dashboard's numbers as tables and charts: metrics by service, backlog by age."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import pandas as pd
from markupsafe import Markup

from api.planner import staff as _staff
from api.web.charts import ChartStyle, Series, bar_chart, line_chart
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import WorkOrder
from geo311.requests.metrics import WORK_ORDER_AGE_LABELS
from geo311.workorders import repo as work_order_repo

CHART_WIDTH = 420
"""The charts' drawing width: legible on a 360 px phone (the page caps their width)."""
NOTHING_CLOSED = Markup(
    '<p class="muted">No request has been closed yet: the charts of days to close and of the '
    "share within the SLA are drawn once there are closed requests.</p>"
)


def backlog_table(
    store: Store,
    catalogue: Catalogue,
    *,
    at: datetime,
    requests: Collection[str] | None = None,
    orders: Sequence[WorkOrder] | None = None,
) -> pd.DataFrame:
    """Return the open work orders at ``at`` per service group by age, with the overdue ones.

    Parameters
    ----------
    store, catalogue
        The application's objects.
    at
        The moment.
    requests
        Count only the work orders with a report among these request ids (the dashboard's
        filters); None: every work order.
    orders
        The open work orders at ``at`` already read (:func:`open_orders`; then ``requests``
        is not used).

    Returns
    -------
    DataFrame
        Columns ``service_group``, one per age bucket (``0-2 days`` ...), ``overdue``,
        ``total``; one row per service group with open work, sorted by group.
    """
    if orders is None:
        orders = open_orders(store, catalogue, at=at, requests=requests)
    cells = _staff.backlog(list(orders), now=at)
    columns = ["service_group", *WORK_ORDER_AGE_LABELS, "overdue", "total"]
    if not cells:
        return pd.DataFrame(columns=columns)
    long = pd.DataFrame(cells)
    wide = long.pivot_table(
        index="service_group", columns="age", values="work_orders", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(columns=list(WORK_ORDER_AGE_LABELS), fill_value=0)
    wide["overdue"] = long.groupby("service_group")["overdue"].sum()
    wide["total"] = wide[list(WORK_ORDER_AGE_LABELS)].sum(axis=1)
    out = wide.reset_index()[columns]
    return out.astype({c: int for c in columns[1:]})


def open_orders(
    store: Store, catalogue: Catalogue, *, at: datetime, requests: Collection[str] | None = None
) -> list[WorkOrder]:
    """Return the work orders open at ``at`` (with a report among ``requests``, if given)."""
    orders = work_order_repo.query_work_orders(store, statuses=catalogue.open_state_codes())
    return [
        wo
        for wo in orders
        if wo.opened <= at and (requests is None or any(m in requests for m in wo.member_ids))
    ]


def _values(frame: pd.DataFrame, column: str, factor: float = 1.0) -> list[float | None]:
    return [None if pd.isna(v) else factor * float(v) for v in frame[column]]


def service_charts(frame: pd.DataFrame) -> list[Markup]:
    """Return the charts of the metrics by service: days to close, share within SLA.

    Parameters
    ----------
    frame
        The metrics by service (:func:`api.web.planner.metrics_table`), its ``all`` row last.
    """
    if frame.empty or "median_days_to_close" not in frame.columns:
        return []
    if frame["median_days_to_close"].isna().all():
        return [NOTHING_CLOSED]
    labels = [str(s) for s in frame["service"]]
    days = bar_chart(
        chart_id="chart-days",
        title="Days to close by service",
        caption="Median and 90th-percentile days from report to closing, per service "
        "(closed requests; the table below has the same numbers).",
        labels=labels,
        series=[
            Series("median", _values(frame, "median_days_to_close")),
            Series("p90", _values(frame, "p90_days_to_close")),
        ],
        style=ChartStyle(unit=" d", width=CHART_WIDTH),
    )
    sla = bar_chart(
        chart_id="chart-sla",
        title="Share closed within the SLA by service",
        caption="Share of the closed requests of each service that were closed by their due time.",
        labels=labels,
        series=[Series("within SLA", _values(frame, "share_within_sla", 100.0))],
        style=ChartStyle(unit=" %", axis_max=100.0, width=CHART_WIDTH),
    )
    return [days, sla]


def backlog_chart(frame: pd.DataFrame, *, at_text: str) -> Markup | None:
    """Return the stacked chart of the backlog by age (None without open work)."""
    if frame.empty:
        return None
    return bar_chart(
        chart_id="chart-backlog",
        title=f"Open work orders by age at {at_text}",
        caption=f"Open work orders per service group at {at_text}, stacked by how long they "
        "have been open.",
        labels=[str(g) for g in frame["service_group"]],
        series=[Series(label, _values(frame, label)) for label in WORK_ORDER_AGE_LABELS],
        style=ChartStyle(stacked=True, width=CHART_WIDTH),
    )


def weekly_chart(weekly: pd.DataFrame, *, span: str) -> Markup | None:
    """Return the trend by week: requests received and closed (None without a week).

    Parameters
    ----------
    weekly
        :func:`geo311.requests.performance.weekly_trend`'s table.
    span
        The period in words, for the caption.
    """
    if weekly.empty:
        return None
    return line_chart(
        chart_id="chart-weeks",
        title="Requests received and closed by week",
        caption=f"Requests received each week ({span}), and requests closed that week "
        "(whenever received); the table below has the same numbers.",
        labels=[f"{d:%d %b %Y}" for d in weekly["week_start"]],
        series=[
            Series("received", [float(v) for v in weekly["received"]]),
            Series("closed", [float(v) for v in weekly["closed"]]),
        ],
        width=CHART_WIDTH,
    )
