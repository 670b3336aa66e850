"""An idempotency key claimed by a server that died mid-action is taken over by the retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from geo311 import auth_store
from geo311.store import Store


def _claim(key: str, at: datetime, actor: str = "crewa") -> dict[str, object]:
    return {
        "idempotency_key": key,
        "plan_id": 1,
        "crew_id": "A",
        "job_id": "j1",
        "action": "done",
        "at": at,
        "actor": actor,
        "result": None,
    }


def test_a_stale_claim_is_taken_over_once_and_a_fresh_one_is_not(store: Store) -> None:
    now = datetime.now(UTC)
    assert (
        auth_store.claim_action(store, _claim("killed-mid-action", now - timedelta(minutes=5)))
        is None
    )
    # the server was SIGKILLed before the action committed: no result, ever
    assert auth_store.claim_action(store, _claim("killed-mid-action", now, "retry")) is None
    again = auth_store.claim_action(store, _claim("killed-mid-action", now, "third"))
    assert again is not None and again["actor"] == "retry"  # the retry holds it now
    assert auth_store.claim_action(store, _claim("in-progress", now)) is None
    held = auth_store.claim_action(store, _claim("in-progress", now + timedelta(seconds=5)))
    assert held is not None and held["result"] is None  # still being applied: refused (409)
    auth_store.finish_action(store, "in-progress", result='{"ok": true}')
    done = auth_store.claim_action(store, _claim("in-progress", now + timedelta(minutes=5)))
    assert done is not None and done["result"] == '{"ok": true}'  # a finished key never moves
