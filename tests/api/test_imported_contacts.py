"""Contacts that came with an import stay private and get the "scheduled" e-mail on publishing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo311.city.catalogue import Catalogue
from geo311.db.notify_schema import outbox
from geo311.db.store import Store
from geo311.ingest.importer import ImportOptions, import_file
from geo311.notify import confirm_address
from geo311.requests import repo as request_repo
from geo311.workorders.grouping import rebuild_work_orders

from .test_request_status import DISP, ORIGIN, save_plan

P = "/open311/v2"


def test_imported_contacts_are_never_public_and_hear_of_the_published_eta(
    client: TestClient, api_store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    opened = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    records = [
        {"service_request_id": "IMP1", "service_code": "pothole", "requested_datetime": opened,
         "lat": 42.3505, "long": -71.0810, "email": "ada@example.org", "first_name": "Adalind",
         "last_name": "Lovelace", "phone": "617-555-0100"},
        {"service_request_id": "IMP2", "service_code": "pothole", "requested_datetime": opened,
         "lat": 42.35051, "long": -71.08101},
    ]  # fmt: skip
    path = tmp_path / "requests.json"
    path.write_text(json.dumps(records))
    assert (
        import_file(api_store, path, catalogue, ImportOptions(rejects_path=tmp_path / "r.csv")).new
        == 2
    )
    rebuild_work_orders(api_store, catalogue)
    wo = request_repo.get_request(api_store, "IMP1").work_order_id
    assert wo is not None and request_repo.get_request(api_store, "IMP2").work_order_id == wo

    private = ("ada@example.org", "Adalind", "Lovelace", "617-555-0100")
    urls = [f"{P}/requests.json", f"{P}/requests.xml", f"{P}/requests/IMP1.json",
            f"{P}/requests/IMP1.xml", "/requests/IMP1"]  # fmt: skip
    for url in urls:
        page = client.get(url)
        assert page.status_code == 200 and "IMP1" in page.text, url
        assert not [word for word in private if word in page.text], url

    with api_store.begin() as conn:  # the reporter confirmed the address (geo311.notify.confirm)
        confirm_address(conn, "ada@example.org")
    plan_id = save_plan(api_store, [("A", wo, 600)])
    resp = client.post(f"/plans/{plan_id}/publish", headers=DISP)
    assert resp.json() == {"plan_id": plan_id, "scheduled": 2, "cleared": 0}
    with api_store.engine.connect() as conn:
        queued = conn.execute(
            sa.select(outbox.c.event_type, outbox.c.address, outbox.c.service_request_id)
        ).all()
    # the imported reporter with an e-mail is told; the one without has no e-mail to get
    assert [tuple(r) for r in queued] == [("scheduled", "ada@example.org", "IMP1")]
    item = client.get(f"{P}/requests/IMP2.json").json()[0]
    assert datetime.fromisoformat(item["expected_datetime"]) == ORIGIN + timedelta(seconds=600)
