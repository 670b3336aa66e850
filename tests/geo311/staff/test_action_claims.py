"""A crew action's idempotency key is claimed in the action's own transaction.

So a server killed (or failing) mid-action leaves no claim behind, and the same key sent
again while the action is applied waits for it and gets its answer (found by
``bench/ops_soak.py``: a key claimed before a SIGKILL was refused as "in use" forever).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest

from geo311.db.store import Store
from geo311.staff import store as auth_store


def _claim(key: str, actor: str = "crewa") -> dict[str, object]:
    return {
        "idempotency_key": key,
        "plan_id": 1,
        "crew_id": "A",
        "job_id": "j1",
        "action": "done",
        "at": datetime.now(UTC),
        "actor": actor,
        "result": None,
    }


def test_a_claim_rolled_back_with_its_action_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.begin():
        assert auth_store.claim_action(store, _claim("killed-mid-action")) is None
        raise RuntimeError("the action failed (or the server died) before its commit")
    with store.begin():
        assert auth_store.claim_action(store, _claim("killed-mid-action", "retry")) is None
        auth_store.finish_action(store, "killed-mid-action", result='{"ok": true}')
    with store.begin():
        again = auth_store.claim_action(store, _claim("killed-mid-action", "third"))
    assert again is not None and again["actor"] == "retry" and again["result"] == '{"ok": true}'


def test_the_same_key_sent_meanwhile_waits_for_the_answer(store: Store) -> None:
    claimed, answers = threading.Event(), []

    def first() -> None:
        with store.begin():
            auth_store.claim_action(store, _claim("twice"))
            claimed.set()
            time.sleep(0.5)  # the action being applied
            auth_store.finish_action(store, "twice", result='{"ok": true}')

    thread = threading.Thread(target=first)
    thread.start()
    assert claimed.wait(10)
    with store.begin():
        answers.append(auth_store.claim_action(store, _claim("twice", "resend")))
    thread.join(10)
    assert answers[0] is not None and answers[0]["result"] == '{"ok": true}'
