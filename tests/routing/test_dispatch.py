from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.workorders import repo as work_order_repo
from routing.dispatch import (
    OUTSIDE_GRAPH,
    DayOptions,
    ReplanChanges,
    default_graph,
    format_summary,
    plan_day,
    plan_from_document,
    replan_day,
)
from routing.engine.solve import CAPACITY_FULL, NO_TIME, NOT_FITTED

from ._dispatch_data import AT, FAR, POINTS, fill, request


@pytest.fixture(scope="module")
def graph():
    return default_graph()


def test_plan_day_serves_or_explains_every_work_order(store: Store, catalogue, graph) -> None:
    fill(store, catalogue)
    dp = plan_day(
        store, catalogue, at=AT, options=DayOptions(graph=graph, time_limit_s=1, workers=1)
    )
    wo_ids = {wo.work_order_id for wo in work_order_repo.query_work_orders(store)}
    served = {j for r in dp.plan.routes for j in r.job_ids}
    unassigned = {u.job_id: u for u in dp.unassigned}
    assert served | set(unassigned) == {f"wo-{w}" for w in wo_ids}
    assert not served & set(unassigned)
    assert all(u.reason for u in unassigned.values())
    # six nearby jobs, two crews per skill, a whole shift: everything near is served
    assert len(served) == len(POINTS)
    assert dp.plan.is_feasible()
    # skills: pothole work goes to pothole crews only
    for r in dp.plan.routes:
        for j in r.job_ids:
            wo = dp.work_orders[j]
            assert ("pothole" in r.crew_id) == (wo.service_group == "potholes")
    # on-site minutes come from the catalogue
    knock = next(
        j for j in dp.problem.jobs if dp.work_orders[j.id].service_code == "streetlight_knockdown"
    )
    assert knock.service_s == catalogue.service("streetlight_knockdown").on_site_minutes * 60
    # shift clock: America/New_York day of `at`, crews leave at 07:00 local at the earliest
    for r in dp.plan.routes:
        assert dp.problem.clock(r.steps[0].departure_s).hour >= 7


def test_far_work_order_is_unassigned_with_snap_reason(store: Store, catalogue, graph) -> None:
    fill(store, catalogue)
    dp = plan_day(
        store, catalogue, at=AT, options=DayOptions(graph=graph, time_limit_s=1, workers=1)
    )
    far = [u for u in dp.unassigned if u.code == OUTSIDE_GRAPH]
    assert len(far) == 1
    assert dp.work_orders[far[0].job_id].address == FAR[4]
    assert "m from the nearest street" in far[0].reason
    assert f"snap limit {graph.max_snap_distance_m:g} m" in far[0].reason
    # the far job is not in the routing problem, but it is in the document
    assert far[0].job_id not in {j.id for j in dp.problem.jobs}
    doc = dp.to_dict()
    assert far[0].job_id in {u["job_id"] for u in doc["unassigned"]}
    assert doc["summary"]["jobs_unassigned"] == len(doc["unassigned"])


def test_document_has_geometry_locations_and_round_trips(store: Store, catalogue, graph) -> None:
    fill(store, catalogue, far=False)
    dp = plan_day(
        store, catalogue, at=AT, options=DayOptions(graph=graph, time_limit_s=1, workers=1)
    )
    doc = json.loads(json.dumps(dp.to_dict()))
    assert len(doc["locations"]) == len(dp.snaps)
    for route in doc["routes"]:
        jobs = [s for s in route["steps"] if s["type"] == "job"]
        if not jobs:
            assert route["geometry"] == []
            continue
        # the line follows the streets: it passes through every stop's street point
        pts = {tuple(p) for p in route["geometry"]}
        for s in jobs:
            assert (round(s["lat"], 7), round(s["lon"], 7)) in pts
            assert doc["jobs"][s["job_id"]]["work_order_id"] == s["work_order_id"]
            assert doc["labels"][s["job_id"]]
        assert len(route["legs"]) == len(jobs) + 1
        for leg in route["legs"]:
            assert leg["directions"][-1]["kind"] == "arrive"
        assert sum(leg["distance_m"] for leg in route["legs"]) == pytest.approx(route["distance_m"])
    pid = plan_repo.save_plan(store, doc, plan_date=dp.plan_date)
    back = plan_from_document(plan_repo.load_plan_document(store, pid))
    assert [r.job_ids for r in back.routes] == [r.job_ids for r in dp.plan.routes]
    assert any("crew" in line for line in format_summary(dp))


