"""A staff change and its audit row commit together: a failing audit write leaves no change."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from geo311.city.catalogue import Catalogue
from geo311.db.auth_schema import audit_log
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.plans.document import PlanDocument
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from tests.api.web.conftest import PASSWORD, csrf_of
from tests.api.web.test_crew import _plan


@pytest.fixture()
def failing_audit(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Make every audit write fail while ``state["fail"]`` is true (false at first: sign-ins)."""
    real = auth_store.write_audit
    state = {"fail": False}

    def write(conn: Any, **row: Any) -> int:
        if state["fail"]:
            raise RuntimeError("the audit insert failed")
        return real(conn, **row)

    monkeypatch.setattr(auth_store, "write_audit", write)
    return state


def test_a_store_transaction_is_joined_by_the_calls_inside_it(web_store: Store) -> None:
    def count() -> int:
        with web_store.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar())

    seen_elsewhere: list[int] = []
    with pytest.raises(RuntimeError, match="boom"), web_store.begin():
        auth_store.insert_audit(web_store, at=_now(), actor="t", action="x", obj="o")
        assert count() == 1  # the read joins the open transaction and sees the row
        thread = threading.Thread(target=lambda: seen_elsewhere.append(count()))
        thread.start()
        thread.join()
        raise RuntimeError("boom")
    assert seen_elsewhere == [0]  # another thread has its own connection
    assert count() == 0  # the error rolled the joined write back
    with web_store.begin():
        auth_store.insert_audit(web_store, at=_now(), actor="t", action="x", obj="o")
    assert count() == 1


def test_crew_done_and_its_audit_row_commit_together(
    browser, web_store: Store, catalogue: Catalogue, failing_audit: dict[str, bool]
) -> None:
    plan_id, wp, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    headers = {"X-CSRF-Token": csrf_of(crew.get("/crew").text)}
    failing_audit["fail"] = True
    action = {
        "key": "k-atomic-0001",
        "plan_id": plan_id,
        "crew_id": "A",
        "job_id": "wo-p",
        "action": "done",
        "note": "Pothole filled.",
    }
    assert crew.post("/crew/actions", json=action, headers=headers).status_code == 500
    assert (
        work_order_repo.get_work_order(web_store, wp).status != "fixed"
    )  # not closed without its audit row
    assert "wo-p" not in PlanDocument.from_dict(plan_repo.get_plan(web_store, plan_id)).done_for(
        "A"
    )
    assert auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.done")) == []
    failing_audit["fail"] = False
    again = crew.post("/crew/actions", json=action, headers=headers)  # the same key: released
    assert again.json() == {"ok": True, "state": "done", "duplicate": False}
    assert work_order_repo.get_work_order(web_store, wp).status == "fixed"
    assert len(auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.done"))) == 1


def test_roster_and_user_changes_commit_with_their_audit_rows(
    browser, web_store: Store, failing_audit: dict[str, bool]
) -> None:
    dina, admin = browser("dina"), browser("ada")
    token = csrf_of(dina.get("/dispatch?at=2015-10-06T07:00").text)
    admin_token = csrf_of(admin.get("/admin/users").text)
    failing_audit["fail"] = True
    form = {"csrf_token": token, "day": "2015-10-06", "shift_start": "08:00", "shift_end": "12:00"}
    assert dina.post("/dispatch/crews/pothole-1", data=form).status_code == 500
    assert auth_store.crew_day_rows(web_store, "2015-10-06") == {}
    new = {"csrf_token": admin_token, "username": "nico", "role": "planner", "password": PASSWORD}
    assert admin.post("/admin/users", data=new).status_code == 500
    assert auth_store.user_by_username(web_store, "nico") is None
    disable = admin.post("/admin/users/pete/disable", data={"csrf_token": admin_token})
    assert disable.status_code == 500
    assert auth_store.user_by_username(web_store, "pete")["active"]  # type: ignore[index]
    failing_audit["fail"] = False
    assert admin.post("/admin/users", data=new, follow_redirects=False).status_code == 303
    assert auth_store.user_by_username(web_store, "nico") is not None
    assert [
        r["object"]
        for r in auth_store.audit_rows(web_store, auth_store.AuditFilter(action="user.add"))
    ] == ["user:nico"]


def _now() -> datetime:
    return datetime.now(UTC)
