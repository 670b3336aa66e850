"""Reports are grouped in parallel: per (group, map cell) locks, same work orders as one by one.

Real threads against the real databases (the ``store`` fixture: SQLite and PostgreSQL); the
lock-waiting proofs hold a lock in another PostgreSQL connection.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from pyproj import Transformer

from geo311.db.store import LOCK_SCOPE_SQL, WORK_ORDERS_LOCK_SQL, Store
from geo311.errors import ConflictError
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo
from geo311.workorders.clustering import METRIC_CRS, project
from geo311.workorders.grouping import assign_request, group_rules, rebuild_work_orders
from geo311.workorders.locks import LOCK_REACH, cell_keys
from tests.geo311.workorders.test_workorders import LAT0, LON0, put, req, scenario, snapshot

WAIT = 20.0  # seconds a thread may take before the test calls it stuck


class Runner:
    """Run callables in threads of their own; keep each one's result or error."""

    def __init__(self) -> None:
        self.threads: dict[str, threading.Thread] = {}
        self.results: dict[str, Any] = {}

    def start(self, name: str, fn: Callable[[], Any]) -> threading.Thread:
        def run() -> None:
            try:
                self.results[name] = fn()
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.results[name] = exc

        thread = threading.Thread(target=run, daemon=True)
        self.threads[name] = thread
        thread.start()
        return thread

    def finish(self) -> dict[str, Any]:
        for name, thread in self.threads.items():
            thread.join(WAIT)
            assert not thread.is_alive(), f"{name} is still running after {WAIT} s"
        errors = {k: v for k, v in self.results.items() if isinstance(v, BaseException)}
        assert not errors, errors
        return self.results


def slow_candidate_reads(store: Store, monkeypatch: pytest.MonkeyPatch, pause: float) -> None:
    """Widen the race: every grouping waits ``pause`` s between reading and writing."""
    real = work_order_repo.work_order_anchors_near

    def slow(*args: Any, **kwargs: Any) -> Any:
        found = real(*args, **kwargs)
        if args and args[0] is store:
            time.sleep(pause)
        return found

    monkeypatch.setattr(work_order_repo, "work_order_anchors_near", slow)


def pothole_rule(catalogue):
    return group_rules(catalogue)[catalogue.service("pothole").group]


def test_a_report_locks_the_cell_of_every_anchor_it_can_merge_with(catalogue):
    back = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    rng = np.random.default_rng(7)
    for group, rule in group_rules(catalogue).items():
        n = 3000
        lat = 42.25 + rng.uniform(0, 0.15, n)
        lon = -71.15 + rng.uniform(0, 0.15, n)
        x, y = project(lat, lon)
        angle = rng.uniform(0, 2 * math.pi, n)
        dist = rule.radius_m * np.sqrt(rng.uniform(0.5, 1.0, n))  # many right at the radius
        alon, alat = back.transform(x + dist * np.cos(angle), y + dist * np.sin(angle))
        far = 0
        for i in range(n):
            keys = cell_keys(
                group, lat[i], lon[i], radius_m=rule.radius_m, reach_m=LOCK_REACH * rule.radius_m
            )
            assert 1 <= len(keys) <= 12 and keys == sorted(set(keys))
            anchor = cell_keys(group, alat[i], alon[i], radius_m=rule.radius_m, reach_m=0.0)
            assert len(anchor) == 1 and anchor[0] in keys, (group, lat[i], lon[i])
            # A report 10 radii north locks none of these cells: it commits in parallel.
            north = lat[i] + 10 * rule.radius_m / 111_000
            other = cell_keys(
                group, north, lon[i], radius_m=rule.radius_m, reach_m=LOCK_REACH * rule.radius_m
            )
            far += not set(other) & set(keys)
        assert far == n
    # Groups have grids of their own: one place, different locks.
    a = cell_keys("potholes", LAT0, LON0, radius_m=25, reach_m=0)
    b = cell_keys("streetlights", LAT0, LON0, radius_m=25, reach_m=0)
    assert a != b


