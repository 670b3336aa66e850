"""The dispatcher changes a plan by hand (move, drop, lock), re-plans with locks and mid-day."""

from __future__ import annotations

import re
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
DAY = "2015-10-06"


def wait_for_plan(client: Any, response: Any) -> int:
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    assert url.startswith("/dispatch/plan-jobs/")
    deadline = time.monotonic() + 120
    while True:
        status = client.get(url + ".json").json()
        if status["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert status["state"] == "done", status.get("error")
    return int(status["plan_id"])


def plan(client: Any, token: str, **shifts: tuple[str, str]) -> int:
    for crew, (start, end) in shifts.items():
        form = {"csrf_token": token, "day": DAY, "on_duty": "on"}
        client.post(
            f"/dispatch/crews/{crew}", data={**form, "shift_start": start, "shift_end": end}
        )
    response = client.post(
        "/dispatch/plan",
        data={"csrf_token": token, "at": AT, "time_limit_s": "1"},
        follow_redirects=False,
    )
    return wait_for_plan(client, response)


def stops(doc: dict[str, Any], crew: str) -> list[str]:
    route = next(r for r in doc["routes"] if r["crew_id"] == crew)
    return [s["job_id"] for s in route["steps"] if s["type"] == "job"]


def arrivals(doc: dict[str, Any], crew: str) -> list[str]:
    route = next(r for r in doc["routes"] if r["crew_id"] == crew)
    return [s["arrival"] for s in route["steps"] if s["type"] == "job"]


def edit(client: Any, plan_id: int, token: str, *, save: bool = False, **fields: Any) -> Any:
    url = f"/dispatch/plans/{plan_id}/edit" + ("/save" if save else "")
    return client.post(url, data={"csrf_token": token, **fields}, follow_redirects=False)


def test_move_a_stop_check_then_save_as_a_new_audited_plan(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    plan_id = plan(client, token)
    doc = plan_repo.get_plan(web_store, plan_id)
    potholes = stops(doc, "pothole-1") + stops(doc, "pothole-2")
    assert len(potholes) == 2
    job = potholes[0]
    source = "pothole-1" if job in stops(doc, "pothole-1") else "pothole-2"
    target = "pothole-2" if source == "pothole-1" else "pothole-1"
    page = client.get(f"/dispatch/plans/{plan_id}")
    assert f'id="stop-{job}"' in page.text and "Check move" in page.text

    move = {"action": "move", "job_id": job, "crew_id": target, "position": "1"}
    check = edit(client, plan_id, token, **move)
    assert check.status_code == 200, check.text
    assert f"move {job} to crew {target}, stop 1" in check.text
    assert 'id="feasible"' in check.text and "cannot be worked" not in check.text
    assert re.search(r"<strong>\d\d:\d\d</strong>", check.text)  # the new ETAs
    assert plan_repo.latest_plan_id(web_store) == plan_id  # nothing saved by checking

    saved = edit(client, plan_id, token, save=True, **move)
    assert saved.status_code == 303
    new_id = int(saved.headers["location"].rsplit("/", 1)[1])
    new = plan_repo.get_plan(web_store, new_id)
    assert new["kind"] == "edited" and new["parent_plan_id"] == plan_id
    assert stops(new, target)[0] == job and job not in stops(new, source)
    times = arrivals(new, target)
    assert times == sorted(times) and times[0][11:16] >= "07:00"
    assert new["violations"] == [] and new["summary"]["is_feasible"]
    assert stops(plan_repo.get_plan(web_store, plan_id), source)[0] == job  # the old plan is kept
    row = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.edit"))[0]
    assert row["actor"] == "dina" and row["object"] == f"plan:{new_id}"
    assert job in row["before"]["routes"][source] and job not in row["before"]["routes"][target]
    assert row["after"]["routes"][target][0] == job
    page = client.get(f"/dispatch/plans/{new_id}")
    assert "Changed by hand from" in page.text and f"move {job} to crew {target}" in page.text


def test_a_skill_mismatch_is_refused_and_overtime_saved_only_when_accepted(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    plan_id = plan(client, token, **{"pothole-2": ("07:00", "07:20")})
    doc = plan_repo.get_plan(web_store, plan_id)
    assert stops(doc, "pothole-2") == []  # nothing fits into 20 minutes
    job = stops(doc, "pothole-1")[0]

    wrong = {"action": "move", "job_id": job, "crew_id": "streetlight-1", "position": "1"}
    check = edit(client, plan_id, token, **wrong)
    assert check.status_code == 200 and 'id="hard"' in check.text
    assert "crew streetlight-1 lacks skill asphalt" in check.text
    assert "Save as a new plan" not in check.text
    refused = edit(client, plan_id, token, save=True, **wrong)
    assert refused.status_code == 409 and "cannot be worked" in refused.text
    assert plan_repo.latest_plan_id(web_store) == plan_id

    late = {"action": "move", "job_id": job, "crew_id": "pothole-2", "position": "1"}
    check = edit(client, plan_id, token, **late)
    assert 'id="soft"' in check.text and "after shift end 07:20" in check.text
    assert 'name="accept"' in check.text
    not_yet = edit(client, plan_id, token, save=True, **late)
    assert not_yet.status_code == 409 and "save anyway" in not_yet.text
    assert plan_repo.latest_plan_id(web_store) == plan_id
    accepted = edit(client, plan_id, token, save=True, accept="yes", **late)
    assert accepted.status_code == 303
    new = plan_repo.get_plan(web_store, int(accepted.headers["location"].rsplit("/", 1)[1]))
    assert stops(new, "pothole-2") == [job] and new["violations"]
    assert not new["summary"]["is_feasible"]
    page = client.get(accepted.headers["location"])
    assert "saved although it breaks" in page.text
    row = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.edit"))[0]
    assert any("after shift end 07:20" in v for v in row["after"]["violations"])


def test_drop_lock_then_replan_keeps_them_and_mid_day_replan_inserts_new_work(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    plan_id = plan(client, token)
    doc = plan_repo.get_plan(web_store, plan_id)
    lights = [c for c in ("streetlight-1", "streetlight-2") if len(stops(doc, c)) >= 1]
    crew = max(lights, key=lambda c: len(stops(doc, c)))
    dropped = stops(doc, crew)[-1]

    check = edit(client, plan_id, token, action="drop", job_id=dropped)
    assert check.status_code == 200 and f"drop {dropped}" in check.text
    saved = edit(client, plan_id, token, save=True, action="drop", job_id=dropped)
    dropped_id = int(saved.headers["location"].rsplit("/", 1)[1])
    after_drop = plan_repo.get_plan(web_store, dropped_id)
    gone = next(u for u in after_drop["unassigned"] if u["job_id"] == dropped)
    assert gone["code"] == "dropped_by_dispatcher" and "(dina)" in gone["reason"]
    assert dropped not in stops(after_drop, crew)

    # lock the crew's first stop: saved at once, shown, and it cannot be moved
    other = next(c for c in ("pothole-1", "pothole-2") if stops(after_drop, c))
    first = stops(after_drop, other)[0]
    locked = edit(client, dropped_id, token, action="lock", job_id=first)
    assert locked.status_code == 303
    locked_id = int(locked.headers["location"].rsplit("/", 1)[1])
    assert plan_repo.get_plan(web_store, locked_id)["dispatcher_locks"] == {other: [first]}
    page = client.get(f"/dispatch/plans/{locked_id}")
    assert re.search(rf'id="stop-{first}">.*?badge locked', page.text, re.S)
    assert "Unlock" in page.text
    move = edit(client, locked_id, token, action="move", job_id=first, crew_id=other, position=2)
    assert move.status_code == 409 and "unlock it first" in move.text
    lock_row = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.edit"))[0]
    assert lock_row["after"]["locks"] == {other: [first]} and lock_row["before"]["locks"] == {}

    again = client.post(
        f"/dispatch/plans/{locked_id}/replan",
        data={"csrf_token": token, "mode": "locked", "time_limit_s": "1"},
        follow_redirects=False,
    )
    replanned = plan_repo.get_plan(web_store, wait_for_plan(client, again))
    assert replanned["kind"] == "replan" and replanned["parent_plan_id"] == locked_id
    assert stops(replanned, other)[0] == first  # kept on its crew, first
    assert replanned["dispatcher_locks"] == {other: [first]}
    codes = {u["job_id"]: u["code"] for u in replanned["unassigned"]}
    assert codes.get(dropped) == "dropped_by_dispatcher"  # not put back by the solver
    assert (
        auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.replan"))[0]["after"][
            "mode"
        ]
        == "locked"
    )

    # mid-day: a new urgent pothole arrives; "Re-plan now" inserts it
    request_repo.add_request(
        web_store, request("r-urgent", "pothole", 42.34930, -71.07500, "300 Dartmouth St", 0.1)
    )
    from geo311.workorders.grouping import assign_request

    assign_request(web_store, "r-urgent", catalogue)
    page = client.get(f"/dispatch/plans/{replanned['plan_id']}")
    new_wo = re.search(r'name="new_work_order" value="(\d+)"', page.text)
    assert new_wo and "300 Dartmouth St" in page.text
    now = client.post(
        f"/dispatch/plans/{replanned['plan_id']}/replan",
        data={
            "csrf_token": token,
            "mode": "now",
            "at": "2015-10-06T09:00",
            "time_limit_s": "1",
            "new_work_order": new_wo.group(1),
        },
        follow_redirects=False,
    )
    mid = plan_repo.get_plan(web_store, wait_for_plan(client, now))
    assert mid["dispatch"]["new_work_orders"] == [int(new_wo.group(1))]
    placed = [j for r in mid["routes"] for s in r["steps"] if (j := s.get("work_order_id"))]
    assert int(new_wo.group(1)) in placed  # urgent: a pothole crew takes it
    assert stops(mid, other)[0] == first
    assert (
        auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.replan"))[0]["after"][
            "mode"
        ]
        == "now"
    )


def test_edits_check_role_csrf_and_publication(browser, web_store: Store, catalogue: Catalogue):
    fill(web_store, catalogue)
    client = browser("dina")
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    plan_id = plan(client, token)
    job = next(s for r in plan_repo.get_plan(web_store, plan_id)["routes"] for s in stops_of(r))
    form = {"action": "drop", "job_id": job}
    assert edit(client, plan_id, "", save=True, **form).status_code == 403
    planner = browser("pete")
    ptoken = csrf_of(planner.get("/planner").text)
    response = edit(planner, plan_id, ptoken, save=True, **form)
    assert response.status_code == 403
    bad = edit(client, plan_id, token, action="move", job_id=job, crew_id="nobody", position=1)
    assert bad.status_code == 400 and "crew_id: &#39;nobody&#39; has no route" in bad.text
    assert auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.edit")) == []
    client.post(f"/dispatch/plans/{plan_id}/publish", data={"csrf_token": token})
    published = edit(client, plan_id, token, save=True, **form)
    assert published.status_code == 409 and "is published" in published.text
    page = client.get(f"/dispatch/plans/{plan_id}")
    assert "Check move" not in page.text and "Re-plan now" in page.text


def stops_of(route: dict[str, Any]) -> list[str]:
    return [s["job_id"] for s in route["steps"] if s["type"] == "job"]
