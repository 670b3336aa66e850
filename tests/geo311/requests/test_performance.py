"""The period figures behind /performance and the planner's dashboard (synthetic requests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from geo311.city.catalogue import Catalogue
from geo311.errors import InputError
from geo311.requests.performance import (
    Period,
    default_period,
    parse_period,
    performance_report,
    period_metrics,
    recent_work_points,
    weekly_trend,
)

TZ = ZoneInfo("America/New_York")


def _frame(rows: list[tuple[str, str, datetime, float | None, float]]) -> pd.DataFrame:
    """Rows of (id, service, received, days to close or None, target in days)."""
    records = []
    for rid, code, received, days, target in rows:
        records.append(
            {
                "service_request_id": rid,
                "service_code": code,
                "neighborhood": "" if rid.endswith("x") else "Back Bay",
                "status": "open" if days is None else "closed",
                "requested_datetime": received,
                "sla_target_datetime": received + timedelta(days=target),
                "closed_datetime": None if days is None else received + timedelta(days=days),
                "lat": 42.35,
                "lon": -71.08,
            }
        )
    frame = pd.DataFrame(records)
    for col in ("requested_datetime", "sla_target_datetime", "closed_datetime"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def _local(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00").replace(tzinfo=TZ).astimezone(UTC)


def test_a_period_counts_the_requests_received_in_its_local_days() -> None:
    frame = _frame(
        [
            ("a", "pothole", _local("2015-03-01", 0), 2.0, 1.0),  # first local minute counts
            ("b", "pothole", _local("2015-03-31", 23), 4.0, 5.0),
            ("c", "pothole", _local("2015-04-01", 0), 1.0, 5.0),  # the day after: out
            ("d", "pothole", _local("2015-02-28", 23), 1.0, 5.0),  # the day before: out
            ("ex", "pothole", _local("2015-03-10"), None, 5.0),  # open
        ]
    )
    table = period_metrics(
        frame, Period(date(2015, 3, 1), date(2015, 3, 31)), by=["service"], tz=TZ
    )
    row = table.set_index("service").loc["pothole"]
    assert (row["requests"], row["closed"], row["open"]) == (3, 2, 1)
    assert row["median_days_to_close"] == pytest.approx(3.0)
    assert row["share_within_sla"] == pytest.approx(0.5)  # a was late (2 d for a 1 d target)
    everything = period_metrics(frame, None, by=["service"], tz=TZ).set_index("service")
    assert everything.loc["pothole", "requests"] == 5


def test_default_and_chosen_periods_and_their_errors() -> None:
    assert default_period(date(2015, 12, 31)) == Period(date(2015, 10, 3), date(2015, 12, 31))
    assert parse_period(None, None, latest=date(2015, 12, 31)).end == date(2015, 12, 31)
    assert parse_period("2015-01-01", "2015-06-30", latest=None) == Period(
        date(2015, 1, 1), date(2015, 6, 30)
    )
    with pytest.raises(InputError) as err:
        parse_period("2015-13-01", None, latest=None)
    assert err.value.field == "from" and "YYYY-MM-DD" in str(err.value)
    with pytest.raises(InputError) as err:
        parse_period("2015-06-01", "2015-05-01", latest=None)
    assert err.value.field == "from" and "after" in str(err.value)


def test_weekly_trend_counts_received_and_closed_per_week() -> None:
    frame = _frame(
        [
            ("a", "pothole", _local("2015-03-02"), 1.0, 5.0),  # Monday; closed Tuesday
            ("b", "pothole", _local("2015-03-04"), 6.0, 5.0),  # closed the next week
            ("c", "pothole", _local("2015-03-10"), None, 5.0),
        ]
    )
    weeks = weekly_trend(frame, Period(date(2015, 3, 2), date(2015, 3, 15)), tz=TZ)
    assert list(weeks["week_start"]) == [date(2015, 3, 2), date(2015, 3, 9)]
    assert list(weeks["received"]) == [2, 1]
    assert list(weeks["closed"]) == [1, 1]
    assert list(weeks["median_days_to_close"]) == pytest.approx([1.0, 6.0])


def test_the_map_shows_open_and_recently_fixed_work_only() -> None:
    frame = _frame(
        [
            ("open", "pothole", _local("2015-03-02"), None, 5.0),
            ("fixed", "pothole", _local("2015-03-25"), 2.0, 5.0),  # fixed 27 Mar: recent
            ("old", "pothole", _local("2015-03-01"), 3.0, 5.0),  # fixed 4 Mar: not recent
            ("later", "pothole", _local("2015-04-05"), None, 5.0),  # after the period
        ]
    )
    points, total = recent_work_points(frame, Period(date(2015, 3, 1), date(2015, 3, 31)), tz=TZ)
    assert total == 2 and sorted(p[2] for p in points) == ["fixed", "open"]
    assert all(len(p) == 4 for p in points)  # lat, lon, kind, service: nothing else


def test_the_report_names_services_and_unknown_areas(catalogue: Catalogue) -> None:
    frame = _frame([("ax", "pothole", _local("2015-03-02"), 1.0, 5.0)])
    report = performance_report(
        frame, frame, Period(date(2015, 3, 1), date(2015, 3, 31)), catalogue=catalogue, tz=TZ
    )
    first = report.by_service.iloc[0]
    assert first["service_code"] == "pothole"
    assert first["service_name"] == catalogue.service("pothole").name
    assert "share_within_target" in report.by_service.columns
    assert report.by_neighbourhood.iloc[0]["neighbourhood"] == "Unknown area"
