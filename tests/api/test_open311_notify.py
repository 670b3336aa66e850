"""Open311 POST keeps the reporter's contact apart and acknowledges the report by e-mail.

A real SMTP server (aiosmtpd on a free port) receives what the outbox sender delivers; the
store runs on SQLite and PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from geo311.cli.notify import renderer_from_settings
from geo311.db.notify_schema import contacts, outbox
from geo311.db.store import Store
from geo311.notify.channels import SmtpChannel
from geo311.notify.sender import Sender
from geo311.requests import repo as request_repo
from geo311.settings import Settings

SECRET = "open311-notify-secret-0123456789"


class _Box:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture()
def smtp() -> Iterator[tuple[_Box, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    box = _Box()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def test_post_stores_the_contact_privately_and_the_reporter_gets_the_acknowledgement(
    api_store: Store, store_url: str, api_key: str, smtp: tuple[_Box, int]
) -> None:
    from tests.api.conftest import make_settings

    box, port = smtp
    settings: Settings = make_settings(store_url, notify_secret=SECRET, smtp_port=port)
    form = {
        "api_key": api_key, "service_code": "pothole", "lat": "42.3505", "long": "-71.0760",
        "description": "deep hole", "email": "ada@example.org", "first_name": "Ada",
        "phone": "617-555-0100",
    }  # fmt: skip
    from api.app import create_app

    with TestClient(create_app(settings, store=api_store)) as client:
        posted = client.post("/open311/v2/requests.json", data=form)
        assert posted.status_code == 200, posted.text
        rid = posted.json()[0]["service_request_id"]
        public = client.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert "ada@example.org" not in str(public) and "617-555-0100" not in str(public)
    with api_store.engine.connect() as conn:
        kept = conn.execute(sa.select(contacts).where(contacts.c.service_request_id == rid)).one()
        queued = conn.execute(sa.select(outbox.c.event_type)).scalars().all()
    assert kept.email == "ada@example.org" and kept.first_name == "Ada"
    assert queued == ["confirm"]  # a new address is asked to confirm first

    channel = SmtpChannel(renderer_from_settings(settings), host="127.0.0.1", port=port)
    with Sender(api_store.engine, {"email": channel}, backoff_s=0.0) as sender:
        sender.drain()
    got = [m for rcpt, m in box.messages if "ada@example.org" in rcpt]
    assert len(got) == 1 and "Confirm your e-mail address" in got[0]["Subject"]
    assert rid in text_of(got[0])


def text_of(msg: EmailMessage) -> str:
    """The plain text and HTML parts and the subject of a message, decoded."""
    parts = [str(p.get_content()) for p in msg.walk() if p.get_content_maintype() == "text"]
    return "\n".join([str(msg["Subject"]), *parts])


def _deliver(store: Store, settings: Settings, port: int) -> None:
    channel = SmtpChannel(renderer_from_settings(settings), host="127.0.0.1", port=port)
    with Sender(store.engine, {"email": channel}, backoff_s=0.0) as sender:
        sender.drain()


def _email_rows(store: Store, address: str) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.status)
            .where(outbox.c.channel == "email", outbox.c.address == address)
            .order_by(outbox.c.id)
        ).all()
    return [(r.event_type, r.status) for r in rows]


SPAM = {
    "description": "SPAMTEXT buy pills at spam.example",
    "first_name": "SPAMNAME",
    "address_string": "SPAMADDRESS call 555",
}


def test_five_reports_with_a_strangers_address_send_one_confirmation_without_their_text(
    api_store: Store, store_url: str, api_key: str, smtp: tuple[_Box, int]
) -> None:
    from api.app import create_app
    from tests.api.conftest import make_settings

    box, port = smtp
    settings = make_settings(
        store_url, notify_secret=SECRET, smtp_port=port, report_limit_per_email=10
    )
    form = {"api_key": api_key, "service_code": "pothole", "lat": "42.3505", "long": "-71.0760",
            "email": "stranger@example.net", **SPAM}  # fmt: skip
    with TestClient(create_app(settings, store=api_store)) as client:
        for _ in range(4):
            assert client.post("/open311/v2/requests.json", data=form).status_code == 200
        page = client.post("/report.json", data=form)  # the public report page's POST
        assert page.status_code == 200, page.text
    assert request_repo.count_requests(api_store) == 5
    _deliver(api_store, settings, port)
    assert [rcpt for rcpt, _m in box.messages] == [["stranger@example.net"]]
    text = text_of(box.messages[0][1])
    assert "Confirm your e-mail address" in text and "/notify/confirm/" in text
    assert not [w for w in ("SPAMTEXT", "SPAMNAME", "SPAMADDRESS") if w in text]
    assert _email_rows(api_store, "stranger@example.net") == [("confirm", "sent")]


def test_a_confirmed_address_hears_of_its_reports_and_an_unsubscribed_one_of_none_again(
    api_store: Store, store_url: str, api_key: str, smtp: tuple[_Box, int]
) -> None:
    from api.app import create_app
    from tests.api.conftest import make_settings

    box, port = smtp
    settings = make_settings(
        store_url, notify_secret=SECRET, smtp_port=port, report_limit_per_email=0
    )
    form = {"api_key": api_key, "service_code": "pothole", "lat": "42.3505", "long": "-71.0760",
            "email": "Ada@Example.org", "first_name": "Ada", "description": "deep hole"}  # fmt: skip
    post = "/open311/v2/requests.json"
    with TestClient(create_app(settings, store=api_store)) as client:
        assert client.post(post, data=form).status_code == 200
        _deliver(api_store, settings, port)
        [(_rcpt, asked)] = box.messages
        found = re.search(r"http://localhost:8000(/notify/confirm/\S+)", text_of(asked))
        assert found is not None
        link = found.group(1)
        shown = client.get(link)  # a mail scanner opening the link confirms nothing
        assert shown.status_code == 200 and 'method="post"' in shown.text
        assert client.post(post, data=form).status_code == 200
        assert [t for t, _s in _email_rows(api_store, "Ada@Example.org")] == ["confirm"]
        done = client.post(link)
        assert done.status_code == 200 and "Address confirmed" in done.text
        assert client.post(link[:-4] + "AAAA").status_code == 400  # forged
        # Confirmed: the next report is acknowledged with its details.
        assert client.post(post, data=form).status_code == 200
        _deliver(api_store, settings, port)
        [received] = [m for _r, m in box.messages if "We received" in text_of(m)]
        assert "Hello Ada" in text_of(received)
        unsubscribe = (
            str(received["List-Unsubscribe"]).strip("<>").removeprefix("http://localhost:8000")
        )
        assert client.post(unsubscribe).status_code == 200
        before = _email_rows(api_store, "Ada@Example.org")
        # Unsubscribed: a later report with the same address (any case) queues nothing.
        assert client.post(post, data={**form, "email": "ada@example.org"}).status_code == 200
        assert client.post(post, data=form).status_code == 200
        assert _email_rows(api_store, "Ada@Example.org") == before
        assert _email_rows(api_store, "ada@example.org") == []
        # An old confirmation link does not undo the unsubscribe.
        again = client.post(link)
        assert again.status_code == 200 and "Unsubscribed earlier" in again.text
        assert client.post(post, data=form).status_code == 200
        assert _email_rows(api_store, "Ada@Example.org") == before
