"""The store on SQLite and on the real local PostgreSQL: same assertions on both."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from geo311.db.store import Store
from geo311.errors import ConflictError, NotFoundError
from geo311.model import ServiceRequest
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row
from geo311.workorders import repo as work_order_repo

T0 = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)


def make_request(
    rid: str, *, minutes: int = 0, code: str = "pothole", status: str = "open"
) -> ServiceRequest:
    return ServiceRequest(
        service_request_id=rid,
        service_code=code,
        status=status,
        requested_datetime=T0 + timedelta(minutes=minutes),
        source="test",
        source_id=rid,
        lat=42.35 + minutes * 1e-4,
        long=-71.08,
        address=f"{minutes} Boylston St",
        expected_datetime=T0 + timedelta(hours=48),
    )


def test_schema_is_versioned_and_migrate_is_idempotent(store: Store) -> None:
    assert store.schema_version() >= 1
    assert store.migrate() == store.schema_version()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"service_requests", "work_orders", "import_runs", "import_rejects", "plans"} <= tables


def test_round_trip_keeps_fields_and_timezone(store: Store) -> None:
    local = timezone(timedelta(hours=-4))
    req = make_request("r1").with_changes(
        requested_datetime=datetime(2015, 10, 6, 7, 0, tzinfo=local),
        description="deep",
        media_url="http://x/y.jpg",
    )
    request_repo.add_request(store, req)
    back = request_repo.get_request(store, "r1")
    assert back.requested_datetime == req.requested_datetime  # same instant
    assert back.requested_datetime.utcoffset() == timedelta(0)
    assert (back.description, back.media_url, back.lat, back.long) == (
        "deep",
        "http://x/y.jpg",
        req.lat,
        req.long,
    )


def test_naive_datetimes_are_refused(store: Store) -> None:
    req = make_request("r1").with_changes(requested_datetime=datetime(2015, 10, 6, 7, 0))
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        request_repo.add_request(store, req)


def test_query_filters(store: Store) -> None:
    with store.begin() as conn:
        request_repo.insert_request_rows(
            store,
            conn,
            [
                request_to_row(make_request("a", minutes=0)),
                request_to_row(make_request("b", minutes=10, code="streetlight_outage")),
                request_to_row(make_request("c", minutes=20, status="fixed")),
            ],
        )
    assert [r.service_request_id for r in request_repo.query_requests(store)] == ["a", "b", "c"]
    assert [
        r.service_request_id
        for r in request_repo.query_requests(
            store, request_repo.RequestFilters(newest_first=True, limit=2)
        )
    ] == [
        "c",
        "b",
    ]
    assert [
        r.service_request_id
        for r in request_repo.query_requests(
            store, request_repo.RequestFilters(service_codes=["pothole"])
        )
    ] == [
        "a",
        "c",
    ]
    assert [
        r.service_request_id
        for r in request_repo.query_requests(store, request_repo.RequestFilters(statuses=["open"]))
    ] == ["a", "b"]
    window = request_repo.query_requests(
        store,
        request_repo.RequestFilters(
            start=T0 + timedelta(minutes=5), end=T0 + timedelta(minutes=20)
        ),
    )
    assert [r.service_request_id for r in window] == ["b"]
    assert [
        r.service_request_id
        for r in request_repo.query_requests(store, request_repo.RequestFilters(ids=["c", "a"]))
    ] == [
        "a",
        "c",
    ]
    assert request_repo.count_requests(store) == 3


def test_unique_source_id(store: Store) -> None:
    request_repo.add_request(store, make_request("a"))
    with pytest.raises(ConflictError, match="'a'.*stored already") as info:
        request_repo.add_request(store, make_request("a"))
    assert isinstance(info.value.__cause__, sa.exc.IntegrityError)


def test_missing_objects_raise_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        request_repo.get_request(store, "nope")
    with pytest.raises(NotFoundError, match="plan 99"):
        plan_repo.get_plan(store, 99)
    with pytest.raises(NotFoundError, match="work order 7"):
        work_order_repo.get_work_order(store, 7)


def test_plans_are_kept_as_documents(store: Store) -> None:
    assert plan_repo.latest_plan_id(store) is None
    pid = plan_repo.save_plan(store, {"routes": [{"crew": "P1"}]}, plan_date="2015-10-06")
    doc = plan_repo.get_plan(store, pid)
    assert doc["routes"] == [{"crew": "P1"}] and doc["plan_id"] == pid and doc["kind"] == "plan"
    plan_repo.update_plan(store, pid, {"routes": []})
    assert plan_repo.get_plan(store, pid)["routes"] == []
    child = plan_repo.save_plan(
        store, {"routes": []}, plan_date="2015-10-06", kind="replan", parent_plan_id=pid
    )
    assert plan_repo.get_plan(store, child)["parent_plan_id"] == pid
    assert (
        plan_repo.latest_plan_id(store) == child
        and plan_repo.latest_plan_id(store, kind="plan") == pid
    )


def test_failed_batch_leaves_no_half_batch(store: Store) -> None:
    request_repo.add_request(store, make_request("a"))
    rows = [request_to_row(make_request("b")), request_to_row(make_request("a"))]  # second collides
    with pytest.raises(sa.exc.IntegrityError), store.begin() as conn:
        request_repo.insert_request_rows(store, conn, rows)
    assert [r.service_request_id for r in request_repo.query_requests(store)] == ["a"]


def test_bulk_load_rebuilds_indexes(store: Store) -> None:
    names = {ix["name"] for ix in sa.inspect(store.engine).get_indexes("service_requests")}
    with store.bulk_load(), store.begin() as conn:
        request_repo.insert_request_rows(store, conn, [request_to_row(make_request("a"))])
    after = {ix["name"] for ix in sa.inspect(store.engine).get_indexes("service_requests")}
    assert after == names and "ix_service_requests_requested" in after
    assert request_repo.count_requests(store) == 1


def test_concurrent_first_migrations_do_not_collide(store_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def open_store(_: int) -> int:
        s = Store(store_url)
        try:
            return s.schema_version()
        finally:
            s.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = list(pool.map(open_store, range(4)))
    assert len(set(versions)) == 1 and versions[0] >= 1
