"""An e-mail address gets one confirmation (no report text) until it confirms; per address.

On SQLite and the real local PostgreSQL (the ``store`` fixture); the race is real threads.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from geo311.db.notify_schema import email_addresses, outbox
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.notify import Event, address_state, confirm_address, enqueue, save_contact
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row

from .test_notify import Mailbox, make_sender, smtp  # noqa: F401 - the SMTP server fixture

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def _store_reports(store: Store, ids: list[str], email: str) -> None:
    with store.begin() as conn:
        for rid in ids:
            req = ServiceRequest(
                service_request_id=rid, service_code="pothole", service_name="Pothole",
                status="open", requested_datetime=T0, source="open311", source_id=rid,
                address="SPAMADDRESS", description="SPAMTEXT",
            )  # fmt: skip
            request_repo.insert_request_rows(store, conn, [request_to_row(req)])
            save_contact(conn, rid, email=email, first_name="SPAMNAME")


def _emails(store: Store) -> list[tuple[str, str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.service_request_id, outbox.c.payload)
            .where(outbox.c.channel == "email")
            .order_by(outbox.c.id)
        ).all()
    return [(r.event_type, r.service_request_id, r.payload) for r in rows]


def test_reports_racing_with_a_new_address_queue_one_confirmation(store: Store) -> None:
    ids = [f"C{i}" for i in range(6)]
    _store_reports(store, ids, "Stranger@Example.net")
    start = threading.Barrier(len(ids))

    def acknowledge(rid: str) -> None:
        start.wait()
        with store.begin() as conn:
            enqueue(conn, Event(type="received", service_request_id=rid, occurred_at=T0))

    threads = [threading.Thread(target=acknowledge, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    [(kind, _rid, payload)] = _emails(store)
    assert kind == "confirm"
    assert not [w for w in ("SPAMTEXT", "SPAMNAME", "SPAMADDRESS") if w in payload]
    assert set(json.loads(payload)) == {
        "event_id", "type", "service_request_id", "service_code", "service_name",
        "occurred_at", "status_path", "language",  # the wording's language, no report text
    }  # fmt: skip
    with store.engine.connect() as conn:
        assert address_state(conn, "stranger@example.net") == "unconfirmed"


def test_an_address_is_asked_again_after_30_days_and_hears_once_it_confirmed(
    store: Store,
) -> None:
    _store_reports(store, ["A1", "A2", "A3"], "ada@example.org")
    with store.begin() as conn:
        enqueue(conn, Event(type="received", service_request_id="A1", occurred_at=T0))
        enqueue(conn, Event(type="received", service_request_id="A2", occurred_at=T0))
        conn.execute(
            email_addresses.update().values(
                confirmation_sent_at=datetime.now(UTC) - timedelta(days=31)
            )
        )
        enqueue(conn, Event(type="closed", service_request_id="A1", occurred_at=T0))
    assert [kind for kind, _r, _p in _emails(store)] == ["confirm", "confirm"]
    with store.begin() as conn:
        confirm_address(conn, "ADA@example.org")
        enqueue(conn, Event(type="received", service_request_id="A3", occurred_at=T0))
    kind, rid, payload = _emails(store)[-1]
    assert (kind, rid, json.loads(payload)["first_name"]) == ("received", "A3", "SPAMNAME")


def test_a_message_queued_before_confirmations_existed_is_not_sent_unconfirmed(
    store: Store,
    smtp: tuple[Mailbox, int],  # noqa: F811 - the fixture imported above
) -> None:
    box, port = smtp
    _store_reports(store, ["B1"], "bob@example.org")
    with store.begin() as conn:  # queued as before migration 0013: straight to the address
        confirm_address(conn, "bob@example.org")
        enqueue(conn, Event(type="received", service_request_id="B1", occurred_at=T0))
        conn.execute(email_addresses.delete())
    with make_sender(store, port) as sender:
        done = sender.drain()
    assert (done.sent, done.skipped) == (0, 1) and box.messages == []
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(outbox.c.status, outbox.c.last_error)).one()
    assert tuple(row) == ("skipped", "address not confirmed")
