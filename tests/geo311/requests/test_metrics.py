"""Service metrics: days to close, percentiles, share within SLA, backlog by age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from geo311.db.store import Store
from geo311.errors import InputError
from geo311.model import ServiceRequest, WorkOrder
from geo311.requests import repo as request_repo
from geo311.requests.metrics import (
    WORK_ORDER_AGE_BINS,
    WORK_ORDER_AGE_LABELS,
    BacklogColumns,
    backlog_by_age,
    compute_metrics,
    format_metrics_table,
    service_metrics,
    work_orders_frame,
)

T0 = datetime(2015, 10, 1, 12, tzinfo=UTC)


def frame(rows: list[tuple[str, str, float, float | None, float]]) -> pd.DataFrame:
    """rows: (service, neighborhood, opened_day, closed_day or None, due_day)."""
    records = []
    for i, (svc, hood, opened, closed, due) in enumerate(rows):
        records.append(
            {
                "service_request_id": str(i),
                "service_code": svc,
                "neighborhood": hood,
                "status": "open" if closed is None else "fixed",
                "requested_datetime": T0 + timedelta(days=opened),
                "sla_target_datetime": T0 + timedelta(days=due),
                "closed_datetime": None if closed is None else T0 + timedelta(days=closed),
            }
        )
    out = pd.DataFrame(records)
    for c in ("requested_datetime", "sla_target_datetime", "closed_datetime"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out


def test_days_to_close_and_sla_share_by_hand() -> None:
    data = frame(
        [
            ("pothole", "Back Bay", 0, 1, 2),  # 1 day, within SLA
            ("pothole", "Back Bay", 0, 3, 2),  # 3 days, late
            ("pothole", "South End", 0, 2, 2),  # 2 days, exactly on time counts as within
            ("pothole", "South End", 0, None, 2),  # open
            ("streetlight_outage", "Back Bay", 0, 10, 15),
        ]
    )
    table = compute_metrics(data, by=["service"]).set_index("service")
    pot = table.loc["pothole"]
    assert (pot["requests"], pot["open"], pot["closed"]) == (4, 1, 3)
    assert pot["median_days_to_close"] == pytest.approx(2.0)
    assert pot["p90_days_to_close"] == pytest.approx(2.8)  # linear interpolation of 1, 2, 3
    assert pot["share_within_sla"] == pytest.approx(2 / 3)
    assert table.loc["all", "requests"] == 5
    by_hood = compute_metrics(data, by=["service", "neighborhood"])
    row = by_hood[(by_hood.service == "pothole") & (by_hood.neighborhood == "South End")].iloc[0]
    assert (row["requests"], row["share_within_sla"]) == (2, 1.0)
    assert "66.7%" in format_metrics_table(table.reset_index())


def test_unknown_grouping_is_named() -> None:
    with pytest.raises(InputError, match="ward"):
        compute_metrics(frame([("pothole", "x", 0, 1, 2)]), by=["ward"])


def test_backlog_by_age_counts_what_was_open_then() -> None:
    data = frame(
        [
            ("pothole", "x", 0, None, 2),  # open, 10 days old at T0+10
            ("pothole", "x", 9.5, None, 12),  # open, half a day old
            ("pothole", "x", 0, 5, 2),  # closed before: not in the backlog
            ("pothole", "x", 11, None, 13),  # reported later: not yet in the backlog
        ]
    )
    table = backlog_by_age(data, at=T0 + timedelta(days=10))
    counts = dict(zip(table["age"].astype(str), table["open"], strict=True))
    assert counts["0-1 d"] == 1 and counts["7-14 d"] == 1 and sum(counts.values()) == 2
    with pytest.raises(InputError, match="timezone-aware"):
        backlog_by_age(data, at=datetime(2015, 10, 1))


def test_backlog_by_age_counts_overdue_requests() -> None:
    data = frame([("pothole", "x", 0, None, 2), ("pothole", "x", 9.5, None, 12)])
    table = backlog_by_age(data, at=T0 + timedelta(days=10)).set_index("age")
    assert table.loc["7-14 d", "overdue"] == 1 and table.loc["0-1 d", "overdue"] == 0
    assert table["reports"].sum() == 2


def _work_order(wid: int, group: str, opened_day: float, due_day: float, reports: int) -> WorkOrder:
    return WorkOrder(
        work_order_id=wid,
        service_group=group,
        service_code="pothole" if group == "potholes" else "streetlight_outage",
        lat=42.35,
        lon=-71.08,
        opened=T0 + timedelta(days=opened_day),
        sla_due=T0 + timedelta(days=due_day),
        report_count=reports,
        status="open",
    )


def test_backlog_by_age_counts_work_orders_and_their_reports() -> None:
    orders = [
        _work_order(1, "potholes", 0, 2, 3),  # 10 days old, overdue
        _work_order(2, "potholes", 9, 12, 1),  # 1 day old
        _work_order(3, "potholes", 8.5, 9, 2),  # 1.5 days old, overdue
        _work_order(4, "streetlights", -40, 5, 1),  # 50 days old, overdue
    ]
    table = backlog_by_age(
        work_orders_frame(orders),
        at=T0 + timedelta(days=10),
        bins_days=WORK_ORDER_AGE_BINS,
        labels=WORK_ORDER_AGE_LABELS,
        columns=BacklogColumns(
            group="service_group",
            opened="opened",
            closed=None,
            due="sla_due",
            reports="report_count",
        ),
    )
    cells = {
        (r.service_group, str(r.age)): (r.open, r.reports, r.overdue)
        for r in table.itertuples()
        if r.open
    }
    assert cells == {
        ("potholes", "0-2 days"): (2, 3, 1),
        ("potholes", "7-30 days"): (1, 3, 1),
        ("streetlights", "30+ days"): (1, 1, 1),
    }
    empty = backlog_by_age(
        work_orders_frame([]),
        at=T0,
        columns=BacklogColumns(group="service_group", opened="opened", due="sla_due"),
    )
    assert empty.empty


def test_service_metrics_reads_the_store(store: Store) -> None:
    request_repo.add_request(
        store,
        ServiceRequest(
            service_request_id="1",
            service_code="pothole",
            status="fixed",
            requested_datetime=T0,
            closed_datetime=T0 + timedelta(hours=12),
            expected_datetime=T0 + timedelta(hours=48),
            sla_target_datetime=T0 + timedelta(hours=48),
            source="t",
            source_id="1",
            neighborhood="Back Bay",
        ),
    )
    table = service_metrics(store, by=["neighborhood"]).set_index("neighborhood")
    assert table.loc["Back Bay", "median_days_to_close"] == pytest.approx(0.5)
    assert table.loc["Back Bay", "share_within_sla"] == 1.0


def test_empty_store_gives_an_all_row_of_zeros(store: Store) -> None:
    table = service_metrics(store, by=["service", "neighborhood"])
    assert len(table) == 1 and table.iloc[0]["service"] == "all"
    assert table.iloc[0]["requests"] == 0 and pd.isna(table.iloc[0]["median_days_to_close"])
