"""Stop actions (issue 21): concurrent marks all kept, one state per stop, own published stops.

Each test runs on SQLite and on the real local PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.plans import stops_store
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from geo311.workorders.grouping import rebuild_work_orders
from tests.api.conftest import seed_request
from tests.api.test_staff import CREW_A, DISP
from tests.api.web.conftest import csrf_of
from tests.api.web.test_crew import ORIGIN, _plan

DONE, CANT = 8, 16


def _publish(store: Store, plan_id: int, minutes: int = 0) -> None:
    auth_store.insert_publication(
        store,
        plan_id=plan_id,
        plan_date="2015-10-06",
        published_at=ORIGIN + timedelta(minutes=minutes),
        published_by="dina",
    )


def _busy_plan(store: Store, catalogue: Catalogue) -> tuple[int, list[int]]:
    """Publish a plan whose crew A has 8 stops with a work order each and 16 without."""
    for k in range(DONE):  # ~220 m apart: one work order each
        seed_request(store, catalogue, f"r{k}", lat=42.33 + 0.002 * k, lon=-71.08)
    rebuild_work_orders(store, catalogue)
    orders = sorted(wo.work_order_id for wo in work_order_repo.query_work_orders(store))
    assert len(orders) == DONE
    at = (ORIGIN + timedelta(minutes=30)).isoformat()
    steps = [
        {"type": "job", "job_id": f"d-{k}", "ref": str(wo), "arrival": at}
        for k, wo in enumerate(orders)
    ]
    steps += [{"type": "job", "job_id": f"c-{k}", "arrival": at} for k in range(CANT)]
    doc = {
        "origin": ORIGIN.isoformat(),
        "plan_date": "2015-10-06",
        "timezone": "America/New_York",
        "routes": [{"crew_id": "A", "steps": steps}],
        "crews": [{"id": "A", "label": "Crew A"}],
    }
    plan_id = plan_repo.save_plan(store, doc, plan_date="2015-10-06")
    _publish(store, plan_id)
    return plan_id, orders


def _at_once(clients: list[TestClient], bodies: list[dict[str, Any]]) -> list[int]:
    """Send one action per client from its own thread, all released at the same moment."""
    tokens = [csrf_of(c.get("/crew").text) for c in clients]
    barrier = threading.Barrier(len(bodies))
    codes: list[int] = [0] * len(bodies)

    def send(k: int) -> None:
        barrier.wait()
        answer = clients[k].post(
            "/crew/actions", json=bodies[k], headers={"X-CSRF-Token": tokens[k]}
        )
        codes[k] = answer.status_code

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_concurrent_done_and_cant_do_marks_are_all_kept(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, orders = _busy_plan(web_store, catalogue)
    clients = [browser("crewa") for _ in range(CANT)]
    base = {"plan_id": plan_id, "crew_id": "A", "note": ""}
    done = [
        {**base, "key": f"k-done-{k:04d}", "job_id": f"d-{k}", "action": "done"}
        for k in range(DONE)
    ]
    assert _at_once(clients[:DONE], done) == [200] * DONE
    doc = plan_repo.get_plan(web_store, plan_id)
    assert sorted(doc["done"]["A"]) == sorted(f"d-{k}" for k in range(DONE))  # all 8 kept
    assert {work_order_repo.get_work_order(web_store, w).status for w in orders} == {"fixed"}
    assert len(auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.done"))) == DONE

    cant = [
        {
            **base,
            "key": f"k-cant-{k:04d}",
            "job_id": f"c-{k}",
            "action": "cant",
            "reason": "no_access",
        }
        for k in range(CANT)
    ]
    assert _at_once(clients, cant) == [200] * CANT
    doc = plan_repo.get_plan(web_store, plan_id)
    assert set(doc["cant_do"]) == {f"c-{k}" for k in range(CANT)}  # all 16 kept
    assert len(doc["done"]["A"]) == DONE
    assert (
        len(auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.cant_do"))) == CANT
    )


def test_a_done_stop_refuses_cant_do_with_its_state(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, wp, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    headers = {"X-CSRF-Token": csrf_of(crew.get("/crew").text)}
    action = {"plan_id": plan_id, "crew_id": "A", "job_id": "wo-p", "note": ""}
    done = crew.post(
        "/crew/actions", json={**action, "key": "k-done-0001", "action": "done"}, headers=headers
    )
    assert done.status_code == 200 and done.json()["ok"] is True
    cant = {**action, "key": "k-cant-0001", "action": "cant", "reason": "no_access"}
    refused = crew.post("/crew/actions", json=cant, headers=headers)
    assert refused.status_code == 409
    assert (
        refused.json()["state"] == "done"
        and "a dispatcher can reopen it" in refused.json()["error"]
    )
    form = {**cant, "key": "k-cant-0002", "csrf_token": headers["X-CSRF-Token"]}
    assert crew.post("/crew/actions", data=form).status_code == 409  # the plain form too
    doc = plan_repo.get_plan(web_store, plan_id)
    assert doc["stop_states"] == {"wo-p": "done"} and "cant_do" not in doc
    row = stops_store.stop_row(web_store, plan_id, "wo-p") or {}
    assert (row["idempotency_key"], row["by_user"], row["crew_id"]) == ("k-done-0001", "crewa", "A")
    assert auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.cant_do")) == []
    page = crew.get("/crew").text
    stop = page[page.index('id="stop-wo-p"') : page.index("</li>", page.index('id="stop-wo-p"'))]
    assert "<strong>Done.</strong>" in stop and 'class="actions"' not in stop  # no buttons left


def test_a_crew_cannot_act_on_another_crews_stop(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, _, wl = _plan(web_store, catalogue)  # wo-l is crew B's stop
    crew = browser("crewa")
    token = csrf_of(crew.get("/crew").text)
    cant = {
        "key": "k-foreign-001",
        "plan_id": str(plan_id),
        "crew_id": "A",
        "job_id": "wo-l",
        "action": "cant",
        "reason": "no_access",
        "note": "",
    }
    page = crew.post("/crew/actions", data={**cant, "csrf_token": token}, follow_redirects=False)
    assert page.status_code == 403 and "is a stop of crew" in page.text
    script = crew.post(
        "/crew/actions", json={**cant, "key": "k-foreign-002"}, headers={"X-CSRF-Token": token}
    )
    assert script.status_code == 403 and script.json()["ok"] is False
    api = browser()  # no session: the bearer tokens of the JSON API
    for path, body in (("cant", {"reason": "no_access"}), ("done", {}), ("arrive", None)):
        url = f"/plans/{plan_id}/crews/A/stops/wo-l/{path}"
        answer = api.post(url, json=body, headers=CREW_A)
        assert answer.status_code == 403, (path, answer.text)
        assert (
            api.post(
                f"/plans/{plan_id}/crews/B/stops/wo-l/{path}", json=body, headers=CREW_A
            ).status_code
            == 403
        )
    assert "cant_do" not in plan_repo.get_plan(
        web_store, plan_id
    ) and "stop_states" not in plan_repo.get_plan(web_store, plan_id)
    assert work_order_repo.get_work_order(web_store, wl).status == "open"


def test_a_draft_or_replaced_plan_is_refused_and_its_work_order_stays_open(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    draft, wp, _ = _plan(web_store, catalogue, publish=False)
    crew = browser("crewa")
    headers = {"X-CSRF-Token": csrf_of(crew.get("/crew").text)}
    done = {
        "key": "k-draft-0001",
        "plan_id": draft,
        "crew_id": "A",
        "job_id": "wo-p",
        "action": "done",
        "note": "",
    }
    refused = crew.post("/crew/actions", json=done, headers=headers)
    assert refused.status_code == 409 and "never published" in refused.json()["error"]
    api = browser().post(f"/plans/{draft}/crews/A/stops/wo-p/done", json={}, headers=CREW_A)
    assert api.status_code == 409 and "never published" in api.json()["detail"]
    assert work_order_repo.get_work_order(web_store, wp).status == "open"
    assert "stop_states" not in plan_repo.get_plan(web_store, draft)

    _publish(web_store, draft)
    newer = plan_repo.save_plan(
        web_store, plan_repo.get_plan(web_store, draft), plan_date="2015-10-06"
    )
    _publish(web_store, newer, minutes=5)  # the day's plan is now the newer one
    old = crew.post("/crew/actions", json={**done, "key": "k-old-00001"}, headers=headers)
    assert old.status_code == 409 and f"plan {newer} replaced it" in old.json()["error"]
    assert work_order_repo.get_work_order(web_store, wp).status == "open"
    ok = crew.post(
        "/crew/actions", json={**done, "key": "k-new-00001", "plan_id": newer}, headers=headers
    )
    assert ok.status_code == 200 and work_order_repo.get_work_order(web_store, wp).status == "fixed"


def test_a_dispatcher_reopens_a_finished_stop_and_it_is_audited(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, _, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    crew_token = csrf_of(crew.get("/crew").text)
    done = {
        "key": "k-done-0001",
        "plan_id": plan_id,
        "crew_id": "A",
        "job_id": "wo-p",
        "action": "done",
        "note": "",
    }
    assert (
        crew.post("/crew/actions", json=done, headers={"X-CSRF-Token": crew_token}).status_code
        == 200
    )
    reopen = {**done, "key": "k-reopen-001", "action": "reopen"}
    by_crew = crew.post("/crew/actions", json=reopen, headers={"X-CSRF-Token": crew_token})
    assert by_crew.status_code == 403 and "dispatcher" in by_crew.json()["error"]

    dina = browser("dina")
    plan_page = dina.get(f"/dispatch/plans/{plan_id}").text
    assert 'name="action" value="reopen"' in plan_page  # the button on the finished stop
    form = {**reopen, "plan_id": str(plan_id), "csrf_token": csrf_of(plan_page)}
    answer = dina.post("/crew/actions", data=form, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/dispatch/plans/{plan_id}#stop-wo-p"
    doc = plan_repo.get_plan(web_store, plan_id)
    assert doc["stop_states"] == {"wo-p": "planned"} and "done" not in doc
    [row] = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.reopen"))
    assert row["actor"] == "dina" and row["before"] == {"state": "done"}
    assert row["after"]["state"] == "planned"
    assert 'name="action" value="done"' in crew.get("/crew").text  # the buttons are back

    api = browser()  # no session: the bearer tokens of the JSON API
    again = {**done, "key": "k-done-0002"}
    assert (
        crew.post("/crew/actions", json=again, headers={"X-CSRF-Token": crew_token}).status_code
        == 200
    )
    url = f"/plans/{plan_id}/crews/A/stops/wo-p/reopen"
    assert api.post(url, json={}, headers=CREW_A).status_code == 403
    by_token = api.post(url, json={"note": "not finished"}, headers=DISP)
    assert by_token.status_code == 200 and by_token.json()["stops"][0]["state"] == "planned"
    twice = api.post(url, json={}, headers=DISP)
    assert twice.status_code == 409 and twice.json()["state"] == "planned"
    assert len(auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.reopen"))) == 2


def test_a_server_dying_mid_action_leaves_the_key_free_for_the_retry(
    web_store: Store, catalogue: Catalogue, monkeypatch: Any
) -> None:
    from api.plans import stops as _stops
    from api.plans.stops import Actor
    from api.web.crew_actions import apply_once, parse_action

    plan_id, _wp, _ = _plan(web_store, catalogue)
    action = parse_action(
        {"key": "k-killed-001", "plan_id": str(plan_id), "crew_id": "A", "job_id": "wo-p",
         "action": "done", "note": ""}
    )  # fmt: skip
    crew = Actor("crewa", "crew", "A")
    real_act = _stops.act

    class Killed(BaseException):
        """The process dies: no ``except Exception`` clean-up runs."""

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise Killed("SIGKILL between the key's claim and the action's commit")

    monkeypatch.setattr(_stops, "act", killed)
    with contextlib.suppress(Killed):
        apply_once(web_store, catalogue, action, crew)
    monkeypatch.setattr(_stops, "act", real_act)
    result, duplicate = apply_once(web_store, catalogue, action, crew)  # the phone's retry
    assert result["ok"] is True and duplicate is False
    assert plan_repo.get_plan(web_store, plan_id)["stop_states"] == {"wo-p": "done"}
