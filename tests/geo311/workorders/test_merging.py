"""A dispatcher merges two work orders or splits a report out (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.workorders import repo as work_order_repo
from geo311.workorders.closing import Closure, close_work_order
from geo311.workorders.grouping import assign_request
from geo311.workorders.merging import merge_work_orders, split_report
from tests.geo311.workorders.test_workorders import T0, put, req


def _two_orders(store, catalogue):
    """Two pothole work orders 200 m apart (a, b together; c alone) and a streetlight one."""
    put(
        store,
        req("a", hours=0.0),
        req("b", north=10.0, hours=1.0),
        req("c", north=200.0, hours=2.0),
        req("d", code="streetlight_outage", north=400.0, hours=3.0),
    )
    ids = [assign_request(store, r, catalogue).work_order_id for r in "abcd"]
    assert ids[0] == ids[1] and len({ids[0], ids[2], ids[3]}) == 3
    return ids[0], ids[2], ids[3]


def test_merge_moves_every_report_and_leaves_the_other_empty(store, catalogue):
    ab, c, _ = _two_orders(store, catalogue)
    before = work_order_repo.get_work_order(store, ab)
    merged = merge_work_orders(store, catalogue, into=c, other=ab, at=T0 + timedelta(hours=5))
    assert merged.work_order_id == c and set(merged.member_ids) == {"a", "b", "c"}
    assert merged.report_count == 3 and merged.opened == T0  # the oldest report's time
    assert merged.sla_due == before.sla_due  # the earliest due time of all its reports
    assert merged.status == "open" and merged.closed_datetime is None
    empty = work_order_repo.get_work_order(store, ab)
    assert empty.member_ids == () and empty.report_count == 0
    assert empty.status == "duplicate" and f"Merged into work order {c}" in empty.status_notes
    # the emptied order takes no new report: one next to its old anchor joins another or opens
    put(store, req("e", north=1.0, hours=6.0))
    got = assign_request(store, "e", catalogue)
    assert got.work_order_id != ab and got.failed_repair_of is None


def test_merge_refuses_itself_unknown_closed_and_other_group(store, catalogue):
    ab, c, light = _two_orders(store, catalogue)
    with pytest.raises(InputError, match="other: .*itself"):
        merge_work_orders(store, catalogue, into=ab, other=ab)
    with pytest.raises(NotFoundError, match="999999"):
        merge_work_orders(store, catalogue, into=ab, other=999999)
    with pytest.raises(InputError, match="other: .*group"):
        merge_work_orders(store, catalogue, into=ab, other=light)
    close_work_order(
        store,
        c,
        Closure(status="fixed", closure_category="Case Resolved", at=T0 + timedelta(hours=4)),
    )
    with pytest.raises(ConflictError, match="other: work order .* already 'fixed'"):
        merge_work_orders(store, catalogue, into=ab, other=c)
    with pytest.raises(ConflictError, match="into: "):
        merge_work_orders(store, catalogue, into=c, other=ab)
    assert set(work_order_repo.get_work_order(store, ab).member_ids) == {"a", "b"}  # untouched


def test_split_moves_one_report_into_a_new_work_order_anchored_at_it(store, catalogue):
    ab, _, _ = _two_orders(store, catalogue)
    new = split_report(store, catalogue, ab, request_id="b", at=T0 + timedelta(hours=5))
    assert new.work_order_id != ab and new.member_ids == ("b",) and new.status == "open"
    assert new.opened == T0 + timedelta(hours=1) and new.report_count == 1
    left = work_order_repo.get_work_order(store, ab)
    assert left.member_ids == ("a",) and left.report_count == 1
    # a later report beside "b" joins the nearest anchor: the new work order's
    put(store, req("f", north=11.0, hours=6.0))
    assert assign_request(store, "f", catalogue).work_order_id == new.work_order_id


def test_split_refuses_a_foreign_lone_or_closed_report_and_a_closed_order(store, catalogue):
    ab, c, _ = _two_orders(store, catalogue)
    with pytest.raises(InputError, match="request_id: report 'c' is not in work order"):
        split_report(store, catalogue, ab, request_id="c")
    with pytest.raises(InputError, match="only report"):
        split_report(store, catalogue, c, request_id="c")
    with pytest.raises(NotFoundError):
        split_report(store, catalogue, 999999, request_id="a")
    close_work_order(
        store,
        ab,
        Closure(status="fixed", closure_category="Case Resolved", at=T0 + timedelta(hours=4)),
    )
    with pytest.raises(ConflictError, match="already 'fixed'"):
        split_report(store, catalogue, ab, request_id="b")
    count = len(work_order_repo.query_work_orders(store))
    assert count == 3  # nothing was opened by the refusals
