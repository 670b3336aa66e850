"""The one-click unsubscribe link of citizen e-mails, through the real app and store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.db.notify_schema import contacts
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.notify import save_contact, unsubscribe_path
from geo311.requests import repo as request_repo
from geo311.requests.repo import request_to_row
from geo311.settings import Settings

SECRET = "unsubscribe-test-secret-0123456789"


def test_unsubscribe_link_confirms_then_opts_the_reporter_out(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'u.db'}", notify_secret=SECRET)
    store = Store(settings.database_url)
    req = ServiceRequest(
        service_request_id="901", service_code="pothole", service_name="Pothole", status="open",
        requested_datetime=datetime(2015, 10, 5, 12, tzinfo=UTC), source="open311",
        source_id="901", address="1 Boylston St", lat=42.352, long=-71.07,
    )  # fmt: skip
    with store.begin() as conn:
        request_repo.insert_request_rows(store, conn, [request_to_row(req)])
        save_contact(conn, "901", email="ada@example.org", first_name="Ada")
    path = unsubscribe_path("901", secret=SECRET)
    with TestClient(create_app(settings, store=store)) as client:
        page = client.get(path)
        assert page.status_code == 200 and 'method="post"' in page.text
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(contacts.c.unsubscribed)).scalar_one() is False
        done = client.post(path)
        assert done.status_code == 200 and "no more e-mails" in done.text
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(contacts.c.unsubscribed)).scalar_one() is True
        forged = client.post(path[:-3] + "abc")
        assert forged.status_code == 400 and "not valid" in forged.text
    store.close()
