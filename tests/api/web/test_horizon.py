"""The week's horizon page: plan today against the next working days, see which work goes when."""

from __future__ import annotations

import time
from typing import Any

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.staff import store as auth_store
from tests.api.web.conftest import csrf_of
from tests.routing._dispatch_data import fill, request

AT = "2015-10-06T07:00"


def _wait(client: Any, progress_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        status = client.get(progress_url + ".json").json()
        if status["state"] != "running" or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def _more_work(store: Store, catalogue: Catalogue) -> None:
    fill(store, catalogue)
    for k in range(14):  # 14 knock-downs of 90 min: more than the streetlight crews' day
        request_repo.add_request(
            store,
            request(
                f"k{k}", "streetlight_knockdown", 42.3470 + k * 0.0004, -71.0720, f"{k} T St", 1
            ),
        )
    from geo311.workorders.grouping import rebuild_work_orders

    rebuild_work_orders(store, catalogue)


def test_plan_with_the_horizon_shows_the_days_and_stores_today(
    browser: Any, web_store: Store, catalogue: Catalogue
) -> None:
    _more_work(web_store, catalogue)
    client = browser("dina")
    empty = client.get(f"/dispatch/horizon?at={AT}")
    assert empty.status_code == 200 and "No plan has been made with the horizon yet" in empty.text
    assert (
        'href="/dispatch/horizon"' in client.get(f"/dispatch?at={AT}").text
    )  # the console links it
    response = client.post(
        "/dispatch/horizon",
        data={"csrf_token": csrf_of(empty.text), "at": AT, "days": "3", "time_limit_s": "1"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    status = _wait(client, response.headers["location"])
    assert status["state"] == "done", status
    plan_id = status["plan_id"]
    page = client.get(response.headers["location"])  # a finished run leads to the plan's horizon
    assert page.url.path == f"/dispatch/plans/{plan_id}/horizon"
    doc = plan_repo.get_plan(web_store, plan_id)
    assert doc["kind"] == "horizon" and doc["plan_date"] == "2015-10-06"
    forecast = doc["meta"]["horizon"]
    assert [d["date"] for d in forecast["days"]] == ["2015-10-06", "2015-10-07", "2015-10-08"]
    assert "Tuesday 2015-10-06" in page.text and "today (routed)" in page.text
    assert "Wednesday 2015-10-07" in page.text and "Thursday 2015-10-08" in page.text
    # every work order the forecast puts on a day is listed on the page under its number
    for day in forecast["days"]:
        for job_id in day["jobs"]:
            wo = doc["jobs"][job_id]["work_order_id"]
            assert f"<td><strong>{wo}</strong> " in page.text
    assert any(d["jobs"] for d in forecast["days"][1:])  # more than a day's work: later days used
    assert f'href="/dispatch/plans/{plan_id}"' in page.text
    assert f"#{plan_id}" in client.get("/dispatch/horizon").text  # the newest horizon plan
    # the same forecast as JSON for a planner's token
    plan_token = {"Authorization": "Bearer plan-token"}
    data = client.get(f"/plans/{plan_id}/horizon", headers=plan_token).json()
    assert data["plan_id"] == plan_id and data["days"] == forecast["days"]
    assert data["beyond"] == forecast["beyond"]
    created = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.create"))[0]
    assert created["actor"] == "dina" and created["after"]["horizon_days"] == 3
    # only today is published: the plan publishes as any plan
    token = csrf_of(page.text)
    published = client.post(f"/dispatch/plans/{plan_id}/publish", data={"csrf_token": token})
    assert published.status_code == 200
    assert auth_store.publication(web_store, plan_id)["published_by"] == "dina"


def test_the_horizon_needs_a_dispatcher_and_the_csrf_token(browser: Any, web_store: Store) -> None:
    crew = browser("crewa")
    assert crew.get("/dispatch/horizon", follow_redirects=False).status_code in (303, 403)
    client = browser("dina")
    refused = client.post("/dispatch/horizon", data={"at": AT, "days": "3"}, follow_redirects=False)
    assert refused.status_code == 403
    token = csrf_of(client.get("/dispatch/horizon").text)
    bad = client.post("/dispatch/horizon", data={"csrf_token": token, "at": AT, "days": "0"})
    assert bad.status_code == 400 and "days" in bad.text
    assert plan_repo.latest_plan_id(web_store, kind="horizon") is None


def test_a_plan_made_without_the_horizon_says_so(
    browser: Any, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    started = client.post(
        "/dispatch/plan", data={"csrf_token": token, "at": AT, "time_limit_s": "1"},
        follow_redirects=False,
    )  # fmt: skip
    status = _wait(client, started.headers["location"])
    assert status["state"] == "done"
    page = client.get(f"/dispatch/plans/{status['plan_id']}/horizon")
    assert page.status_code in (400, 422)
    assert "made without a horizon" in page.text
    missing = client.get(
        f"/plans/{status['plan_id']}/horizon", headers={"Authorization": "Bearer plan-token"}
    )
    assert missing.status_code == 404 and "without a horizon" in missing.text
