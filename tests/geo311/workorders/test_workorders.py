"""Work orders from duplicate reports, on SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from geo311.db.store import Store
from geo311.errors import ConflictError, InputError
from geo311.model import ServiceRequest
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row
from geo311.workorders import repo as work_order_repo
from geo311.workorders.closing import Closure, close_work_order
from geo311.workorders.grouping import assign_request, rebuild_work_orders
from geo311.workorders.open_view import merged_report_count, open_work_orders_at

T0 = datetime(2015, 10, 5, 8, 0, tzinfo=UTC)
LAT0, LON0 = 42.3500, -71.0800
M_LAT = 1 / 111_132.0  # degrees per metre north
M_LON = 1 / (111_320.0 * math.cos(math.radians(LAT0)))


def req(
    rid,
    *,
    code="pothole",
    north=0.0,
    east=0.0,
    hours=0.0,
    closed_after=None,
    status=None,
    lat=True,
    address="",
    expected=None,
):
    t = T0 + timedelta(hours=hours)
    closed = None if closed_after is None else t + timedelta(hours=closed_after)
    return ServiceRequest(
        service_request_id=rid,
        service_code=code,
        status=status or ("open" if closed is None else "fixed"),
        requested_datetime=t,
        source="test",
        source_id=rid,
        closed_datetime=closed,
        expected_datetime=expected,
        closure_category="" if closed is None else "Case Resolved",
        address=address or f"{rid} Test St",
        lat=LAT0 + north * M_LAT if lat else None,
        long=LON0 + east * M_LON if lat else None,
        needs_geocoding=not lat,
    )


def put(store: Store, *reqs: ServiceRequest) -> None:
    with store.begin() as conn:
        request_repo.insert_request_rows(store, conn, [request_to_row(r) for r in reqs])


def snapshot(store: Store):
    """Work orders keyed by their member sets (ids differ between runs)."""
    wos = work_order_repo.query_work_orders(store)
    by_id = {wo.work_order_id: frozenset(wo.member_ids) for wo in wos}
    out = {}
    for wo in wos:
        out[frozenset(wo.member_ids)] = (
            wo.service_group,
            wo.service_code,
            round(wo.lat, 9),
            round(wo.lon, 9),
            wo.opened,
            wo.sla_due,
            wo.report_count,
            wo.status,
            wo.closed_datetime,
            wo.address,
            wo.closure_category,
            by_id.get(wo.failed_repair_of) if wo.failed_repair_of else None,
        )
    return out


def test_duplicates_join_and_distant_or_other_group_reports_open_new(store, catalogue):
    put(
        store,
        req("a", address="1 Boylston St"),
        req("b", east=10, hours=1),
        req("c", east=40, hours=2),  # 40 m: beyond the 25 m pothole radius
        req("d", code="streetlight_outage", east=5, hours=3),  # other group
        req("e", north=-20, hours=4),
    )
    first = assign_request(store, "a", catalogue)
    assert not first.joined and first.report_count == 1
    assert first.message == f"Opened work order {first.work_order_id} for your report."
    second = assign_request(store, "b", catalogue)
    assert second.joined and second.work_order_id == first.work_order_id
    assert second.message.startswith(
        f"Joined work order {first.work_order_id} with 1 earlier report"
    )
    third = assign_request(store, "c", catalogue)
    assert not third.joined and third.work_order_id != first.work_order_id
    light = assign_request(store, "d", catalogue)
    assert not light.joined
    fifth = assign_request(store, "e", catalogue)  # 20 m from the anchor "a"
    assert fifth.joined and fifth.work_order_id == first.work_order_id
    assert "2 earlier reports" in fifth.message
    wo = work_order_repo.get_work_order(store, first.work_order_id)
    assert wo.member_ids == ("a", "b", "e") and wo.report_count == 3
    assert wo.address == "1 Boylston St" and wo.opened == T0
    assert wo.sla_due == T0 + timedelta(hours=48)  # from the pothole SLA, earliest member
    assert wo.lat == pytest.approx(LAT0 - 20 / 3 * M_LAT, abs=1e-9)
    assert wo.lon == pytest.approx(LON0 + 10 / 3 * M_LON, abs=1e-9)
    assert wo.status == "open" and wo.closed_datetime is None
    assert request_repo.get_request(store, "b").work_order_id == first.work_order_id
    with pytest.raises(ConflictError, match="already in work order"):
        assign_request(store, "b", catalogue)


def test_membership_is_decided_by_the_anchor_not_by_any_member(store, catalogue):
    # b is 20 m east of a and joins; c is 20 m east of b but 40 m from the anchor a.
    put(store, req("a"), req("b", east=20, hours=1), req("c", east=40, hours=2))
    ids = [assign_request(store, r, catalogue).work_order_id for r in "abc"]
    assert ids[0] == ids[1] != ids[2]


def test_snap_moves_the_representative_point_only(store, catalogue):
    put(store, req("a"), req("b", east=10, hours=1))
    snap = lambda lat, lon: (round(lat, 3), round(lon, 3))  # noqa: E731
    wid = assign_request(store, "a", catalogue, snap=snap).work_order_id
    assign_request(store, "b", catalogue, snap=snap)
    wo = work_order_repo.get_work_order(store, wid)
    assert (wo.lat, wo.lon) == (round(LAT0, 3), round(LON0 + 5 * M_LON, 3))


def test_report_after_closure_opens_new_order_and_flags_failed_repair(store, catalogue):
    put(
        store,
        req("a", closed_after=24),  # fixed one day later
        req("b", east=5, hours=24 * 10),  # 10 days later, nearby: failed repair?
        req("c", east=300, hours=24 * 11),
        req("d", north=5, hours=24 * 80),
    )  # 80 days later: beyond 30 days
    a = assign_request(store, "a", catalogue)
    wo_a = work_order_repo.get_work_order(store, a.work_order_id)
    assert wo_a.status == "fixed" and wo_a.closed_datetime == T0 + timedelta(hours=24)
    b = assign_request(store, "b", catalogue)
    assert not b.joined and b.failed_repair_of == a.work_order_id
    assert f"failed repair of work order {a.work_order_id}" in b.message
    assert (
        work_order_repo.get_work_order(store, b.work_order_id).failed_repair_of == a.work_order_id
    )
    c = assign_request(store, "c", catalogue)
    assert c.failed_repair_of is None
    d = assign_request(store, "d", catalogue)
    # b is still open at day 80, so d joins it rather than being a failed repair of a.
    assert d.joined and d.work_order_id == b.work_order_id


def test_failed_repair_window_ends_after_catalogue_days(store, catalogue):
    put(store, req("a", closed_after=1), req("b", hours=1 + 24 * 31))
    assign_request(store, "a", catalogue)
    assert assign_request(store, "b", catalogue).failed_repair_of is None


def test_reports_without_location_or_group_are_not_grouped(store, catalogue):
    put(store, req("a", lat=False), req("b", code="other"), req("c"))
    no_loc = assign_request(store, "a", catalogue)
    assert no_loc.work_order_id is None and "no location" in no_loc.message
    assert assign_request(store, "b", catalogue).work_order_id is None
    summary = rebuild_work_orders(store, catalogue)
    assert summary.skipped_no_location == 1 and summary.skipped_ungrouped == 1
    assert summary.work_orders == 1 and summary.requests_grouped == 1


def test_close_work_order_closes_open_members_with_one_note(store, catalogue):
    put(
        store,
        req("a"),
        req("b", east=3, hours=1),
        req("c", east=6, hours=2, closed_after=0.5, status="duplicate"),
    )
    wid = [assign_request(store, r, catalogue) for r in "abc"][0].work_order_id
    at = datetime(2015, 10, 6, 14, 0, tzinfo=UTC)
    with pytest.raises(InputError, match="status 'open' is an open state"):
        close_work_order(
            store, wid, Closure(status="open", closure_category="Case Resolved", at=at)
        )
    with pytest.raises(InputError, match="before work order"):
        close_work_order(
            store,
            wid,
            Closure(status="fixed", closure_category="Case Resolved", at=T0 - timedelta(days=1)),
        )
    wo = close_work_order(
        store,
        wid,
        Closure(status="fixed", closure_category="Case Resolved", at=at),
        catalogue=catalogue,
    )
    assert wo.status == "fixed" and wo.closed_datetime == at
    assert wo.status_notes == "Repaired by crew on 2015-10-06"
    for rid in "ab":
        r = request_repo.get_request(store, rid)
        assert (r.status, r.closure_category, r.closed_datetime) == ("fixed", "Case Resolved", at)
        assert r.status_notes == "Repaired by crew on 2015-10-06"
    assert request_repo.get_request(store, "c").status == "duplicate"  # closed before: history kept
    with pytest.raises(ConflictError, match="already fixed"):
        close_work_order(
            store, wid, Closure(status="fixed", closure_category="Case Resolved", at=at)
        )
    # A new report nearby within 30 days is a possible failed repair of the closed order.
    put(store, req("d", east=2, hours=24 * 5))
    assert assign_request(store, "d", catalogue).failed_repair_of == wid


def test_close_as_duplicate_writes_a_duplicate_note(store, catalogue):
    put(store, req("a"))
    wid = assign_request(store, "a", catalogue).work_order_id
    wo = close_work_order(
        store,
        wid,
        Closure(
            status="duplicate",
            closure_category="Duplicate of Existing Case",
            at=T0 + timedelta(hours=2),
        ),
    )
    assert wo.status_notes.startswith("Duplicate of an existing report")
    assert request_repo.get_request(store, "a").status_notes == wo.status_notes


def test_open_work_orders_at_a_moment(store, catalogue):
    put(
        store,
        req("a", closed_after=30),
        req("b", east=4, hours=2, closed_after=40),
        req("c", east=8, hours=20),  # joins after the moment below
        req("d", code="streetlight_outage", north=500, hours=1),
        req("e", north=900, hours=-48, closed_after=24),
    )  # closed before the moment
    rebuild_work_orders(store, catalogue)
    at = T0 + timedelta(hours=5)
    wos = open_work_orders_at(store, at)
    assert [sorted(w.member_ids) for w in wos] == [["a", "b"], ["d"]]
    assert wos[0].report_count == 2 and wos[0].status == "open"
    assert merged_report_count(wos) == 1
    assert [w.service_group for w in open_work_orders_at(store, at, groups=["streetlights"])] == [
        "streetlights"
    ]
    later = open_work_orders_at(store, T0 + timedelta(hours=50))
    assert [sorted(w.member_ids) for w in later] == [["a", "b", "c"], ["d"]]


def scenario(seed: int, n: int = 60):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        closed = None if rng.random() < 0.3 else float(rng.exponential(30))
        code = "pothole" if rng.random() < 0.6 else "streetlight_outage"
        out.append(
            req(
                f"r{i:03d}",
                code=code,
                north=float(rng.uniform(0, 80)),
                east=float(rng.uniform(0, 80)),
                hours=float(rng.integers(0, 24 * 20)),
                closed_after=closed,
                lat=bool(rng.random() > 0.05),
            )
        )
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_incremental_arrival_equals_rebuild(store, catalogue, seed):
    reqs = scenario(seed)
    put(store, *reqs)
    for r in sorted(reqs, key=lambda r: (r.requested_datetime, r.service_request_id)):
        assign_request(store, r, catalogue)
    incremental = snapshot(store)
    summary = rebuild_work_orders(store, catalogue)
    assert snapshot(store) == incremental
    assert summary.work_orders == len(incremental)
    assert summary.reports_merged == sum(len(k) - 1 for k in incremental)
    assert summary.failed_repairs == sum(1 for v in incremental.values() if v[-1] is not None)
    assert summary.reports_merged > 0 and summary.failed_repairs > 0  # the scenario exercises both
    # Rebuilding twice changes nothing.
    rebuild_work_orders(store, catalogue)
    assert snapshot(store) == incremental


def test_rebuild_at_a_moment_ignores_later_reports_and_closures(store, catalogue):
    put(store, req("a", closed_after=10), req("b", east=5, hours=20), req("c", hours=30))
    rebuild_work_orders(store, catalogue, at=T0 + timedelta(hours=5))
    wos = work_order_repo.query_work_orders(store)
    assert len(wos) == 1 and wos[0].member_ids == ("a",) and wos[0].status == "open"
    assert request_repo.get_request(store, "b").work_order_id is None


def test_real_2015_records_incremental_equals_rebuild(store, catalogue, tmp_path: Path):
    from geo311.ingest.importer import ImportOptions, import_file
    from geo311.settings import REPO_DATA_DIR

    with Store(f"sqlite:///{tmp_path / 'all.db'}") as full:
        import_file(
            full,
            REPO_DATA_DIR / "boston311" / "boston311_2015_streetlights_potholes.csv.gz",
            catalogue,
            ImportOptions(rejects_path=tmp_path / "rejects.csv"),
        )
        # A dense Back Bay box over the autumn: real duplicates, closures and failed repairs.
        rows = request_repo.query_requests(
            full,
            request_repo.RequestFilters(
                bbox=(-71.09, 42.345, -71.07, 42.355),
                start=datetime(2015, 9, 1, tzinfo=UTC),
                end=datetime(2015, 12, 1, tzinfo=UTC),
            ),
        )
    assert len(rows) > 50
    put(store, *rows)
    for r in rows:
        assign_request(store, r, catalogue)
    incremental = snapshot(store)
    summary = rebuild_work_orders(store, catalogue)
    assert snapshot(store) == incremental
    assert summary.reports_merged > 0
