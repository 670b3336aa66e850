"""FixMyStreet as a front end: the requests its Open311 client makes, replayed, and the
answers parsed as it parses them (XML::Simple: ``request_update`` items under the root).

The client (mysociety/fixmystreet ``perllib/Open311.pm``): reports go to ``POST
requests.xml`` and come back as ``request/service_request_id`` (else ``request/token``);
``GetServiceRequestUpdates`` asks ``servicerequestupdates.xml`` for the last two hours
(``start_date``/``end_date`` in W3C form, UTC) and keeps an update when it has an
``update_id``, a ``service_request_id`` it knows and an ``updated_datetime`` inside the window;
a comment is posted to ``servicerequestupdates.xml`` and its ``request_update/update_id`` kept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log

P = "/open311/v2"
DISP = {"Authorization": "Bearer disp-token"}
JURISDICTION = "boston.gov"


def w3c(t: datetime) -> str:
    """DateTime::Format::W3CDTF of a UTC time, as FixMyStreet formats the window."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def simple(xml: bytes, item: str) -> list[dict[str, str]]:
    """The items XML::Simple gives for ``$obj->{item}`` (a list even for one)."""
    root = ET.fromstring(xml)
    return [{c.tag: c.text or "" for c in e} for e in root.findall(item)]


def fms_send_report(client: TestClient, key: str, **extra: str) -> str:
    params = {
        "jurisdiction_id": JURISDICTION,
        "api_key": key,
        "lat": "42.3505",
        "long": "-71.0810",
        "email": "resident@example.org",
        "description": "title: Pothole\n\ndetail: deep one\n\nurl: https://fms/report/1\n\n"
        "Submitted via FixMyStreet\n",
        "service_code": "pothole",
        "first_name": "Ada",
        "last_name": "Lovelace",
        **extra,
    }
    resp = client.post(f"{P}/requests.xml", data=params)
    assert resp.status_code == 200, resp.text
    [request] = simple(resp.content, "request")
    return request["service_request_id"] or request["token"]


def fms_fetch_updates(client: TestClient, start: datetime, end: datetime) -> list[dict[str, Any]]:
    query = {"start_date": w3c(start), "end_date": w3c(end), "jurisdiction_id": JURISDICTION}
    resp = client.get(f"{P}/servicerequestupdates.xml", params=query)
    assert resp.status_code == 200, resp.text
    assert ET.fromstring(resp.content).tag == "service_request_updates"
    kept = []
    for update in simple(resp.content, "request_update"):
        when = datetime.fromisoformat(update["updated_datetime"]).astimezone(UTC)
        if update["service_request_id"] and update["update_id"] and start <= when <= end:
            kept.append(update)
    return kept


def fms_post_comment(client: TestClient, key: str, rid: str, comment_id: int, text: str) -> str:
    params = {
        "jurisdiction_id": JURISDICTION,
        "api_key": key,
        "updated_datetime": "2026-11-30T09:15:00+00:00",
        "service_request_id": rid,
        "status": "OPEN",
        "email": "resident@example.org",
        "description": text,
        "last_name": "Lovelace",
        "first_name": "Ada",
        "update_id": str(comment_id),
        "media_url": "https://fms.example/photo/1.full.jpeg",
    }
    resp = client.post(f"{P}/servicerequestupdates.xml", data=params)
    assert resp.status_code == 200, resp.text
    [update] = simple(resp.content, "request_update")
    return update["update_id"]


