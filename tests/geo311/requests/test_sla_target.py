"""The service-level target and the expected time are two facts (issue 21, item 2).

Publishing a plan moves only the reports' Open311 ``expected_datetime`` (the ETA): the SLA
target, the work orders' ``sla_due``, the overdue counts and the within-SLA share stay as they
were. On SQLite and PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.plans import repo as plan_repo
from geo311.plans.publishing import publish
from geo311.requests import repo as request_repo
from geo311.requests.metrics import (
    BacklogColumns,
    backlog_by_age,
    requests_frame,
    service_metrics,
    work_orders_frame,
)
from geo311.requests.repo import request_to_row
from geo311.workorders import repo as work_order_repo
from geo311.workorders.closing import Closure, close_work_order
from geo311.workorders.grouping import rebuild_work_orders
from geo311.workorders.open_view import open_work_orders_at

TZ = ZoneInfo("America/New_York")
AT = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)  # 07:00 in Boston, the dispatcher's morning
# The City's targets: the old pothole was due in April (182 days ago); the light is on time.
OLD_TARGET = datetime(2015, 4, 21, 10, 0, tzinfo=UTC)
LIGHT_TARGET = datetime(2015, 10, 20, 12, 0, tzinfo=UTC)


def _city_report(
    rid: str, code: str, requested: datetime, target: datetime, lat: float, lon: float
) -> ServiceRequest:
    """A report as the import stores it: the City's target is both target and expected time."""
    return ServiceRequest(
        service_request_id=rid,
        service_code=code,
        status="open",
        requested_datetime=requested,
        expected_datetime=target,
        sla_target_datetime=target,
        source="boston",
        source_id=rid,
        address=f"{rid} Boylston St",
        lat=lat,
        long=lon,
    )


@pytest.fixture()
def city(store: Store, catalogue: Catalogue) -> dict[str, int]:
    """An overdue pothole and an on-time streetlight, each its own work order."""
    old_at, light_at = datetime(2015, 4, 19, 10, tzinfo=UTC), datetime(2015, 10, 5, 12, tzinfo=UTC)
    reports = [
        _city_report("old", "pothole", old_at, OLD_TARGET, 42.3505, -71.0810),
        _city_report("light", "streetlight_outage", light_at, LIGHT_TARGET, 42.3450, -71.0700),
    ]
    with store.begin() as conn:
        request_repo.insert_request_rows(store, conn, [request_to_row(r) for r in reports])
    rebuild_work_orders(store, catalogue)
    ids = {rid: request_repo.get_request(store, rid).work_order_id for rid in ("old", "light")}
    assert None not in ids.values()
    return {rid: int(wid) for rid, wid in ids.items() if wid is not None}


def _plan(store: Store, stops: list[tuple[int, float]]) -> int:
    """Store a plan of the morning of ``AT``: one crew at ``(work_order_id, seconds)`` stops."""

    def step(kind: str, t: float, ref: int | None = None) -> dict[str, Any]:
        arrival = (AT + timedelta(seconds=t)).isoformat()
        return {
            "type": kind,
            "arrival_s": t,
            "ref": None if ref is None else str(ref),
            "arrival": arrival,
        }

    steps = [step("start", 0), *(step("job", t, wo) for wo, t in stops), step("end", 9000)]
    doc = {"plan_date": "2015-10-06", "routes": [{"crew_id": "A", "steps": steps}]}
    return plan_repo.save_plan(store, doc, plan_date="2015-10-06")


def _sla_view(store: Store, catalogue: Catalogue) -> dict[str, Any]:
    """What the console and the planner count: due times, overdue work orders and requests."""
    orders = open_work_orders_at(store, AT, catalogue=catalogue)
    by_orders = backlog_by_age(
        work_orders_frame(orders),
        at=AT,
        columns=BacklogColumns(
            group="service_group",
            opened="opened",
            closed=None,
            due="sla_due",
            reports="report_count",
        ),
    )
    by_requests = backlog_by_age(requests_frame(store), at=AT)
    return {
        "due_at": {wo.work_order_id: wo.sla_due for wo in orders},
        "stored_due": {
            wo.work_order_id: wo.sla_due for wo in work_order_repo.query_work_orders(store)
        },
        "overdue_orders": int(by_orders["overdue"].sum()),
        "overdue_requests": int(by_requests["overdue"].sum()),
    }