@pytest.mark.parametrize("n", [2, 10])
def test_simultaneous_reports_of_one_defect_make_one_work_order(store, catalogue, monkeypatch, n):
    # n reports within 8 m of one spot (all within 16 m of each other: one pothole).
    reports = [
        req(
            f"s{i:02d}",
            north=8 * math.cos(2 * math.pi * i / n),
            east=8 * math.sin(2 * math.pi * i / n),
        )
        for i in range(n)
    ]
    put(store, *reports)
    slow_candidate_reads(store, monkeypatch, 0.2 if n == 2 else 0.05)
    start = threading.Barrier(n)
    runner = Runner()
    for r in reports:
        runner.start(
            r.service_request_id, lambda r=r: (start.wait(), assign_request(store, r, catalogue))[1]
        )
    results = runner.finish()
    wos = work_order_repo.query_work_orders(store)
    assert len(wos) == 1, [w.member_ids for w in wos]
    assert sorted(wos[0].member_ids) == sorted(results) and wos[0].report_count == n
    assert sum(not a.joined for a in results.values()) == 1  # one opened it, the rest joined
    assert {a.work_order_id for a in results.values()} == {wos[0].work_order_id}


@pytest.mark.postgres
def test_a_report_waits_only_for_the_cells_it_touches(postgres_url, catalogue):
    rule = pothole_rule(catalogue)
    with Store(postgres_url) as store:
        put(store, req("near"), req("far", north=2000, hours=1))
        # Another connection holds the lock of the cell of "near" (as a report there would).
        key = cell_keys(rule.group, LAT0, LON0, radius_m=rule.radius_m, reach_m=0.0)[0]
        holder = sa.create_engine(postgres_url)
        runner = Runner()
        try:
            with holder.connect() as conn:
                conn.execute(
                    sa.text(f"SELECT pg_advisory_xact_lock({LOCK_SCOPE_SQL}, :k)"), {"k": key}
                )
                near = runner.start("near", lambda: assign_request(store, "near", catalogue))
                far = runner.start("far", lambda: assign_request(store, "far", catalogue))
                far.join(WAIT)
                assert not far.is_alive() and not isinstance(runner.results["far"], Exception)
                assert request_repo.get_request(store, "far").work_order_id is not None  # committed
                near.join(0.5)
                assert near.is_alive(), "a report in the held cell did not wait for its lock"
                assert request_repo.get_request(store, "near").work_order_id is None
                waiting = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                        f" AND classid::bigint = ({LOCK_SCOPE_SQL})::bigint & 4294967295"
                        " AND objid::bigint = :k AND objsubid = 2 AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"k": key & 0xFFFFFFFF},
                ).scalar()
                assert waiting == 1
                conn.rollback()  # releases the cell
            results = runner.finish()
        finally:
            holder.dispose()
    assert not results["near"].joined and results["near"].work_order_id is not None


def test_rebuild_waits_for_a_report_in_flight_and_groups_it(store, catalogue):
    put(store, req("old"))
    assign_request(store, "old", catalogue)
    stored, release = threading.Event(), threading.Event()

    def post_new() -> None:  # as POST requests.json: store, group, commit in one transaction
        with store.begin():
            request_repo.add_request(store, req("new", east=10, hours=1))
            assign_request(store, "new", catalogue)
            stored.set()
            release.wait(WAIT)

    runner = Runner()
    runner.start("post", post_new)
    assert stored.wait(WAIT)
    rebuild = runner.start("rebuild", lambda: rebuild_work_orders(store, catalogue))
    rebuild.join(0.5)
    assert rebuild.is_alive(), "the rebuild did not wait for the report in flight"
    release.set()
    summary = runner.finish()["rebuild"]
    assert summary.requests_grouped == 2 and summary.work_orders == 1
    wos = work_order_repo.query_work_orders(store)
    assert [sorted(w.member_ids) for w in wos] == [["new", "old"]]
    assert request_repo.get_request(store, "new").work_order_id == wos[0].work_order_id


