"""Publishing a plan in one transaction: the publication, the ETAs, the updates, the e-mails.

On SQLite and PostgreSQL (the ``store`` fixture): a failure in the middle of publishing leaves
nothing behind and publishing again then succeeds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from geo311.city.catalogue import Catalogue
from geo311.db.notify_schema import outbox
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.model import ServiceRequest
from geo311.notify import confirm_address, save_contact
from geo311.plans import publishing
from geo311.plans import repo as plan_repo
from geo311.plans.publishing import PublishResult, plan_etas, publish
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log
from geo311.requests.repo import request_to_row
from geo311.staff import store as auth_store
from geo311.workorders.grouping import rebuild_work_orders

TZ = ZoneInfo("America/New_York")
T0 = datetime(2030, 10, 5, 12, 15, tzinfo=UTC)
ORIGIN = datetime(2030, 10, 6, 11, 0, tzinfo=UTC)


def _report(store: Store, rid: str, lat: float, lon: float, code: str, email: str) -> None:
    req = ServiceRequest(
        service_request_id=rid,
        service_code=code,
        service_name=code,
        status="open",
        requested_datetime=T0,
        source="open311",
        source_id=rid,
        address="1 Boylston St",
        lat=lat,
        long=lon,
    )
    with store.begin() as conn:
        request_repo.insert_request_rows(store, conn, [request_to_row(req)])
        save_contact(conn, rid, email=email, first_name="Ada")
        confirm_address(conn, email)


def _plan(store: Store, stops: list[tuple[int, float]], **extra: str) -> int:
    """Store a plan document: one crew visiting ``(work_order_id, arrival seconds)`` stops."""

    def step(kind: str, t: float, ref: int | None = None) -> dict[str, Any]:
        return {
            "type": kind,
            "arrival_s": t,
            "ref": None if ref is None else str(ref),
            "arrival": (ORIGIN + timedelta(seconds=t)).isoformat(),
        }

    steps = [step("start", 0), *(step("job", t, wo) for wo, t in stops), step("end", 9000)]
    doc = {
        "plan_date": ORIGIN.date().isoformat(),
        "routes": [{"crew_id": "A", "steps": steps}],
        **extra,
    }
    return plan_repo.save_plan(store, doc, plan_date=ORIGIN.date().isoformat())


@pytest.fixture()
def city(store: Store, catalogue: Catalogue) -> dict[str, int]:
    """Two potholes at one spot (one work order), a street light elsewhere; all with e-mails."""
    _report(store, "a", 42.3505, -71.0810, "pothole", "ada@example.org")
    _report(store, "b", 42.35051, -71.08101, "pothole", "bob@example.org")
    _report(store, "c", 42.3450, -71.0700, "streetlight_outage", "cy@example.org")
    rebuild_work_orders(store, catalogue)
    wa, wc = (
        request_repo.get_request(store, "a").work_order_id,
        request_repo.get_request(store, "c").work_order_id,
    )
    assert (
        wa is not None
        and wc is not None
        and request_repo.get_request(store, "b").work_order_id == wa
    )
    return {"pothole": wa, "light": wc}


def _written(store: Store, plan_id: int) -> dict[str, Any]:
    """Everything publishing writes, as seen from outside."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.address).order_by(outbox.c.address)
        ).all()
    return {
        "publication": auth_store.publication(store, plan_id),
        "published_at": plan_repo.plan_published_at(store, plan_id),
        "expected": {r: request_repo.get_request(store, r).expected_datetime for r in "abc"},
        "updates": {r: [u["kind"] for u in update_log.request_updates_of(store, r)] for r in "abc"},
        "outbox": [tuple(r) for r in rows],
    }


def test_publish_writes_the_publication_etas_updates_and_emails(
    store: Store, city: dict[str, int]
) -> None:
    plan_id = _plan(store, [(city["pothole"], 600), (city["light"], 1200)])
    done = publish(store, plan_id, by="dina", tz=TZ)
    assert done == PublishResult(plan_id=plan_id, scheduled=3, cleared=0, notified=3)
    assert done.counts() == {"plan_id": plan_id, "scheduled": 3, "cleared": 0}
    seen = _written(store, plan_id)
    assert seen["publication"]["published_by"] == "dina"
    assert seen["publication"]["plan_date"] == "2030-10-06"
    assert seen["published_at"] is not None
    assert seen["expected"]["a"] == seen["expected"]["b"] == ORIGIN + timedelta(seconds=600)
    assert seen["expected"]["c"] == ORIGIN + timedelta(seconds=1200)
    assert seen["updates"] == {"a": ["scheduled"], "b": ["scheduled"], "c": ["scheduled"]}
    [update] = update_log.request_updates_of(store, "a")
    assert "between 06:40 and 07:40" in update["description"]  # 11:10 UTC = 07:10 EDT, +- 30 min
    assert seen["outbox"] == [
        ("scheduled", "ada@example.org"),
        ("scheduled", "bob@example.org"),
        ("scheduled", "cy@example.org"),
    ]


