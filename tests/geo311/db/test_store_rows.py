"""geo311.requests.repo.query_request_rows: the column-subset read path gives the same values as query_requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geo311.db.store import Store
from geo311.errors import InputError
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo


def _req(i: int, now: datetime) -> ServiceRequest:
    t = now - timedelta(hours=i // 2)  # pairs share a time: the id breaks the tie
    return ServiceRequest(
        service_request_id=f"R{i:03d}",
        service_code="pothole" if i % 2 else "streetlight_outage",
        status="open" if i % 3 else "fixed",
        requested_datetime=t,
        updated_datetime=None if i % 4 else t,
        source="boston",
        source_id=str(i),
        lat=42.35,
        long=-71.08 - i * 1e-4,
    )


def test_rows_match_query_requests(store: Store) -> None:
    now = datetime(2024, 6, 1, 12, tzinfo=UTC)
    for i in range(30):
        request_repo.add_request(store, _req(i, now))
    cols = ["service_request_id", "requested_datetime", "updated_datetime", "lon", "status"]
    filters = request_repo.RequestFilters(
        service_codes=["pothole"],
        statuses=["open"],
        start=now - timedelta(hours=12),
        end=now,
        limit=4,
        offset=1,
        newest_first=True,
    )
    rows = request_repo.query_request_rows(store, cols, filters)
    full = request_repo.query_requests(store, filters)
    assert rows == [
        (r.service_request_id, r.requested_datetime, r.updated_datetime, r.long, r.status)
        for r in full
    ]
    assert len(rows) == 4
    assert all(r[1].tzinfo is not None and r[1].utcoffset() == timedelta(0) for r in rows)
    by_id = request_repo.query_request_rows(
        store, ["service_request_id"], request_repo.RequestFilters(ids=["R003", "R001", "nope"])
    )
    assert by_id == [("R003",), ("R001",)]  # oldest first by default


def test_unknown_column_is_named(store: Store) -> None:
    with pytest.raises(InputError, match="long"):
        request_repo.query_request_rows(store, ["service_request_id", "long"])
