"""A plan as routing stores it is published by geo311 (which reads the stored JSON itself)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.plans.publishing import plan_etas, publish
from geo311.plans.repo import load_plan_document
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo
from routing.dispatch import DayOptions, DayPlan, default_graph, plan_day, save_day_plan
from routing.engine.problem import PRIORITY_OVERDUE

from ._dispatch_data import AT, fill


@pytest.fixture(scope="module")
def graph():
    return default_graph()


def test_geo311_reads_the_etas_routing_wrote_and_publishes_them(
    store: Store, catalogue, graph
) -> None:
    fill(store, catalogue, far=False)
    dp = plan_day(
        store, catalogue, at=AT, options=DayOptions(graph=graph, time_limit_s=1, workers=1)
    )
    plan_id = save_day_plan(store, dp).plan_id
    assert plan_id is not None
    doc = load_plan_document(store, plan_id)  # routing's typed reading of the same JSON
    expected: dict[int, object] = {}
    for route in doc.routes:
        for step in route.job_steps:
            assert step.ref is not None and step.arrival is not None
            expected.setdefault(int(step.ref), step.arrival)
    assert expected and plan_etas(plan_repo.get_plan(store, plan_id)) == expected

    done = publish(store, plan_id, by="dina", tz=ZoneInfo("America/New_York"))
    served = work_order_repo.query_work_orders(store, ids=sorted(expected))
    members = [rid for wo in served for rid in wo.member_ids]
    assert done.scheduled == len(members) > 0
    for wo in served:
        for rid in wo.member_ids:
            assert (
                request_repo.get_request(store, rid).expected_datetime == expected[wo.work_order_id]
            )


def test_publishing_changes_no_job_deadline_nor_priority_of_the_next_plan(
    store: Store, catalogue, graph
) -> None:
    fill(store, catalogue, far=False)

    def jobs() -> tuple[dict[str, tuple[int, float | None]], DayPlan]:
        dp = plan_day(
            store, catalogue, at=AT, options=DayOptions(graph=graph, time_limit_s=1, workers=1)
        )
        return {j.id: (j.priority, j.sla_due_s) for j in dp.problem.jobs}, dp

    before, dp = jobs()
    assert PRIORITY_OVERDUE in {p for p, _ in before.values()}  # the 20-day-old light
    plan_id = save_day_plan(store, dp).plan_id
    assert plan_id is not None
    assert publish(store, plan_id, by="dina", tz=ZoneInfo("America/New_York")).scheduled > 0
    after, _ = jobs()  # re-planning the same morning: the ETAs are not deadlines
    assert after == before