def test_a_report_waits_for_a_rebuild_in_flight(store, catalogue):
    put(store, req("old"))
    assign_request(store, "old", catalogue)
    snapping, release = threading.Event(), threading.Event()

    def slow_snap(lat: float, lon: float) -> tuple[float, float]:
        snapping.set()  # the rebuild is inside its transaction, its lock held
        release.wait(WAIT)
        return lat, lon

    runner = Runner()
    runner.start("rebuild", lambda: rebuild_work_orders(store, catalogue, snap=slow_snap))
    assert snapping.wait(WAIT)

    def post_new() -> Any:
        with store.begin():
            request_repo.add_request(store, req("new", east=10, hours=1))
            return assign_request(store, "new", catalogue)

    post = runner.start("post", post_new)
    post.join(0.5)
    assert post.is_alive(), "a report was grouped while a rebuild was in flight"
    release.set()
    results = runner.finish()
    assert results["post"].joined
    wos = work_order_repo.query_work_orders(store)
    assert [sorted(w.member_ids) for w in wos] == [["new", "old"]]


@pytest.mark.postgres
def test_a_held_rebuild_lock_stops_reports(postgres_url, catalogue):
    with Store(postgres_url) as store:
        put(store, req("a"))
        holder = sa.create_engine(postgres_url)
        runner = Runner()
        try:
            with holder.connect() as conn:
                conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({WORK_ORDERS_LOCK_SQL})"))
                post = runner.start("a", lambda: assign_request(store, "a", catalogue))
                post.join(0.5)
                assert post.is_alive()
                conn.rollback()
            runner.finish()
        finally:
            holder.dispose()
        assert request_repo.get_request(store, "a").work_order_id is not None


@pytest.mark.postgres
def test_a_rebuild_in_another_schema_does_not_stop_reports(
    postgres_url, postgres_module_url, catalogue
):
    # Two stores in one database (e.g. a city's and its training copy): locks are per schema.
    with Store(postgres_url) as store, Store(postgres_module_url):
        put(store, req("a"))
        other = sa.create_engine(postgres_module_url)
        try:
            with other.connect() as conn:
                conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({WORK_ORDERS_LOCK_SQL})"))
                runner = Runner()
                runner.start("a", lambda: assign_request(store, "a", catalogue))
                runner.finish()  # while the other schema's lock is still held
                assert request_repo.get_request(store, "a").work_order_id is not None
                conn.rollback()
        finally:
            other.dispose()


def test_reports_grouped_in_parallel_equal_the_one_by_one_grouping(store, catalogue):
    # Four districts 2.2 km apart, each its own random history (merges, closures, failed
    # repairs); each district's reports arrive in time order, the districts in parallel.
    districts: list[list[Any]] = []
    for k in range(4):
        moved = [
            replace(
                r,
                service_request_id=f"d{k}{r.service_request_id}",
                source_id=f"d{k}{r.source_id}",
                lat=None if r.lat is None else r.lat + 0.02 * k,
            )
            for r in scenario(k + 1, n=40)
        ]
        districts.append(sorted(moved, key=lambda r: (r.requested_datetime, r.service_request_id)))
    put(store, *[r for d in districts for r in d])
    runner = Runner()
    for k, reports in enumerate(districts):
        runner.start(
            f"d{k}", lambda reports=reports: [assign_request(store, r, catalogue) for r in reports]
        )
    runner.finish()
    parallel = snapshot(store)
    # The rebuild groups every report one by one in time order (the rule as it always was).
    rebuild_work_orders(store, catalogue)
    assert snapshot(store) == parallel
    assert sum(len(k) - 1 for k in parallel) > 10
    assert sum(1 for v in parallel.values() if v[-1] is not None) > 0


def test_a_given_request_is_checked_against_the_stored_one_under_the_locks(store, catalogue):
    a = req("a")
    put(store, a)
    with pytest.raises(ConflictError, match="stored with other lat, lon than given"):
        assign_request(store, replace(a, lat=a.lat + 0.001, long=a.long + 0.001), catalogue)
    rebuild_work_orders(store, catalogue)  # groups "a" after the caller read it
    with pytest.raises(ConflictError, match="already in work order"):
        assign_request(store, a, catalogue)
    assert [w.member_ids for w in work_order_repo.query_work_orders(store)] == [("a",)]