def test_sla_breaches_are_unserved_work_due_before_next_shift(
    store: Store, catalogue, graph
) -> None:
    fill(store, catalogue)
    dp = plan_day(
        store, catalogue, at=AT, options=DayOptions(graph=graph, time_limit_s=1, workers=1)
    )
    limit = dp.plan.next_shift_start_s
    served = {j for r in dp.plan.routes for j in r.job_ids}
    for b in dp.sla_breaches():
        assert b.job_id not in served
        assert b.sla_due_s is not None and b.sla_due_s < limit
    # the far streetlight (reported 5 days before, SLA 15 days) is unserved but not due yet
    assert all(dp.work_orders[b.job_id].address != FAR[4] for b in dp.sla_breaches())


def test_crew_time_runs_out_gives_reasons(store: Store, catalogue, graph) -> None:
    for k in range(14):  # 14 knock-downs of 90 min each: more than one crew day
        request_repo.add_request(
            store,
            request(
                f"k{k}", "streetlight_knockdown", 42.3470 + k * 0.0004, -71.0720, f"{k} Test St", 1
            ),
        )
    from geo311.workorders.grouping import rebuild_work_orders

    rebuild_work_orders(store, catalogue)
    dp = plan_day(
        store,
        catalogue,
        at=AT,
        options=DayOptions(graph=graph, crew_ids=["streetlight-1"], time_limit_s=1, workers=1),
    )
    served = dp.plan.routes[0].job_ids
    assert 0 < len(served) < 14
    left = [u for u in dp.unassigned if u.code != OUTSIDE_GRAPH]
    assert len(served) + len(left) == 14
    assert all(u.code in (NO_TIME, NOT_FITTED, CAPACITY_FULL) for u in left)


def test_naive_at_is_rejected(store: Store, catalogue, graph) -> None:
    with pytest.raises(InputError, match="timezone-aware"):
        plan_day(
            store,
            catalogue,
            at=datetime(2015, 10, 6, 7),
            options=DayOptions(graph=graph, time_limit_s=1),
        )


def test_replan_keeps_locked_stops_and_adds_urgent_work(store: Store, catalogue, graph) -> None:
    fill(store, catalogue, far=False)
    dp = plan_day(
        store, catalogue, at=AT, options=DayOptions(graph=graph, time_limit_s=1, workers=1)
    )
    pid = plan_repo.save_plan(store, dp.to_dict(), plan_date=dp.plan_date)
    route = next(r for r in dp.plan.routes if len(r.job_ids) >= 2)
    first = route.job_ids[0]
    request_repo.add_request(
        store, request("r-urgent", "streetlight_knockdown", 42.34900, -71.07500, "9 Urgent St", 0)
    )
    from geo311.workorders.grouping import assign_request

    urgent = assign_request(store, request_repo.get_request(store, "r-urgent"), catalogue)
    new_id = urgent.work_order_id
    now = AT + timedelta(hours=1)
    dp2 = replan_day(
        store,
        catalogue,
        pid,
        at=now,
        changes=ReplanChanges(locked_stops={route.crew_id: 1}, new_work_order_ids=[new_id]),
        options=DayOptions(graph=graph, time_limit_s=1),
    )
    new_route = dp2.plan.route(route.crew_id)
    assert new_route.job_ids[0] == first
    old_first = next(s for s in route.steps if s.job_id == first)
    new_first = next(s for s in new_route.steps if s.job_id == first)
    assert new_first.arrival_s == pytest.approx(old_first.arrival_s)
    all_ids = {j for r in dp2.plan.routes for j in r.job_ids} | {u.job_id for u in dp2.unassigned}
    assert f"wo-{new_id}" in all_ids
    assert dp2.plan.is_feasible()
    assert dp2.to_dict()["dispatch"]["replanned_from"] == pid
    with pytest.raises(InputError, match="locked_stops"):
        replan_day(
            store,
            catalogue,
            pid,
            at=now,
            changes=ReplanChanges(locked_stops={"nobody": 1}),
            options=DayOptions(graph=graph, time_limit_s=1),
        )
