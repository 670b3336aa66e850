"""The typed plan document reads and writes a stored plan key for key."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from geo311.errors import InputError, NotFoundError
from geo311.plans.document import PlanDocument, clock_iso, local_hm, unassigned_dict
from routing.engine.solve import Unassigned

TZ = ZoneInfo("America/New_York")
T0 = datetime(2015, 10, 6, 0, 0, tzinfo=TZ)

STORED = {
    "origin": T0.isoformat(),
    "summary": {"cost": 10.0, "routes": 1, "jobs_served": 1, "is_feasible": True},
    "routes": [
        {
            "crew_id": "A",
            "steps": [
                {"type": "start", "arrival_s": 0.0, "arrival": T0.isoformat(), "lat": 42.3},
                {
                    "type": "job",
                    "arrival_s": 60.0,
                    "job_id": "wo-7",
                    "ref": "7",
                    "arrival": (T0 + timedelta(minutes=1)).isoformat(),
                    "work_order_id": 7,
                },
                {"type": "break", "break_id": "lunch", "location_index": None},
            ],
            "legs": [{"from_step": 0, "to_step": 1, "edges": [{"name": ["A St", "B St"]}]}],
            "future_key": {"kept": True},
        }
    ],
    "unassigned": [{"job_id": "wo-9", "code": "no_skill", "reason": "x", "sla_due": None}],
    "jobs": {"wo-7": {"work_order_id": 7, "opened": "2015-10-01T11:00:00+00:00"}},
    "plan_id": 3,
    "kind": "plan",
    "parent_plan_id": None,
}


def test_a_stored_document_round_trips_key_for_key() -> None:
    doc = PlanDocument.from_dict(STORED)
    assert doc.to_dict() == json.loads(json.dumps(STORED))
    assert json.loads(doc.to_json()) == json.loads(json.dumps(STORED))
    assert PlanDocument.from_json(doc.to_json()) == doc
    # typed access
    route = doc.route("A")
    assert route.has_legs and [s.job_id for s in route.job_steps] == ["wo-7"]
    assert route.job_steps[0].arrival == T0 + timedelta(minutes=1)
    assert doc.jobs["wo-7"].opened == datetime(2015, 10, 1, 11, tzinfo=UTC)
    assert (
        "legs" not in PlanDocument.from_dict({"routes": [{"crew_id": "B"}]}).to_dict()["routes"][0]
    )


def test_vroom_input_keys_are_read_but_never_written() -> None:
    doc = PlanDocument.from_dict(
        {"routes": [{"vehicle": 3, "steps": [{"type": "job", "job": 5, "location": [-71, 42]}]}]}
    )
    step = doc.routes[0].steps[0]
    assert (doc.routes[0].vehicle, step.job, step.location) == (3, 5, [-71.0, 42.0])
    assert doc.to_dict() == {"routes": [{"steps": [{"type": "job"}]}]}


def test_route_done_and_payload() -> None:
    doc = PlanDocument.from_dict(STORED)
    with pytest.raises(NotFoundError, match=r"no route in plan 3; crews: A"):
        doc.route("Z")
    when = datetime(2015, 10, 6, 15, tzinfo=UTC).isoformat()
    marked = {"done": {"A": ["wo-7"]}, "done_at": {"wo-7": when}, "stop_states": {"wo-7": "done"}}
    doc = PlanDocument.from_dict({**STORED, **marked})  # as the store builds it from its rows
    assert doc.done_for("A") == {"wo-7"} and doc.state_of("wo-7") == "done"
    assert doc.state_of("wo-8") == "planned"
    payload = doc.payload()
    assert payload["done"] == {"A": ["wo-7"]} and payload["done_at"] == {"wo-7": when}
    assert not {"plan_id", "kind", "parent_plan_id"} & set(payload)
    with pytest.raises(InputError, match="pass a PlanDocument"):
        PlanDocument.from_dict([])  # type: ignore[arg-type]


def test_clock_helpers() -> None:
    assert clock_iso(T0, None) is None
    assert clock_iso(T0, 3600.0) == "2015-10-06T01:00:00-04:00"
    assert local_hm(datetime(2015, 10, 6, 11, 5, tzinfo=UTC), TZ) == "07:05"
    assert local_hm(None, TZ) == "-"
    u = Unassigned("wo-1", "no_skill", "no crew has it", sla_due_s=7200.0)
    d = unassigned_dict(u, T0)
    assert d["sla_due"] == "2015-10-06T02:00:00-04:00" and d["job_id"] == "wo-1"
    with pytest.raises(InputError, match="routing.engine.solve.Unassigned"):
        unassigned_dict({"job_id": "x"}, T0)
