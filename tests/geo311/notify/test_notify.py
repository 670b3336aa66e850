"""Citizen notifications: events queued with the state change, delivered over a real SMTP
server (aiosmtpd) and a real HTTP webhook receiver, on SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from geo311.db.notify_schema import contacts, outbox
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.model import ServiceRequest
from geo311.notify import (
    Event,
    WorkOrderEvent,
    add_webhook,
    confirm_address,
    enqueue,
    enqueue_work_order,
    list_outbox,
    retry,
    save_contact,
    set_webhook_active,
    unsubscribe,
)
from geo311.notify.channels import SmtpChannel, WebhookChannel
from geo311.notify.sender import Sender, backoff
from geo311.notify.templates import Renderer, message_id
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row
from geo311.settings import REPO_DATA_DIR

SECRET = "test-secret-0123456789abcdef"
HOOK_SECRET = "hook-secret-0123456789"
PUBLIC = "https://311.example.gov"
T0 = datetime(2015, 10, 5, 12, 15, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mailbox:
    """aiosmtpd handler: keeps every accepted message."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.messages if address in rcpt]


@pytest.fixture()
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


class HookReceiver:
    """A webhook endpoint that answers ``fail_status`` ``fail_first`` times, then 200.

    Like a receiver honouring ``Idempotency-Key``, it accepts each key once (a repeat gets 200
    and is counted in ``repeats``).
    """

    def __init__(self, *, fail_first: int = 0, fail_status: int = 500) -> None:
        self.fail_first, self.fail_status = fail_first, fail_status
        self.attempts: list[tuple[dict[str, str], bytes]] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        self.repeats = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.attempts.append((dict(self.headers), body))
                    failing = len(receiver.attempts) <= receiver.fail_first
                    key = self.headers["Idempotency-Key"]
                    if not failing:
                        if key in receiver.accepted:
                            receiver.repeats += 1
                        else:
                            receiver.accepted[key] = json.loads(body)
                self.send_response(receiver.fail_status if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/geo311"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def hooks() -> Iterator[list[HookReceiver]]:
    made: list[HookReceiver] = []
    yield made
    for r in made:
        r.close()


def renderer(templates: Path | None = None) -> Renderer:
    return Renderer(
        templates or REPO_DATA_DIR / "templates" / "notify",
        public_url=PUBLIC,
        secret=SECRET,
        mail_from="Boston 311 <noreply@311.example.gov>",
        timezone="America/New_York",
    )


def make_sender(store: Store, smtp_port: int, **options: Any) -> Sender:
    channels = {
        "email": SmtpChannel(renderer(), host="127.0.0.1", port=smtp_port, timeout_s=5),
        "webhook": WebhookChannel(timeout_s=5),
    }
    return Sender(store.engine, channels, **({"backoff_s": 0.0} | options))


def report(
    store: Store,
    rid: str,
    *,
    email_address: str = "",
    work_order_id: int | None = None,
    service_name: str = "Request Pothole Repair",
) -> None:
    """Store a request with its contact and queue its acknowledgement in ONE transaction."""
    req = ServiceRequest(
        service_request_id=rid,
        service_code="pothole",
        service_name=service_name,
        status="open",
        requested_datetime=T0,
        source="open311",
        source_id=rid,
        address="1 Boylston St",
        lat=42.352,
        long=-71.07,
        work_order_id=work_order_id,
    )
    with store.begin() as conn:
        request_repo.insert_request_rows(store, conn, [request_to_row(req)])
        save_contact(conn, rid, email=email_address, first_name="Ada", phone="617-555-0100")
        if email_address:
            confirm_address(conn, email_address)  # the owner confirmed it earlier
        enqueue(conn, Event(type="received", service_request_id=rid, occurred_at=T0))


def link(msg: EmailMessage, what: str) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    found = re.search(rf"{re.escape(PUBLIC)}{what}\S+", part.get_content())
    assert found, f"no {what} link in {part.get_content()!r}"
    return found.group(0)


def text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def test_schema_step_5_creates_the_notification_tables(store: Store) -> None:
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"outbox", "contacts", "webhooks"} <= tables
    assert store.schema_version() >= 5


