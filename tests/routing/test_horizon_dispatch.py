"""Planning today against the week's horizon from the store: only today routed, forecast kept."""

from __future__ import annotations

import pytest

from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans.repo import load_plan_document
from geo311.requests import repo as request_repo
from geo311.workorders.grouping import rebuild_work_orders
from routing.dispatch import (
    HORIZON_META_KEY,
    OUTSIDE_GRAPH,
    DayOptions,
    default_graph,
    plan_day_with_horizon,
    save_day_plan,
)

from ._dispatch_data import AT, fill, request


@pytest.fixture(scope="module")
def graph():
    return default_graph()


def test_only_today_is_routed_and_the_forecast_is_stored(store: Store, catalogue, graph) -> None:
    fill(store, catalogue)
    # 14 knock-downs of 90 min for one crew: more than a day's work, due over the next days
    for k in range(14):
        request_repo.add_request(
            store,
            request(
                f"k{k}", "streetlight_knockdown", 42.3470 + k * 0.0004, -71.0720, f"{k} T St", 1
            ),
        )
    rebuild_work_orders(store, catalogue)
    week = plan_day_with_horizon(
        store,
        catalogue,
        at=AT,
        days=3,
        options=DayOptions(graph=graph, crew_ids=["streetlight-1"], time_limit_s=1, workers=1),
    )
    hz = week.horizon
    assert hz.days[0] == AT.date() and len(hz.days) == 3
    routed = set(week.day.plan.routes[0].job_ids)
    today = set(hz.jobs_on(0))
    later = set(hz.jobs_on(1)) | set(hz.jobs_on(2))
    assert today and later and not today & later
    # the buckets are conservative: today's route does at least as much as the forecast's today
    assert len(today) <= len(routed)
    # every job the forecast puts on today is solved as at least "due today"
    prio = {j.id: j.priority for j in week.day.problem.jobs}
    assert all(prio[j] >= 2 for j in today)
    # every routable job has a day or is beyond the horizon; no job is planned twice
    assert set(hz.day_of) == {j.id for j in week.day.problem.jobs}
    assert all(u.code == OUTSIDE_GRAPH for u in week.day.outside)
    doc = save_day_plan(store, week.day)
    stored = load_plan_document(store, doc.plan_id)
    data = stored.meta[HORIZON_META_KEY]
    assert [d["date"] for d in data["days"]] == [d.isoformat() for d in hz.days]
    assert set(data["days"][0]["jobs"]) == today
    assert data["beyond"] == hz.beyond()
    # the stored routes are today's only: one day's work
    assert stored.plan_date == AT.date().isoformat()


def test_days_below_one_is_refused(store: Store, catalogue, graph) -> None:
    with pytest.raises(InputError, match="days=0"):
        plan_day_with_horizon(
            store, catalogue, at=AT, days=0, options=DayOptions(graph=graph, time_limit_s=1)
        )