def test_publishing_moves_the_expected_time_never_the_sla_target(
    store: Store, catalogue: Catalogue, city: dict[str, int]
) -> None:
    before = _sla_view(store, catalogue)
    assert before["due_at"] == {city["old"]: OLD_TARGET, city["light"]: LIGHT_TARGET}
    assert before["overdue_orders"] == before["overdue_requests"] == 1  # the April pothole

    plan_id = _plan(store, [(city["old"], 600), (city["light"], 1200)])
    assert publish(store, plan_id, by="dina", tz=TZ, at=AT).scheduled == 2
    old = request_repo.get_request(store, "old")
    assert old.expected_datetime == AT + timedelta(seconds=600)  # the ETA, for Open311
    assert old.sla_target_datetime == OLD_TARGET
    assert _sla_view(store, catalogue) == before  # still overdue, same due times

    # A rebuild after publishing summarises the members again: still the targets.
    rebuild_work_orders(store, catalogue)
    assert sorted(wo.sla_due for wo in work_order_repo.query_work_orders(store)) == [
        OLD_TARGET,
        LIGHT_TARGET,
    ]


def test_an_eta_a_newer_plan_drops_goes_back_to_the_target(
    store: Store, catalogue: Catalogue, city: dict[str, int]
) -> None:
    first = _plan(store, [(city["old"], 600), (city["light"], 1200)])
    publish(store, first, by="dina", tz=TZ, at=AT)
    second = _plan(store, [(city["old"], 1800)])
    assert publish(store, second, by="dina", tz=TZ, at=AT + timedelta(minutes=5)).cleared == 1
    light = request_repo.get_request(store, "light")
    assert (light.expected_datetime, light.sla_target_datetime) == (LIGHT_TARGET, LIGHT_TARGET)
    assert request_repo.get_request(store, "old").expected_datetime == AT + timedelta(seconds=1800)


def test_the_within_sla_share_does_not_change_because_a_plan_was_published(
    store: Store, catalogue: Catalogue, city: dict[str, int]
) -> None:
    # The plan puts the light first thing in the morning; the crew fixes it that afternoon:
    # after the ETA, long before the City's target.
    plan_id = _plan(store, [(city["light"], 600)])
    publish(store, plan_id, by="dina", tz=TZ, at=AT)
    assert request_repo.get_request(store, "light").expected_datetime == AT + timedelta(seconds=600)
    close_work_order(
        store,
        city["light"],
        Closure(status="fixed", closure_category="Case Resolved", at=AT + timedelta(hours=6)),
        catalogue=catalogue,
    )
    table = service_metrics(store, by=["service"]).set_index("service")
    assert table.loc["streetlight_outage", "closed"] == 1
    assert table.loc["streetlight_outage", "share_within_sla"] == 1.0


def test_a_reimported_city_row_updates_the_target_and_keeps_the_eta(
    store: Store, catalogue: Catalogue, city: dict[str, int]
) -> None:
    plan_id = _plan(store, [(city["light"], 600)])
    publish(store, plan_id, by="dina", tz=TZ, at=AT)
    moved = {"light": LIGHT_TARGET, "old": OLD_TARGET}  # the City's export now says 2 days later
    rows = [
        request_to_row(
            request_repo.get_request(store, rid).with_changes(
                expected_datetime=due + timedelta(days=2),
                sla_target_datetime=due + timedelta(days=2),
            ),
            row_hash="changed",
        )
        for rid, due in moved.items()
    ]
    with store.begin() as conn:
        request_repo.update_request_rows(store, conn, rows)
    light, old = request_repo.get_request(store, "light"), request_repo.get_request(store, "old")
    assert light.sla_target_datetime == LIGHT_TARGET + timedelta(days=2)
    assert light.expected_datetime == AT + timedelta(seconds=600)  # the published ETA stays
    # Not scheduled: the expected time follows the City's, stored like every time (equal in SQL).
    assert old.expected_datetime == old.sla_target_datetime == OLD_TARGET + timedelta(days=2)
    with store.engine.connect() as conn:
        same = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM service_requests "
                "WHERE expected_datetime = sla_target_datetime AND service_request_id = 'old'"
            )
        ).scalar_one()
    assert same == 1