def test_a_failure_in_the_middle_leaves_nothing_and_a_retry_succeeds(
    store: Store, city: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _plan(store, [(city["pothole"], 600), (city["light"], 1200)])
    publish(store, first, by="dina", tz=TZ)
    # The newer plan drops the street light (its ETA would be cleared) and moves the pothole.
    second = _plan(store, [(city["pothole"], 1800)])
    before = _written(store, second)
    real_enqueue = publishing.enqueue
    calls: list[str] = []

    def enqueue_then_fail(conn: Any, event: Any) -> int:
        calls.append(event.service_request_id)
        if len(calls) == 2:  # after the publication, ETAs, updates and one outbox row
            raise RuntimeError("the outbox insert failed")
        return real_enqueue(conn, event)

    monkeypatch.setattr(publishing, "enqueue", enqueue_then_fail)
    with pytest.raises(RuntimeError, match="outbox insert failed"):
        publish(store, second, by="dina", tz=TZ)
    assert len(calls) == 2
    assert _written(store, second) == before  # nothing of the second publication
    assert before["publication"] is None and before["published_at"] is None
    assert before["expected"]["c"] == ORIGIN + timedelta(seconds=1200)  # not cleared

    monkeypatch.setattr(publishing, "enqueue", real_enqueue)
    done = publish(store, second, by="dina", tz=TZ)
    assert (done.scheduled, done.cleared, done.notified) == (2, 1, 2)
    after = _written(store, second)
    assert after["publication"]["published_by"] == "dina"
    assert after["expected"] == {
        "a": ORIGIN + timedelta(seconds=1800),
        "b": after["expected"]["a"],
        "c": None,
    }
    assert after["updates"]["c"] == ["scheduled", "unscheduled"]
    assert after["updates"]["a"] == ["scheduled", "scheduled"]
    assert len(after["outbox"]) == 5  # three for the first plan, two for the second


def test_the_audit_row_is_written_with_the_publication_or_not_at_all(
    store: Store, city: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = _plan(store, [(city["pothole"], 600)])
    real_enqueue = publishing.enqueue

    def fail(conn: Any, event: Any) -> int:
        raise RuntimeError("the outbox insert failed")

    monkeypatch.setattr(publishing, "enqueue", fail)
    with pytest.raises(RuntimeError, match="outbox insert failed"):
        publish(store, plan_id, by="dina", tz=TZ, audit={"plan_date": "2015-10-06"})
    assert auth_store.audit_rows(store, auth_store.AuditFilter(action="plan.publish")) == []
    assert auth_store.publication(store, plan_id) is None

    monkeypatch.setattr(publishing, "enqueue", real_enqueue)
    done = publish(store, plan_id, by="dina", tz=TZ, audit={"plan_date": "2015-10-06"})
    (row,) = auth_store.audit_rows(store, auth_store.AuditFilter(action="plan.publish"))
    assert row["actor"] == "dina" and row["object"] == f"plan:{plan_id}"
    assert row["before"] == {"published": False}
    assert row["after"] == {
        "plan_date": "2015-10-06",
        "published": True,
        "scheduled": done.scheduled,
        "cleared": done.cleared,
        "notified": done.notified,
    }


def test_publishing_twice_is_refused_and_changes_nothing(
    store: Store, city: dict[str, int]
) -> None:
    plan_id = _plan(store, [(city["pothole"], 600)])
    publish(store, plan_id, by="dina", tz=TZ)
    before = _written(store, plan_id)
    with pytest.raises(ConflictError, match=f"plan {plan_id} is already published"):
        publish(store, plan_id, by="otto", tz=TZ)
    assert _written(store, plan_id) == before
    # A publication recorded the crews' way only (no ETAs yet) also refuses a second one.
    other = _plan(store, [(city["light"], 600)])
    auth_store.insert_publication(
        store, plan_id=other, plan_date="2030-10-06", published_at=T0, published_by="dina"
    )
    with pytest.raises(ConflictError):
        publish(store, other, by="dina", tz=TZ)
    assert request_repo.get_request(store, "c").expected_datetime is None


def test_an_unknown_plan_is_not_found_and_nothing_is_written(
    store: Store, city: dict[str, int]
) -> None:
    with pytest.raises(NotFoundError, match="plan 4242"):
        publish(store, 4242, by="dina", tz=TZ)
    with pytest.raises(NotFoundError, match="plan 4242"):
        publishing.publish_plan(store, 4242, {}, plan_date="2030-10-06", published_by="dina")
    assert auth_store.publication(store, 4242) is None
    assert auth_store.latest_publications(store) == []


def test_plan_etas_reads_the_job_steps_of_the_stored_document() -> None:
    at = ORIGIN.isoformat()
    later = (ORIGIN + timedelta(hours=1)).isoformat()
    doc = {
        "routes": [
            {"steps": [{"type": "start", "ref": "1", "arrival": at}, {"type": "job", "ref": "7", "arrival": at}]},
            {"steps": [{"type": "job", "ref": "7", "arrival": later}, {"type": "job", "ref": "x", "arrival": at}]},
            {"steps": [{"type": "job", "ref": "8"}, {"type": "break", "ref": "9", "arrival": at}]},
        ]
    }  # fmt: skip
    assert plan_etas(doc) == {7: ORIGIN}  # first stop wins; no ref / arrival: skipped
    assert plan_etas({}) == {}
    naive = {
        "plan_id": 3,
        "routes": [{"steps": [{"type": "job", "ref": "7", "arrival": "2030-10-06T07:00"}]}],
    }
    with pytest.raises(InputError, match="plan 3: the arrival '2030-10-06T07:00'") as err:
        plan_etas(naive)
    assert err.value.field == "arrival"


def test_the_demo_publishes_through_the_same_path(
    store: Store, city: dict[str, int], catalogue: Catalogue, capsys: pytest.CaptureFixture[str]
) -> None:
    from geo311.cli.demo import DemoContext, DemoResults
    from geo311.cli.users import demo_step
    from geo311.settings import REPO_DATA_DIR, Settings

    with store.begin() as conn:  # the demo's reports come from an export without contacts
        conn.execute(sa.text("DELETE FROM contacts"))
    plan_id = _plan(store, [(city["pothole"], 600), (city["light"], 1200)])
    ctx = DemoContext(
        settings=Settings(database_url="sqlite:///demo.db", data_dir=REPO_DATA_DIR),
        store=store,
        catalogue=catalogue,
        out_dir=REPO_DATA_DIR,
        at=ORIGIN.astimezone(TZ),
        results=DemoResults(plan_id=plan_id),
    )
    demo_step(ctx)
    out = capsys.readouterr().out
    assert f"plan {plan_id} published" in out
    assert "3 reports got their ETA" in out and "0 notifications queued" in out
    assert "no e-mail queued" in out and "no reporters' contacts" in out
    assert auth_store.publication(store, plan_id)["published_by"] == "demo"
    assert request_repo.get_request(store, "c").expected_datetime == ORIGIN + timedelta(
        seconds=1200
    )


def test_two_dispatchers_publishing_at_once_publish_once(
    store: Store, city: dict[str, int]
) -> None:
    import threading

    plan_id = _plan(store, [(city["pothole"], 600), (city["light"], 1200)])
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def dispatcher(name: str) -> None:
        start.wait()
        try:
            publish(store, plan_id, by=name, tz=TZ)
            outcomes.append("published")
        except ConflictError:
            outcomes.append("refused")

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in ("dina", "otto")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["published", "refused"]
    seen = _written(store, plan_id)
    assert seen["updates"] == {"a": ["scheduled"], "b": ["scheduled"], "c": ["scheduled"]}
    assert len(seen["outbox"]) == 3


def test_a_district_plan_keeps_the_etas_of_the_other_districts_of_its_day(
    store: Store, city: dict[str, int]
) -> None:
    day = "2030-10-06/0123456789ab"
    north = _plan(store, [(city["pothole"], 600)], district="North", day=day)
    south = _plan(store, [(city["light"], 1200)], district="South", day=day)
    assert publish(store, north, by="dina", tz=TZ).cleared == 0
    done = publish(store, south, by="dina", tz=TZ)
    assert (done.scheduled, done.cleared) == (1, 0)  # the North's ETAs stay
    seen = _written(store, south)
    assert seen["expected"] == {
        "a": ORIGIN + timedelta(seconds=600),
        "b": ORIGIN + timedelta(seconds=600),
        "c": ORIGIN + timedelta(seconds=1200),
    }
    # Another North plan of that day moves the North's ETAs and keeps the South's.
    again = _plan(store, [(city["pothole"], 900)], district="North", day=day)
    done = publish(store, again, by="dina", tz=TZ)
    assert (done.scheduled, done.cleared) == (2, 0)
    assert request_repo.get_request(store, "a").expected_datetime == ORIGIN + timedelta(seconds=900)
    assert request_repo.get_request(store, "c").expected_datetime == ORIGIN + timedelta(
        seconds=1200
    )
    # A city-wide plan (or a re-plan: no district) replaces every ETA it does not repeat.
    citywide = _plan(store, [(city["pothole"], 1500)])
    done = publish(store, citywide, by="dina", tz=TZ)
    assert (done.scheduled, done.cleared) == (2, 1)
    assert request_repo.get_request(store, "c").expected_datetime is None
