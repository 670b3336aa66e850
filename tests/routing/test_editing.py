"""A dispatcher's hand edit of a stored plan, as stop sequences (pure: no store, no graph)."""

from __future__ import annotations

import pytest

from geo311.errors import ConflictError, InputError
from geo311.plans.document import PlanDocument
from routing.dispatch.editing import HandEdit, apply_edit, dispatcher_locks


def _doc(**extra: object) -> PlanDocument:
    def route(crew: str, jobs: list[str]) -> dict[str, object]:
        steps = [{"type": "start"}, *({"type": "job", "job_id": j} for j in jobs), {"type": "end"}]
        return {"crew_id": crew, "steps": steps}

    jobs = {f"j{k}": {"work_order_id": k, "location_index": k} for k in range(1, 7)}
    jobs["j9"] = {"work_order_id": 9, "location_index": None}  # off the street graph
    return PlanDocument.from_dict(
        {
            "plan_id": 5,
            "routes": [route("a", ["j1", "j2", "j3"]), route("b", ["j4"])],
            "unassigned": [{"job_id": "j5", "code": "not_fitted"}, {"job_id": "j9", "code": "x"}],
            "jobs": jobs,
            **extra,
        }
    )


def test_move_to_a_crew_and_position_and_an_unassigned_job_onto_a_route() -> None:
    moved = apply_edit(_doc(), HandEdit("move", "j3", "b", 1), user="dina")
    assert moved.sequences == {"a": ["j1", "j2"], "b": ["j3", "j4"]}
    last = apply_edit(_doc(), HandEdit("move", "j1", "a", 99), user="dina")
    assert last.sequences["a"] == ["j2", "j3", "j1"]  # past the end: the last stop
    placed = apply_edit(_doc(), HandEdit("move", "j5", "b", 2), user="dina")
    assert placed.sequences["b"] == ["j4", "j5"] and placed.placed == {"j5"}
    with pytest.raises(InputError, match="job_id: 'j9' is not a stop or a routable"):
        apply_edit(_doc(), HandEdit("move", "j9", "b", 1), user="dina")
    with pytest.raises(InputError, match="crew_id: 'c' has no route in this plan; crews: a, b"):
        apply_edit(_doc(), HandEdit("move", "j1", "c", 1), user="dina")
    with pytest.raises(InputError, match="action: 'swap'"):
        apply_edit(_doc(), HandEdit("swap", "j1"), user="dina")


def test_drop_names_the_dispatcher_and_done_stops_stay() -> None:
    dropped = apply_edit(_doc(), HandEdit("drop", "j2"), user="dina")
    assert dropped.sequences["a"] == ["j1", "j3"]
    assert dropped.dropped == {"j2": "dropped by the dispatcher (dina) from crew a"}
    with pytest.raises(InputError, match="'j5' is not on a route"):
        apply_edit(_doc(), HandEdit("drop", "j5"), user="dina")
    with pytest.raises(ConflictError, match="'j1' is done already"):
        apply_edit(_doc(done={"a": ["j1"]}), HandEdit("drop", "j1"), user="dina")


def test_a_lock_keeps_the_stop_and_those_before_it() -> None:
    locked = apply_edit(_doc(), HandEdit("lock", "j2"), user="dina")
    assert locked.locks == {"a": ["j1", "j2"]} and locked.sequences["a"] == ["j1", "j2", "j3"]
    doc = _doc(dispatcher_locks=locked.locks)
    assert dispatcher_locks(doc) == {"a": ["j1", "j2"]}
    with pytest.raises(ConflictError, match="'j1' is locked on crew a .stop 1.; unlock it first"):
        apply_edit(doc, HandEdit("move", "j1", "b", 1), user="dina")
    with pytest.raises(ConflictError, match="stops 1-2 of crew a are locked; move the stop to"):
        apply_edit(doc, HandEdit("move", "j4", "a", 2), user="dina")
    behind = apply_edit(doc, HandEdit("move", "j4", "a", 3), user="dina")
    assert behind.sequences["a"] == ["j1", "j2", "j4", "j3"]
    unlocked = apply_edit(doc, HandEdit("unlock", "j2"), user="dina")
    assert unlocked.locks == {"a": ["j1"]}
    assert apply_edit(doc, HandEdit("unlock", "j1"), user="dina").locks == {}
    # locks that are no longer the start of the crew's route are ignored
    assert dispatcher_locks(_doc(dispatcher_locks={"a": ["j2"], "b": ["j4"]})) == {"b": ["j4"]}


def test_a_plan_is_rebuilt_with_its_own_yards_and_the_days_shifts() -> None:
    from dataclasses import replace

    from routing.dispatch.replanning import _crews_of_plan
    from routing.engine.crews import load_crews

    base = load_crews(None)
    east = replace(base.yards[0], id="east", district="East")
    config = replace(base, yards=(east, *base.yards))
    doc = PlanDocument.from_dict(
        {
            "crews": [
                {
                    "id": "pothole-2",
                    "shift_start": "2015-10-06T08:00:00-04:00",
                    "shift_end": "2015-10-06T10:00:00-04:00",
                    "breaks": [],
                }
            ],
            "depots": [{"id": base.yards[0].id, "location_index": 0}],
        }
    )
    rebuilt = _crews_of_plan(config, doc)
    assert [y.id for y in rebuilt.yards] == [base.yards[0].id]  # not the other district's
    (crew,) = rebuilt.crews
    assert crew.id == "pothole-2" and crew.breaks == ()
    assert (crew.shift_start.isoformat(), crew.shift_end.isoformat()) == ("08:00:00", "10:00:00")
