"""Open311 request status fields: status_notes, updated_datetime, expected_datetime from the
published plan (POST /plans/{id}/publish), and the request_updates every change writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log
from geo311.requests.repo import request_to_row
from geo311.workorders import repo as work_order_repo
from geo311.workorders.grouping import rebuild_work_orders

P = "/open311/v2"
DISP = {"Authorization": "Bearer disp-token"}
PLAN = {"Authorization": "Bearer plan-token"}
ORIGIN = datetime(2030, 10, 6, 11, 0, tzinfo=UTC)


def post_report(client: TestClient, lat: float, lon: float, code: str = "pothole") -> str:
    data = {
        "api_key": client.app.state.settings.api_keys[0],
        "service_code": code,
        "lat": str(lat),
        "long": str(lon),
    }
    resp = client.post(f"{P}/requests.json", data=data)
    assert resp.status_code == 200, resp.text
    return str(resp.json()[0]["service_request_id"])


def save_plan(store: Store, stops: list[tuple[str, int, float]]) -> int:
    """Store a plan document: one route per ``(crew, work_order_id, arrival seconds)``."""

    def step(kind: str, t: float, job: str | None = None, ref: int | None = None) -> dict:
        return {
            "type": kind,
            "arrival_s": t,
            "departure_s": t + 60,
            "job_id": job,
            "ref": None if ref is None else str(ref),
            "arrival": (ORIGIN + timedelta(seconds=t)).isoformat(),
            "departure": (ORIGIN + timedelta(seconds=t + 60)).isoformat(),
        }

    routes = [
        {
            "crew_id": crew,
            "steps": [step("start", 0), step("job", t, f"wo-{wo}", wo), step("end", t + 900)],
        }
        for crew, wo, t in stops
    ]
    doc = {
        "origin": ORIGIN.isoformat(),
        "routes": routes,
        "unassigned": [],
        "summary": {},
        "timezone": "America/New_York",
    }
    return plan_repo.save_plan(store, doc, plan_date=ORIGIN.date().isoformat())


def _get(client: TestClient, rid: str) -> dict:
    [item] = client.get(f"{P}/requests/{rid}.json").json()
    return dict(item)


def test_publish_sets_expected_datetime_and_a_newer_plan_clears_it(
    client: TestClient, api_store: Store, catalogue: Catalogue
) -> None:
    a = post_report(client, 42.3505, -71.0810)
    b = post_report(client, 42.35051, -71.08101)  # joins a's work order
    c = post_report(client, 42.3450, -71.0700, code="streetlight_outage")
    wa = request_repo.get_request(api_store, a).work_order_id
    wc = request_repo.get_request(api_store, c).work_order_id
    assert (
        wa is not None
        and wc is not None
        and request_repo.get_request(api_store, b).work_order_id == wa
    )
    before = request_repo.get_request(api_store, a).updated_datetime
    assert before is not None

    first = save_plan(api_store, [("A", wa, 600), ("B", wc, 1200)])
    assert client.post(f"/plans/{first}/publish", headers=PLAN).status_code == 403
    resp = client.post(f"/plans/{first}/publish", headers=DISP)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"plan_id": first, "scheduled": 3, "cleared": 0}
    eta_a = ORIGIN + timedelta(seconds=600)
    for rid in (a, b):
        item = _get(client, rid)
        assert datetime.fromisoformat(item["expected_datetime"]) == eta_a
        updated = request_repo.get_request(api_store, rid).updated_datetime
        assert updated is not None and updated > before
    root = client.get(f"{P}/requests/{a}.xml").text
    assert "<expected_datetime>2030-10-06T07:10:00-04:00</expected_datetime>" in root
    assert datetime.fromisoformat(_get(client, c)["expected_datetime"]) == ORIGIN + timedelta(
        seconds=1200
    )

    # A newer plan leaves out the streetlight: its ETA goes (back to its SLA target), the
    # pothole's moves.
    second = save_plan(api_store, [("A", wa, 1800)])
    resp = client.post(f"/plans/{second}/publish", headers=DISP)
    assert resp.json() == {"plan_id": second, "scheduled": 2, "cleared": 1}
    light = request_repo.get_request(api_store, c)
    target = light.requested_datetime + catalogue.service("streetlight_outage").sla
    assert light.sla_target_datetime == target
    shown = datetime.fromisoformat(_get(client, c)["expected_datetime"])
    assert shown == target.replace(microsecond=0)  # Open311 times are to the second
    assert datetime.fromisoformat(_get(client, a)["expected_datetime"]) == ORIGIN + timedelta(
        seconds=1800
    )
    kinds = [u["kind"] for u in update_log.request_updates_of(api_store, c)]
    assert kinds == ["scheduled", "unscheduled"]
    [scheduled] = [
        u for u in update_log.request_updates_of(api_store, c) if u["kind"] == "scheduled"
    ]
    assert "between 06:50 and 07:50" in scheduled["description"]
    assert plan_repo.plan_published_at(api_store, second) is not None

    resp = client.post("/plans/424242/publish", headers=DISP)
    assert resp.status_code == 404 and "424242" in resp.json()["detail"]


def test_status_notes_and_updated_datetime_follow_every_change(
    client: TestClient, api_store: Store
) -> None:
    rid = post_report(client, 42.3505, -71.0810)
    wo = request_repo.get_request(api_store, rid).work_order_id
    first = _get(client, rid)
    assert first["status_notes"] is None
    resp = client.post(
        f"/workorders/{wo}/status",
        json={"status": "in_progress", "note": "Crew on site"},
        headers=DISP,
    )
    assert resp.status_code == 200, resp.text
    second = _get(client, rid)
    assert second["status_notes"] == "Crew on site"
    assert second["updated_datetime"] >= first["updated_datetime"]
    resp = client.post(
        f"/workorders/{wo}/status",
        json={"status": "fixed", "note": "Filled with hot asphalt"},
        headers=DISP,
    )
    assert resp.status_code == 200, resp.text
    third = _get(client, rid)
    assert third["status"] == "closed" and third["status_notes"] == "Filled with hot asphalt"
    updates = update_log.request_updates_of(api_store, rid)
    assert [(u["kind"], u["status"], u["description"]) for u in updates] == [
        ("status", "in_progress", "Crew on site"),
        ("status", "fixed", "Filled with hot asphalt"),
    ]
    assert (
        updates[-1]["updated_datetime"] == request_repo.get_request(api_store, rid).updated_datetime
    )


def test_store_records_updates_in_the_same_transaction(api_store: Store) -> None:
    from geo311.model import ServiceRequest

    t = datetime(2020, 1, 1, 12, tzinfo=UTC)
    request_repo.add_request(
        api_store,
        ServiceRequest(
            service_request_id="r1",
            service_code="pothole",
            status="open",
            requested_datetime=t,
            source="boston",
            source_id="r1",
        ),
    )
    request_repo.update_request_fields(api_store, "r1", status_notes="Inspected")
    got = request_repo.get_request(api_store, "r1")
    assert got.status_notes == "Inspected" and got.updated_datetime is not None
    assert got.updated_datetime > t
    [u] = update_log.request_updates_of(api_store, "r1")
    assert (u["kind"], u["status"], u["description"]) == ("note", "open", "Inspected")
    # Other columns are no citizen-visible change: no update.
    request_repo.update_request_fields(api_store, "r1", zipcode="02115")
    assert len(update_log.request_updates_of(api_store, "r1")) == 1
    uid, created = update_log.add_request_update(
        api_store, "r1", description="Still there", at=t + timedelta(days=1), external_id="c7"
    )
    assert created
    assert update_log.add_request_update(
        api_store, "r1", description="Still there", external_id="c7"
    ) == (
        uid,
        False,
    )
    assert request_repo.get_request(api_store, "r1").updated_datetime == t + timedelta(days=1)
    between = update_log.request_updates_between(api_store, t, t + timedelta(days=2))
    assert [x["update_id"] for x in between][-1] == uid


def test_413_and_415_answer_the_spec_error_list(client: TestClient, api_store: Store) -> None:
    import xml.etree.ElementTree as ET

    key = client.app.state.settings.api_keys[0]
    big = {"api_key": key, "service_code": "pothole", "media_url": "http://x/" + "a" * 70_000}
    resp = client.post(f"{P}/requests.xml", data=big)
    assert resp.status_code == 413 and resp.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(resp.content)
    assert root.tag == "errors" and root.findtext("error/code") == "413"
    assert "larger than 64000 bytes" in (root.findtext("error/description") or "")
    # Staff paths keep their own shape.
    resp = client.post("/plans", content=b"x" * 70_000, headers=DISP)
    assert resp.status_code == 413 and "larger than" in resp.json()["detail"]

    body = {"api_key": key, "service_code": "pothole", "lat": 42.35, "long": -71.08}
    resp = client.post(f"{P}/requests.json", json=body)
    assert resp.status_code == 415
    [error] = resp.json()
    assert error["code"] == 415 and "'application/json'" in error["description"]
    assert "application/x-www-form-urlencoded" in error["description"]
    resp = client.post(f"{P}/requests.xml", content=b"<x/>", headers={"Content-Type": "text/xml"})
    assert resp.status_code == 415 and ET.fromstring(resp.content).findtext("error/code") == "415"
    assert request_repo.count_requests(api_store) == 0


def test_post_answers_the_id_not_a_token(client: TestClient, api_store: Store) -> None:
    import xml.etree.ElementTree as ET

    key = client.app.state.settings.api_keys[0]
    data = {"api_key": key, "service_code": "pothole", "lat": "42.35", "long": "-71.08"}
    resp = client.post(f"{P}/requests.xml", data=data, headers={"Idempotency-Key": "fms-1"})
    assert resp.status_code == 200, resp.text
    # As FixMyStreet's client reads it: request/service_request_id, else request/token; the
    # spec sends the token only when there is no id yet (never both).
    root = ET.fromstring(resp.content)
    rid = root.findtext("request/service_request_id")
    assert rid and root.find("request/token") is None
    assert request_repo.get_request(api_store, rid).source_id == "fms-1"
    [found] = client.get(f"{P}/tokens/fms-1.json").json()  # the client's key still finds it
    assert found["service_request_id"] == rid


def test_unchanged_list_answers_304_to_its_etag(client: TestClient, api_store: Store) -> None:
    post_report(client, 42.3505, -71.0810)
    query = {"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-03-01T00:00:00Z"}
    for fmt in ("json", "xml"):
        first = client.get(f"{P}/requests.{fmt}")
        tag = first.headers["etag"]
        assert first.status_code == 200 and tag.startswith('W/"')
        again = client.get(f"{P}/requests.{fmt}", headers={"If-None-Match": tag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == tag
        # Another window is another page: its own tag, a full answer.
        other = client.get(f"{P}/requests.{fmt}", params=query, headers={"If-None-Match": tag})
        assert other.status_code == 200 and other.headers["etag"] != tag
    tag = client.get(f"{P}/requests.json").headers["etag"]
    post_report(client, 42.3450, -71.0700, code="streetlight_outage")
    changed = client.get(f"{P}/requests.json", headers={"If-None-Match": tag})
    assert changed.status_code == 200 and len(changed.json()) == 2
    tag = client.get(f"{P}/servicerequestupdates.json").headers["etag"]
    request_repo.update_request_fields(
        api_store, str(changed.json()[0]["service_request_id"]), status_notes="Seen"
    )
    updated = client.get(f"{P}/servicerequestupdates.json", headers={"If-None-Match": tag})
    assert updated.status_code == 200 and updated.json()[0]["description"] == "Seen"


def test_open311_expected_datetime_is_the_target_then_the_eta_then_the_target_again(
    client: TestClient, api_store: Store, catalogue: Catalogue
) -> None:
    reported = ORIGIN - timedelta(days=3)
    city_due = reported + timedelta(days=5)  # the City's own target (the catalogue says 48 h)
    req = ServiceRequest(
        service_request_id="BOS-7",
        service_code="pothole",
        status="open",
        requested_datetime=reported,
        expected_datetime=city_due,
        sla_target_datetime=city_due,
        source="boston",
        source_id="BOS-7",
        address="145 Ipswich St",
        lat=42.3450,
        long=-71.0700,
    )
    with api_store.begin() as conn:
        request_repo.insert_request_rows(api_store, conn, [request_to_row(req)])
    rebuild_work_orders(api_store, catalogue)
    wo = request_repo.get_request(api_store, "BOS-7").work_order_id
    assert wo is not None

    def expected() -> datetime:
        return datetime.fromisoformat(_get(client, "BOS-7")["expected_datetime"])

    assert expected() == city_due
    first = save_plan(api_store, [("A", wo, 600)])
    assert client.post(f"/plans/{first}/publish", headers=DISP).status_code == 200
    assert expected() == ORIGIN + timedelta(seconds=600)  # the published ETA
    second = save_plan(api_store, [("B", wo + 1000, 600)])  # a plan without it
    assert client.post(f"/plans/{second}/publish", headers=DISP).json()["cleared"] == 1
    assert expected() == city_due
    assert work_order_repo.get_work_order(api_store, wo).sla_due == city_due