def test_fixmystreet_round_trip(client: TestClient, api_store: Store) -> None:
    key = client.app.state.settings.api_keys[0]
    start = datetime.now(UTC) - timedelta(hours=2)
    rid = fms_send_report(client, key, media_url="https://fms.example/photo/0.full.jpeg")
    assert (
        request_repo.get_request(api_store, rid).media_url
        == "https://fms.example/photo/0.full.jpeg"
    )
    assert fms_fetch_updates(client, start, datetime.now(UTC)) == []

    wo = request_repo.get_request(api_store, rid).work_order_id
    note = "Crew A filled the pothole"
    for status, text in (("in_progress", ""), ("fixed", note)):
        body = {"status": status, "note": text} if text else {"status": status}
        resp = client.post(f"/workorders/{wo}/status", json=body, headers=DISP)
        assert resp.status_code == 200, resp.text
    updates = fms_fetch_updates(client, start, datetime.now(UTC) + timedelta(seconds=1))
    assert [(u["service_request_id"], u["status"], u["description"]) for u in updates] == [
        (rid, "in_progress", ""),
        (rid, "fixed", note),
    ]
    assert all(set(u) >= {"update_id", "updated_datetime", "media_url"} for u in updates)
    assert len({u["update_id"] for u in updates}) == 2

    # A citizen's comment: posted, answered with an update_id, kept once on a retry.
    uid = fms_post_comment(client, key, rid, 9001, "Thanks, looks good now")
    assert uid.isdigit() and fms_post_comment(client, key, rid, 9001, "Thanks") == uid
    [comment] = [u for u in update_log.request_updates_of(api_store, rid) if u["kind"] == "comment"]
    assert comment["description"] == "Thanks, looks good now"
    assert comment["media_url"] == "https://fms.example/photo/1.full.jpeg"
    assert request_repo.get_request(api_store, rid).status == "fixed"  # the city's status stays
    later = fms_fetch_updates(client, start, datetime.now(UTC) + timedelta(seconds=1))
    assert later[-1]["update_id"] == uid and later[-1]["status"] == "fixed"
    # No personal detail of the poster is kept or shown.
    everything = client.get(f"{P}/servicerequestupdates.json").text
    everything += client.get(f"{P}/requests/{rid}.xml").text
    assert "Lovelace" not in everything and "resident@example.org" not in everything


def test_updates_json_window_and_errors(client: TestClient, api_store: Store) -> None:
    key = client.app.state.settings.api_keys[0]
    rid = fms_send_report(client, key)
    request_repo.update_request_fields(api_store, rid, status_notes="Inspected")
    [update] = client.get(f"{P}/servicerequestupdates.json").json()
    assert update["service_request_id"] == rid and update["status"] == "open"
    assert update["description"] == "Inspected" and update["media_url"] == ""
    old = {"start_date": "2015-10-01T00:00:00Z", "end_date": "2015-10-02T00:00:00Z"}
    assert client.get(f"{P}/servicerequestupdates.json", params=old).json() == []

    wide = {"start_date": "2015-01-01T00:00:00Z", "end_date": "2015-12-01T00:00:00Z"}
    resp = client.get(f"{P}/servicerequestupdates.xml", params=wide)
    assert resp.status_code == 400
    assert "90 days" in (ET.fromstring(resp.content).findtext("error/description") or "")
    resp = client.get(f"{P}/servicerequestupdates.json", params={"start_date": "yesterday"})
    assert resp.status_code == 400 and resp.json()[0]["description"].startswith("start_date")
    other = {"jurisdiction_id": "elsewhere.gov"}
    assert client.get(f"{P}/servicerequestupdates.json", params=other).status_code == 404

    base = {"service_request_id": rid, "updated_datetime": "2026-11-30T09:15:00Z"}
    form = {**base, "status": "OPEN", "description": "x"}
    resp = client.post(f"{P}/servicerequestupdates.json", data=form)
    assert resp.status_code == 403 and resp.json()[0]["description"].startswith("api_key")
    resp = client.post(
        f"{P}/servicerequestupdates.json", data={**form, "api_key": key, "status": "DONE"}
    )
    assert resp.status_code == 400 and resp.json()[0]["description"].startswith("status")
    missing = {**form, "api_key": key, "service_request_id": "nope"}
    resp = client.post(f"{P}/servicerequestupdates.json", data=missing)
    assert resp.status_code == 404 and "nope" in resp.json()[0]["description"]
    resp = client.post(f"{P}/servicerequestupdates.json", json={**form, "api_key": key})
    assert resp.status_code == 415
    resp = client.post(f"{P}/servicerequestupdates.json", data={**form, "api_key": key})
    assert resp.status_code == 200 and resp.json()[0]["update_id"].isdigit()
