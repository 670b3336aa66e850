"""Crew stop states: one row per plan and stop, changed by the state machine only, atomically.

Runs on SQLite and on the real local PostgreSQL (the ``store`` fixture).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command

from geo311.db import migrations
from geo311.db.schema import plans
from geo311.db.store import Store
from geo311.errors import InputError
from geo311.plans import repo as plan_repo
from geo311.plans import stop_states, stops_store
from geo311.plans.stop_states import StopChange, StopStateConflict, apply_change

T0 = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)


def _doc(jobs: dict[str, list[str]]) -> dict:
    return {
        "plan_date": "2015-10-06",
        "routes": [
            {"crew_id": crew, "steps": [{"type": "job", "job_id": j} for j in ids]}
            for crew, ids in jobs.items()
        ],
    }


def _change(plan_id: int, job_id: str, action: str, **extra: str) -> StopChange:
    return StopChange(plan_id, job_id, "A", action, "crewa", **extra)


def test_the_transitions_are_data_and_every_state_is_reachable() -> None:
    targets = {t for moves in stop_states.TRANSITIONS.values() for t in moves.values()}
    sources = {s for moves in stop_states.TRANSITIONS.values() for s in moves}
    assert targets | sources == set(stop_states.STATES)
    # only a dispatcher leaves a finished state, and only to planned; a crew only within
    # the short undo window of its own can't-do (never a done: that closed the work order)
    assert stop_states.TRANSITIONS["undo"] == {"cant_do": "arrived"}
    assert stop_states.ROLES["undo"] == {"crew"} and "undo" in stop_states.WINDOWS
    for action, moves in stop_states.TRANSITIONS.items():
        if set(moves) & stop_states.FINISHED and action not in stop_states.WINDOWS:
            assert stop_states.ROLES[action] == {"dispatcher"}
            assert set(moves.values()) == {"planned"}
    assert stop_states.may("done", "crew") and not stop_states.may("reopen", "crew")
    assert not stop_states.may("done", "planner")


def test_a_stop_moves_by_the_rules_and_a_refusal_names_its_state(store: Store) -> None:
    plan_id = plan_repo.save_plan(store, _doc({"A": ["s1", "s2"]}), plan_date="2015-10-06")
    assert apply_change(store, _change(plan_id, "s1", "arrive")) == "planned"
    assert apply_change(store, _change(plan_id, "s1", "done", note="Filled.")) == "arrived"
    with pytest.raises(StopStateConflict, match="'s1' of plan .* is done") as refused:
        apply_change(store, _change(plan_id, "s1", "cant_do", reason="no_access"))
    assert refused.value.state == "done"
    with pytest.raises(StopStateConflict) as again:
        apply_change(store, _change(plan_id, "s1", "arrive"))
    assert again.value.state == "done"
    assert apply_change(store, _change(plan_id, "s1", "reopen")) == "done"
    assert stops_store.stop_row(store, plan_id, "s1")["state"] == "planned"  # type: ignore[index]
    assert apply_change(store, _change(plan_id, "s1", "cant_do", reason="unsafe")) == "planned"
    with pytest.raises(StopStateConflict) as never:  # s2 was never acted on: it is planned
        apply_change(store, _change(plan_id, "s2", "reopen"))
    assert never.value.state == "planned"
    with pytest.raises(InputError, match="reason: pick one of"):
        apply_change(store, _change(plan_id, "s2", "cant_do", reason="tired"))
    with pytest.raises(InputError, match="action: 'fly'"):
        apply_change(store, _change(plan_id, "s2", "fly"))
    assert stops_store.stop_row(store, plan_id, "s2") is None  # refusals change nothing


def test_done_and_cant_do_racing_on_one_stop_leave_exactly_one(store: Store) -> None:
    plan_id = plan_repo.save_plan(store, _doc({"A": ["s1"]}), plan_date="2015-10-06")
    barrier = threading.Barrier(8)
    outcome: list[str] = []

    def race(k: int) -> None:
        change = (
            _change(plan_id, "s1", "done", key=f"key-{k:04d}")
            if k % 2
            else _change(plan_id, "s1", "cant_do", reason="no_access", key=f"key-{k:04d}")
        )
        barrier.wait()
        try:
            apply_change(store, change)
            outcome.append(f"won:{change.action}")
        except StopStateConflict as exc:
            outcome.append(f"refused:{exc.state}")

    threads = [threading.Thread(target=race, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(outcome)
    [winner] = [o for o in counts if o.startswith("won:")]
    assert counts[winner] == 1
    final = stops_store.stop_row(store, plan_id, "s1")
    assert final is not None and f"won:{final['state']}" == winner
    assert counts[f"refused:{final['state']}"] == 7  # every loser saw the winner's state


def test_the_plan_view_is_built_from_the_rows(store: Store) -> None:
    plan_id = plan_repo.save_plan(store, _doc({"A": ["s1", "s2", "s3"]}), plan_date="2015-10-06")
    apply_change(store, _change(plan_id, "s1", "done"))
    apply_change(store, _change(plan_id, "s2", "cant_do", reason="no_access", note="gate"))
    apply_change(store, _change(plan_id, "s3", "arrive"))
    doc = plan_repo.get_plan(store, plan_id)
    assert doc["done"] == {"A": ["s1"]} and set(doc["done_at"]) == {"s1"}
    assert doc["cant_do"]["s2"]["reason_text"] == stop_states.CANT_REASONS["no_access"]
    assert doc["cant_do"]["s2"]["note"] == "gate" and doc["cant_do"]["s2"]["by"] == "crewa"
    assert doc["stop_states"] == {"s1": "done", "s2": "cant_do", "s3": "arrived"}
    # writing the document back stores no mark: the rows stay the only record
    plan_repo.update_plan(store, plan_id, {**doc, "done": {"A": ["s1", "s3"]}, "cant_do": {}})
    assert plan_repo.get_plan(store, plan_id)["stop_states"]["s3"] == "arrived"
    with store.read() as conn:
        payload = json.loads(conn.execute(sa.select(plans.c.payload)).scalar_one())
    assert not set(stop_states.MARK_KEYS) & set(payload)
    # a plan made from this one (a hand edit, a re-plan) carries its marks as rows
    derived = plan_repo.save_plan(
        store, {**_doc({"A": ["s1", "s3"]}), **doc}, plan_date="2015-10-06"
    )
    assert plan_repo.get_plan(store, derived)["done"] == {"A": ["s1"]}
    assert [r["job_id"] for r in stops_store.stop_rows(store, derived)] == ["s1", "s2"]


OLD_STYLE = {
    "plan_date": "2015-10-06",
    "routes": [
        {"crew_id": "A", "steps": [{"type": "job", "job_id": j} for j in ("s1", "s2", "s3")]},
        {"crew_id": "B", "steps": [{"type": "job", "job_id": "s4"}]},
    ],
    "done": {"A": ["s1", "s3"]},
    "done_at": {"s1": "2015-10-06T12:00:00+00:00"},
    "cant_do": {
        "s2": {"reason": "no_access", "reason_text": "x", "note": "gate", "by": "crewa"},
        "s3": {"reason": "unsafe", "note": "marked both by the old code"},
        "s4": {"reason": "parts_missing", "at": "2015-10-06T13:00:00+00:00", "by": "crewb"},
    },
}


def test_the_migration_moves_old_documents_marks_into_rows(store: Store) -> None:
    with store.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "0008")
        assert not sa.inspect(conn).has_table("plan_stops")
        conn.execute(
            sa.text(
                "INSERT INTO plans (created_at, plan_date, kind, payload) "
                "VALUES (:at, '2015-10-06', 'plan', :payload)"
            ),
            {"at": T0.replace(tzinfo=None), "payload": json.dumps(OLD_STYLE)},
        )
    assert store.migrate() == migrations.revision_number(migrations.head_revision())
    plan_id = plan_repo.latest_plan_id(store) or 0
    rows = {r["job_id"]: r for r in stops_store.stop_rows(store, plan_id)}
    assert {j: r["state"] for j, r in rows.items()} == {
        "s1": "done",
        "s2": "cant_do",
        "s3": "done",  # done and can't-do at once (issue 21): done, its work order was closed
        "s4": "cant_do",
    }
    assert rows["s1"]["at"] == datetime(2015, 10, 6, 12, tzinfo=UTC)
    assert (rows["s4"]["crew_id"], rows["s4"]["by_user"]) == ("B", "crewb")
    doc = plan_repo.get_plan(store, plan_id)
    assert doc["done"] == {"A": ["s1", "s3"]} or doc["done"] == {"A": ["s3", "s1"]}
    assert doc["cant_do"]["s2"]["reason_text"] == stop_states.CANT_REASONS["no_access"]
    with store.read() as conn:
        payload = json.loads(conn.execute(sa.select(plans.c.payload)).scalar_one())
    assert not set(stop_states.MARK_KEYS) & set(payload)  # the rows are the only record
    with store.begin() as conn:  # and the downgrade writes them back
        command.downgrade(migrations.alembic_config(conn), "0008")
        back = json.loads(conn.execute(sa.text("SELECT payload FROM plans")).scalar_one())
    assert sorted(back["done"]["A"]) == ["s1", "s3"] and set(back["cant_do"]) == {"s2", "s4"}
    store.migrate()


def test_a_cant_do_is_undone_only_by_its_user_within_the_window(store: Store) -> None:
    plan_id = plan_repo.save_plan(store, _doc({"A": ["s1", "s2"]}), plan_date="2015-10-06")
    now = datetime.now(UTC)
    cant = _change(plan_id, "s1", "cant_do", reason="no_access")
    apply_change(store, cant, at=now)
    with pytest.raises(StopStateConflict, match="within 2 minutes of your own change"):
        apply_change(store, StopChange(plan_id, "s1", "A", "undo", "someone-else"), at=now)
    assert apply_change(store, _change(plan_id, "s1", "undo"), at=now) == "cant_do"
    assert stops_store.stop_row(store, plan_id, "s1")["state"] == "arrived"
    # too late: three minutes after the can't-do
    apply_change(store, _change(plan_id, "s2", "cant_do", reason="unsafe"), at=now)
    later = now + timedelta(minutes=3)
    with pytest.raises(StopStateConflict, match="within 2 minutes") as refused:
        apply_change(store, _change(plan_id, "s2", "undo"), at=later)
    assert refused.value.state == "cant_do"
    # a done is never undone by the crew
    apply_change(store, _change(plan_id, "s1", "done"), at=now)
    with pytest.raises(StopStateConflict, match="is done"):
        apply_change(store, _change(plan_id, "s1", "undo"), at=now)