def test_each_event_sends_the_right_message_to_the_right_person(
    store: Store, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    report(store, "101", email_address="ada@example.org", work_order_id=7)
    report(store, "102", email_address="bob@example.org", work_order_id=7)
    report(store, "103", work_order_id=7)  # no contact: nobody to tell
    eta = datetime(2015, 10, 6, 13, 0, tzinfo=UTC)  # 09:00 in Boston
    with store.begin() as conn:
        enqueue(conn, Event(type="merged", service_request_id="102", occurred_at=T0))
        enqueue_work_order(conn, WorkOrderEvent(
            type="scheduled", work_order_id=7, occurred_at=T0, plan_id=3,
            eta_start=eta, eta_end=eta + timedelta(hours=2),
        ))  # fmt: skip
        enqueue_work_order(conn, WorkOrderEvent(
            type="closed", work_order_id=7, occurred_at=T0 + timedelta(days=1), status="fixed",
            note="Filled the pothole with hot asphalt.",
        ))  # fmt: skip
        enqueue(
            conn,
            Event(type="reopened", service_request_id="101", occurred_at=T0 + timedelta(days=2)),
        )
    with make_sender(store, port) as sender:
        done = sender.drain()
    assert (done.sent, done.retried, done.dead) == (8, 0, 0)

    ada, bob = box.to("ada@example.org"), box.to("bob@example.org")
    assert [m["Subject"].split(":")[0] for m in ada] == [
        "We received your report 101",
        "A crew is scheduled",
        "Fixed",
        "Reopened",
    ]
    assert [m["Subject"].split(":")[0] for m in bob] == [
        "We received your report 102",
        "Already reported",
        "A crew is scheduled",
        "Fixed",
    ]
    assert len(box.messages) == 8  # request 103 had no contact
    assert "Hello Ada" in text_of(ada[0]) and "request number is 101" in text_of(ada[0])
    assert link(ada[0], "/requests/") == f"{PUBLIC}/requests/101"
    assert "2 neighbours reported it too" in text_of(bob[1])
    assert "Tuesday, October 6 between 9:00\u202fAM and 11:00\u202fAM" in text_of(ada[1])  # en_US
    assert "The crew's note: Filled the pothole with hot asphalt." in text_of(ada[2])
    assert "Filled the pothole with hot asphalt." in html_of(ada[2])
    assert f'href="{PUBLIC}/requests/101"' in html_of(ada[2])
    for msg in ada + bob:
        assert msg["From"] == "Boston 311 <noreply@311.example.gov>"
        assert msg["List-Unsubscribe"].startswith(f"<{PUBLIC}/notify/unsubscribe/")
        assert link(msg, "/notify/unsubscribe/") in msg["List-Unsubscribe"]
        assert "617-555-0100" not in msg.as_string()  # the phone number stays in the database
    with store.engine.connect() as conn:
        rows = list_outbox(conn)
        keys = dict(conn.execute(sa.select(outbox.c.id, outbox.c.idempotency_key)).all())
    assert {r.status for r in rows} == {"sent"} and all(r.sent_at for r in rows)
    ids = {m["Message-ID"] for m in ada + bob}
    assert ids == {message_id(k, domain="311.example.gov") for k in keys.values()}


def test_a_rolled_back_state_change_queues_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.begin() as conn:
        request_repo.insert_request_rows(store,
            conn,
            [
                request_to_row(
                    ServiceRequest(
                        service_request_id="201", service_code="pothole", status="open",
                        requested_datetime=T0, source="open311", source_id="201",
                    )
                )
            ],
        )  # fmt: skip
        save_contact(conn, "201", email="ada@example.org")
        assert enqueue(conn, Event(type="received", service_request_id="201", occurred_at=T0))
        raise RuntimeError("the state change failed after queuing")
    with store.engine.connect() as conn:
        assert list_outbox(conn) == []
        assert conn.execute(sa.select(sa.func.count()).select_from(contacts)).scalar() == 0


def test_the_same_event_raised_twice_is_sent_once(store: Store, smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    report(store, "301", email_address="ada@example.org")
    with store.begin() as conn:  # e.g. a retried request handler
        enqueue(conn, Event(type="received", service_request_id="301", occurred_at=T0))
    with make_sender(store, port) as sender:
        assert sender.drain().sent == 1
    assert len(box.to("ada@example.org")) == 1


def test_unsubscribed_reporters_get_nothing(store: Store, smtp: tuple[Mailbox, int]) -> None:
    box, port = smtp
    report(store, "401", email_address="Ada@Example.org")
    report(store, "402", email_address="ada@example.org")
    with make_sender(store, port) as sender:
        assert sender.drain().sent == 2
        first = box.to("Ada@Example.org")[0]
        token = link(first, "/notify/unsubscribe/").rsplit("/", 1)[1]
        with store.begin() as conn:  # queued before the click
            enqueue(conn, Event(type="reopened", service_request_id="401", occurred_at=T0))
        with store.begin() as conn:
            with pytest.raises(InputError, match="token"):
                unsubscribe(conn, token[:-2] + "xx", secret=SECRET)
            assert unsubscribe(conn, token, secret=SECRET) == 2  # both of Ada's requests
        with store.begin() as conn:
            for rid in ("401", "402"):
                enqueue(conn, Event(type="closed", service_request_id=rid, occurred_at=T0))
        done = sender.drain()
    assert (done.sent, done.skipped) == (0, 0)
    assert len(box.messages) == 2  # only the two acknowledgements before the click
    with store.engine.connect() as conn:
        assert [r.last_error for r in list_outbox(conn, status="skipped")] == ["unsubscribed"]


def test_a_contact_unsubscribed_after_queuing_is_skipped_at_send_time(
    store: Store, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    report(store, "451", email_address="ada@example.org")
    with store.begin() as conn:  # flag set by another path, the queued row left pending
        conn.execute(contacts.update().values(unsubscribed=True))
    with make_sender(store, port) as sender:
        assert sender.drain().skipped == 1
    assert box.messages == []


def test_a_failing_webhook_gets_the_event_once_with_one_idempotency_key(
    store: Store, hooks: list[HookReceiver], smtp: tuple[Mailbox, int]
) -> None:
    receiver = HookReceiver(fail_first=3)
    hooks.append(receiver)
    with store.begin() as conn:
        add_webhook(conn, receiver.url, secret=HOOK_SECRET)
    report(store, "501", email_address="ada@example.org")
    with make_sender(store, smtp[1], max_attempts=5) as sender:
        done = sender.drain()  # no backoff here: the retries follow at once
    assert (done.sent, done.retried, done.dead) == (2, 3, 0)  # the e-mail and the webhook
    assert len(smtp[0].to("ada@example.org")) == 1
    assert len(receiver.attempts) == 4 and receiver.repeats == 0
    assert [h["X-Geo311-Delivery-Attempt"] for h, _ in receiver.attempts] == ["1", "2", "3", "4"]
    keys = {headers["Idempotency-Key"] for headers, _ in receiver.attempts}
    assert keys == {"received:501|webhook:1"}
    assert list(receiver.accepted) == ["received:501|webhook:1"]
    event = receiver.accepted["received:501|webhook:1"]
    assert event["type"] == "received" and event["service_request_id"] == "501"
    assert event["status_path"] == "/requests/501"
    headers, body = receiver.attempts[-1]
    expected = "sha256=" + hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Geo311-Signature"] == expected
    assert b"ada@example.org" not in body and b"Ada" not in body  # no personal details
    with store.engine.connect() as conn:
        row = [r for r in list_outbox(conn) if r.channel == "webhook"][0]
    assert (row.status, row.attempts, row.last_error) == ("sent", 4, "")


def test_dead_letter_after_n_attempts_and_retry(store: Store, hooks: list[HookReceiver]) -> None:
    receiver = HookReceiver(fail_first=3)
    hooks.append(receiver)
    with store.begin() as conn:
        add_webhook(conn, receiver.url, secret=HOOK_SECRET, events=("received",))
    report(store, "601")
    with make_sender(store, free_port(), max_attempts=3) as sender:
        done = sender.drain()
        assert (done.retried, done.dead, done.sent) == (2, 1, 0)
        with store.engine.connect() as conn:
            [dead] = list_outbox(conn, status="dead")
        assert dead.attempts == 3 and "answered 500" in dead.last_error
        with store.begin() as conn:
            with pytest.raises(NotFoundError, match="geo311 notify dead"):
                retry(conn, dead.id + 1000)
            with pytest.raises(ConflictError, match="not dead"):
                _retry_sent(conn)
            retry(conn, dead.id)
        assert sender.drain().sent == 1
    assert len(receiver.attempts) == 4 and len(receiver.accepted) == 1


def _retry_sent(conn: sa.Connection) -> None:
    conn.execute(
        outbox.insert().values(
            event_id="x", event_type="received", channel="webhook", address="", webhook_id=1,
            idempotency_key="x|webhook:1", payload="{}", status="sent", attempts=1,
            next_attempt_at=T0, created_at=T0, last_error="",
        )
    )  # fmt: skip
    sent_id = conn.execute(sa.select(outbox.c.id).where(outbox.c.event_id == "x")).scalar_one()
    retry(conn, sent_id)


def test_a_refusing_webhook_is_dead_at_once_and_switched_off_ones_are_skipped(
    store: Store, hooks: list[HookReceiver]
) -> None:
    refusing = HookReceiver(fail_first=10, fail_status=410)
    quiet = HookReceiver()
    hooks.extend([refusing, quiet])
    with store.begin() as conn:
        add_webhook(conn, refusing.url, secret=HOOK_SECRET)
        quiet_id = add_webhook(conn, quiet.url, secret=HOOK_SECRET, events=("closed",))
        with pytest.raises(InputError, match="events"):
            add_webhook(conn, quiet.url, secret=HOOK_SECRET, events=("fixed",))
    report(store, "701")  # 'received': only the refusing hook subscribes
    with store.begin() as conn:
        enqueue(conn, Event(type="closed", service_request_id="701", occurred_at=T0))
        set_webhook_active(conn, quiet_id, active=False)
    with make_sender(store, free_port()) as sender:
        done = sender.drain()
    assert (done.dead, done.skipped, done.sent) == (2, 1, 0)
    assert len(refusing.attempts) == 2 and quiet.attempts == []
    with store.engine.connect() as conn:
        statuses = sorted((r.status, r.address == quiet.url) for r in list_outbox(conn))
    assert statuses == [("dead", False), ("dead", False), ("skipped", True)]


def test_an_smtp_relay_that_is_down_is_retried_with_backoff(
    store: Store, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    report(store, "801", email_address="ada@example.org")
    with make_sender(store, free_port(), backoff_s=3600) as sender:  # nothing listens there
        assert sender.run_once().retried == 1
        assert sender.run_once().total == 0  # not due again for an hour
    with store.engine.connect() as conn:
        [row] = list_outbox(conn)
        due = conn.execute(sa.select(outbox.c.next_attempt_at)).scalar_one()
    assert row.status == "pending" and "SMTP" in row.last_error
    assert timedelta(minutes=59) < due - datetime.now(UTC) <= timedelta(hours=1)
    with store.begin() as conn:
        conn.execute(outbox.update().values(next_attempt_at=T0))
    with make_sender(store, port) as sender:
        assert sender.drain().sent == 1
    assert len(box.to("ada@example.org")) == 1


def test_backoff_doubles_up_to_six_hours() -> None:
    assert [backoff(n, base_s=30).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(40, base_s=30) == timedelta(hours=6)


def test_a_per_service_template_replaces_the_general_one(tmp_path: Path) -> None:
    templates = tmp_path / "notify"
    templates.mkdir()
    for f in (REPO_DATA_DIR / "templates" / "notify").iterdir():
        (templates / f.name).write_text(f.read_text())
    (templates / "closed.pothole.txt").write_text(
        "Subject: Pothole {{ service_request_id }} filled\nDone.\n"
    )
    (templates / "closed.pothole.html").write_text("<p>Done {{ note }}</p>")
    payload = {
        "event_id": "closed:9", "type": "closed", "service_request_id": "9",
        "service_code": "pothole", "service_name": "Pothole", "address": "", "status": "fixed",
        "note": "<b>ok</b>", "neighbours": 0, "occurred_at": T0.isoformat(),
        "status_path": "/requests/9", "eta_start": None, "eta_end": None,
    }  # fmt: skip

    def render(p: dict[str, Any]) -> EmailMessage:
        raw = renderer(templates).email(p, to="a@example.org", idempotency_key="k").as_bytes()
        return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]

    msg = render(payload)
    assert msg["Subject"] == "Pothole 9 filled"
    assert html_of(msg).strip() == "<p>Done &lt;b&gt;ok&lt;/b&gt;</p>"  # HTML is escaped
    assert render(payload | {"service_code": "streetlight"})["Subject"].startswith("Fixed: Pothole")


def test_events_refuse_bad_input() -> None:
    with pytest.raises(InputError, match="event type 'fixed' is unknown"):
        Event(type="fixed", service_request_id="1", occurred_at=T0)
    with pytest.raises(InputError, match="timezone-aware"):
        Event(type="received", service_request_id="1", occurred_at=datetime(2015, 1, 1))
    with pytest.raises(InputError, match="eta_start and eta_end"):
        Event(type="scheduled", service_request_id="1", occurred_at=T0)
    for bad in ("not an address", "ada@example.org\r\nBcc: eve@example.org", "ada@localhost"):
        with pytest.raises(InputError, match="email"):
            save_contact(None, "1", email=bad)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="event_id"):
        Event(type="received", service_request_id="1", occurred_at=T0, event_id="x" * 201)


def test_a_citizen_supplied_field_cannot_add_mail_headers() -> None:
    payload = {
        "event_id": "merged:9:1", "type": "merged", "service_request_id": "9",
        "service_code": "pothole", "service_name": "Pothole", "status": "", "note": "",
        "address": "1 Boylston St\r\nBcc: eve@example.org", "neighbours": 1,
        "occurred_at": T0.isoformat(), "status_path": "/requests/9", "eta_start": None,
        "eta_end": None,
    }  # fmt: skip
    raw = renderer().email(payload, to="ada@example.org", idempotency_key="k").as_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None
    assert msg["Subject"] == "Already reported: Pothole at 1 Boylston St Bcc: eve@example.org"


def test_one_sender_per_sqlite_database_and_a_dead_senders_claims_are_released(
    tmp_path: Path, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    with Store(f"sqlite:///{tmp_path / 'one.db'}") as store:
        report(store, "901", email_address="ada@example.org")
        with store.begin() as conn:  # a sender died after claiming the row
            conn.execute(outbox.update().values(claimed_at=T0, attempts=1))
        first = make_sender(store, port)
        first.start()
        with pytest.raises(ConflictError, match="another notification sender"):
            make_sender(store, port).start()
        assert first.drain().sent == 1
        first.close()
        with make_sender(store, port) as again:
            assert again.drain().total == 0
        with store.engine.connect() as conn:
            [row] = list_outbox(conn)
    assert row.attempts == 2 and len(box.messages) == 1


def test_closing_a_work_order_tells_each_reporter_once_with_the_crews_note(
    store: Store, smtp: tuple[Mailbox, int]
) -> None:
    """close_work_order (the crew's "done") queues "closed" in its own transaction."""
    from geo311.city.catalogue import load_catalogue
    from geo311.workorders.closing import Closure, close_work_order
    from geo311.workorders.grouping import rebuild_work_orders

    box, port = smtp
    catalogue = load_catalogue()
    report(store, "201", email_address="ada@example.org")
    report(store, "202", email_address="bob@example.org")  # same spot: same work order
    rebuild_work_orders(store, catalogue)
    wo_id = request_repo.get_request(store, "201").work_order_id
    assert wo_id is not None and request_repo.get_request(store, "202").work_order_id == wo_id
    close_work_order(
        store,
        wo_id,
        Closure(
            status="fixed",
            closure_category="Case Resolved",
            note="Filled the pothole with hot asphalt.",
            at=T0 + timedelta(hours=5),
        ),
        catalogue=catalogue,
    )
    with pytest.raises(ConflictError):  # closed already: nothing more is queued
        close_work_order(
            store,
            wo_id,
            Closure(status="fixed", closure_category="Case Resolved", at=T0 + timedelta(hours=6)),
            catalogue=catalogue,
        )
    with make_sender(store, port) as sender:
        sender.drain()
    for address in ("ada@example.org", "bob@example.org"):
        fixed = [m for m in box.to(address) if m["Subject"].startswith("Fixed")]
        assert len(fixed) == 1, [m["Subject"] for m in box.to(address)]
        assert "Filled the pothole with hot asphalt." in text_of(fixed[0])


def test_a_report_joining_a_work_order_is_told_it_was_already_reported(
    store: Store, smtp: tuple[Mailbox, int]
) -> None:
    """assign_request (live intake) queues "merged" in the assignment's transaction."""
    from geo311.city.catalogue import load_catalogue
    from geo311.workorders.grouping import assign_request

    box, port = smtp
    catalogue = load_catalogue()
    report(store, "301", email_address="ada@example.org")
    first = assign_request(store, request_repo.get_request(store, "301"), catalogue)
    report(store, "302", email_address="bob@example.org")
    second = assign_request(store, request_repo.get_request(store, "302"), catalogue)
    assert second.joined and second.work_order_id == first.work_order_id
    with make_sender(store, port) as sender:
        sender.drain()
    assert [m["Subject"].split(":")[0] for m in box.to("ada@example.org")] == [
        "We received your report 301"
    ]
    merged = [m for m in box.to("bob@example.org") if m["Subject"].startswith("Already reported")]
    assert len(merged) == 1 and "1 neighbour reported it too" in text_of(merged[0])


def test_a_failed_repair_tells_the_first_reporters_it_is_reopened(
    store: Store, smtp: tuple[Mailbox, int]
) -> None:
    """A new report near a work order closed days ago (a failed repair) queues "reopened"."""
    from geo311.city.catalogue import load_catalogue
    from geo311.workorders.closing import Closure, close_work_order
    from geo311.workorders.grouping import assign_request

    box, port = smtp
    catalogue = load_catalogue()
    report(store, "401", email_address="ada@example.org")
    first = assign_request(store, request_repo.get_request(store, "401"), catalogue)
    assert first.work_order_id is not None
    close_work_order(
        store,
        first.work_order_id,
        Closure(status="fixed", closure_category="Case Resolved", at=T0 + timedelta(hours=2)),
        catalogue=catalogue,
    )
    again = ServiceRequest(
        service_request_id="402", service_code="pothole", service_name="Request Pothole Repair",
        status="open", requested_datetime=T0 + timedelta(days=3), source="open311",
        source_id="402", address="1 Boylston St", lat=42.352, long=-71.07,
    )  # fmt: skip
    with store.begin() as conn:
        request_repo.insert_request_rows(store, conn, [request_to_row(again)])
    second = assign_request(store, request_repo.get_request(store, "402"), catalogue)
    assert second.failed_repair_of == first.work_order_id
    with make_sender(store, port) as sender:
        sender.drain()
    subjects = [m["Subject"].split(":")[0] for m in box.to("ada@example.org")]
    assert subjects.count("Reopened") == 1, subjects
