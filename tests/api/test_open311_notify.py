"""Open311 POST keeps the reporter's contact apart and acknowledges the report by e-mail.

A real SMTP server (aiosmtpd on a free port) receives what the outbox sender delivers; the
store runs on SQLite and PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from geo311.notify.channels import SmtpChannel
from geo311.notify.cli import renderer_from_settings
from geo311.notify.sender import Sender
from geo311.notify_schema import contacts, outbox
from geo311.settings import Settings
from geo311.store import Store

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
    assert queued == ["received"]

    channel = SmtpChannel(renderer_from_settings(settings), host="127.0.0.1", port=port)
    with Sender(api_store.engine, {"email": channel}, backoff_s=0.0) as sender:
        sender.drain()
    got = [m for rcpt, m in box.messages if "ada@example.org" in rcpt]
    assert len(got) == 1 and rid in got[0]["Subject"]
