"""The outbox sender under concurrency and from the command line: two senders on PostgreSQL
deliver every event exactly once; a sender that dies mid-delivery loses nothing."""

from __future__ import annotations

import collections
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from geo311.cli.notify import notify_app
from geo311.db.notify_schema import outbox
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.notify import Event, confirm_address, enqueue, list_outbox, save_contact
from geo311.notify.channels import SmtpChannel
from geo311.notify.sender import Sender
from geo311.notify.templates import Renderer
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row
from geo311.settings import REPO_DATA_DIR, get_settings

T0 = datetime(2015, 10, 5, 12, 15, tzinfo=UTC)
SECRET = "test-secret-0123456789abcdef"


class Counter:
    """aiosmtpd handler counting accepted messages by Message-ID."""

    def __init__(self) -> None:
        self.by_id: collections.Counter[str] = collections.Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        head = envelope.content.split(b"\r\n\r\n", 1)[0].decode()
        mid = next(
            line.split(":", 1)[1].strip()
            for line in head.splitlines()
            if line.lower().startswith("message-id:")
        )
        with self.lock:
            self.by_id[mid] += 1
        return "250 OK"


@pytest.fixture()
def smtp() -> Iterator[tuple[Counter, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    counter = Counter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield counter, port
    finally:
        controller.stop()


def queue_events(store: Store, n: int) -> None:
    rows, people = [], []
    for i in range(n):
        rid = f"{i:05d}"
        req = ServiceRequest(
            service_request_id=rid, service_code="pothole", service_name="Pothole",
            status="open", requested_datetime=T0, source="open311", source_id=rid,
        )  # fmt: skip
        rows.append(request_to_row(req))
        people.append(rid)
    with store.begin() as conn:
        request_repo.insert_request_rows(store, conn, rows)
        for rid in people:
            save_contact(conn, rid, email=f"r{rid}@example.org")
            confirm_address(conn, f"r{rid}@example.org")
            enqueue(conn, Event(type="received", service_request_id=rid, occurred_at=T0))


def smtp_sender(url: str, port: int) -> Sender:
    renderer = Renderer(
        REPO_DATA_DIR / "templates" / "notify",
        public_url="https://311.example.gov",
        secret=SECRET,
        mail_from="noreply@311.example.gov",
    )
    engine = Store(url, create=False).engine
    return Sender(engine, {"email": SmtpChannel(renderer, host="127.0.0.1", port=port)})


@pytest.mark.postgres
def test_two_senders_on_postgresql_deliver_each_event_exactly_once(
    postgres_url: str, smtp: tuple[Counter, int]
) -> None:
    counter, port = smtp
    with Store(postgres_url) as store:
        queue_events(store, 300)
        senders = [smtp_sender(postgres_url, port) for _ in range(2)]
        reports = [None, None]

        def work(i: int) -> None:
            with senders[i] as sender:
                reports[i] = sender.drain(batch=20)  # type: ignore[call-overload]

        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for s in senders:
            s.engine.dispose()
        with store.engine.connect() as conn:
            rows = list_outbox(conn)
    assert len(counter.by_id) == 300 and set(counter.by_id.values()) == {1}
    assert {r.status for r in rows} == {"sent"} and {r.attempts for r in rows} == {1}
    assert all(r.sent > 0 for r in reports)  # type: ignore[union-attr]  # both took a share


@pytest.mark.postgres
def test_a_row_locked_by_a_sender_is_skipped_and_taken_over_when_that_sender_dies(
    postgres_url: str, smtp: tuple[Counter, int]
) -> None:
    counter, port = smtp
    with Store(postgres_url) as store:
        queue_events(store, 3)
        busy = store.engine.connect()  # a sender in the middle of delivering row 1
        busy.begin()
        busy.execute(sa.select(outbox.c.id).where(outbox.c.id == 1).with_for_update())
        pid = busy.execute(sa.text("select pg_backend_pid()")).scalar_one()
        with smtp_sender(postgres_url, port) as other:
            assert other.drain().sent == 2
            busy.invalidate()  # the busy sender's process dies: its lock goes with it
            busy.close()
            _wait_until_gone(store, pid)  # the server ends that session a moment later
            assert other.drain().sent == 1
            other.engine.dispose()
    assert len(counter.by_id) == 3 and set(counter.by_id.values()) == {1}


def test_notify_commands_run_list_dead_and_retry(
    tmp_path: Path, smtp: tuple[Counter, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    counter, port = smtp
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for key, value in {
        "DATABASE_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
        "MAIL_FROM": "Boston 311 <noreply@311.example.gov>", "NOTIFY_SECRET": SECRET,
        "NOTIFY_MAX_ATTEMPTS": "1",
    }.items():  # fmt: skip
        monkeypatch.setenv(f"GEO311_{key}", value)
    get_settings.cache_clear()
    try:
        with Store(url) as store:
            queue_events(store, 2)
            with store.begin() as conn:  # one message goes nowhere and dies
                conn.execute(outbox.update().where(outbox.c.id == 2).values(channel="sms"))
        runner = CliRunner()
        result = runner.invoke(notify_app(), ["run", "--once"])
        assert result.exit_code == 0, result.output
        assert "sent 1, retried later 0, dead 1" in result.output
        result = runner.invoke(notify_app(), ["dead"])
        assert "1 dead message(s)" in result.output and "no channel 'sms'" in result.output
        with Store(url) as store, store.begin() as conn:
            conn.execute(outbox.update().where(outbox.c.id == 2).values(channel="email"))
        result = runner.invoke(notify_app(), ["retry", "2"])
        assert result.exit_code == 0 and "queued again" in result.output
        result = runner.invoke(notify_app(), ["run", "--once"])
        assert "sent 1, retried later 0, dead 0" in result.output
        result = runner.invoke(notify_app(), ["retry", "2"])
        assert result.exit_code != 0 and "is sent, not dead" in str(result.exception)
    finally:
        get_settings.cache_clear()
    assert len(counter.by_id) == 2 and set(counter.by_id.values()) == {1}


def test_the_sender_loop_outlives_a_database_error(
    tmp_path: Path, smtp: tuple[Counter, int], caplog: pytest.LogCaptureFixture
) -> None:
    counter, port = smtp
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    with Store(url) as store:
        queue_events(store, 2)
        stop = threading.Event()
        with smtp_sender(url, port) as sender:
            with store.begin() as conn:  # the outbox is briefly unreachable
                conn.execute(sa.text("ALTER TABLE outbox RENAME TO outbox_away"))
            loop = threading.Thread(target=sender.run, kwargs={"poll_s": 0.05, "stop": stop})
            loop.start()
            deadline = time.monotonic() + 20
            while "database error" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
            with store.begin() as conn:
                conn.execute(sa.text("ALTER TABLE outbox_away RENAME TO outbox"))
            while sum(counter.by_id.values()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            loop.join(timeout=20)
            sender.engine.dispose()
    assert "database error" in caplog.text
    assert len(counter.by_id) == 2 and not loop.is_alive()


def _wait_until_gone(store: Store, pid: int, timeout_s: float = 30.0) -> None:
    """Wait until the database server has ended the session ``pid`` (and released its locks)."""
    deadline = time.monotonic() + timeout_s
    with store.engine.connect() as conn:
        conn.execute(sa.text("select pg_terminate_backend(:pid)"), {"pid": pid})
        while time.monotonic() < deadline:
            alive = conn.execute(
                sa.text("select count(*) from pg_stat_activity where pid = :pid"), {"pid": pid}
            ).scalar_one()
            if not alive:
                return
            time.sleep(0.05)
    raise AssertionError(f"session {pid} still alive after {timeout_s} s")
