"""Staff endpoints: auth and roles, work orders, status transitions, plans, crews, planners."""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from geo311.db.store import Store
from geo311.model import ServiceRequest
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.staff import store as auth_store

P = "/open311/v2"
T0 = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


DISP, PLAN, CREW_A, CREW_B = (
    auth("disp-token"),
    auth("plan-token"),
    auth("crew-a-token"),
    auth("crew-b-token"),
)


def _post(client: TestClient, lat: float, lon: float, code: str = "pothole") -> dict:
    data = {
        "api_key": client.app.state.settings.api_keys[0],
        "service_code": code,
        "lat": str(lat),
        "long": str(lon),
    }
    resp = client.post(f"{P}/requests.json", data=data)
    assert resp.status_code == 200, resp.text
    return resp.json()[0]


def _work_orders(client: TestClient, api_store: Store) -> list[int]:
    a = _post(client, 42.3505, -71.0810)
    b = _post(client, 42.35051, -71.08101)
    c = _post(client, 42.3450, -71.0700, code="streetlight_outage")
    wa = request_repo.get_request(api_store, a["service_request_id"]).work_order_id
    wb = request_repo.get_request(api_store, b["service_request_id"]).work_order_id
    wc = request_repo.get_request(api_store, c["service_request_id"]).work_order_id
    assert wa == wb and wa is not None and wc is not None
    return [wa, wc]


def test_staff_auth_and_roles(client: TestClient) -> None:
    assert client.get("/workorders").status_code == 401
    resp = client.get("/workorders", headers=auth("nope"))
    assert resp.status_code == 401 and "GEO311_STAFF_TOKENS" in resp.json()["detail"]
    assert resp.headers["www-authenticate"] == "Bearer"
    assert client.get("/workorders", headers=PLAN).status_code == 200
    resp = client.post("/workorders/1/status", json={"status": "scheduled"}, headers=PLAN)
    assert resp.status_code == 403 and "dispatcher" in resp.json()["detail"]
    assert client.get("/backlog", headers=CREW_A).status_code == 403


def test_work_orders_list_filter_geojson_and_get(client: TestClient, api_store: Store) -> None:
    wp, wl = _work_orders(client, api_store)
    rows = client.get("/workorders", headers=DISP).json()
    assert {r["work_order_id"] for r in rows} == {wp, wl}
    pothole = next(r for r in rows if r["work_order_id"] == wp)
    assert pothole["report_count"] == 2 and len(pothole["member_ids"]) == 2
    assert pothole["opened"][-6:] in ("-04:00", "-05:00")
    only = client.get("/workorders", params={"group": "streetlights"}, headers=DISP).json()
    assert [r["work_order_id"] for r in only] == [wl]
    gj = client.get("/workorders.geojson", params={"status": "open"}, headers=DISP).json()
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 2
    pt = next(f for f in gj["features"] if f["properties"]["work_order_id"] == wp)
    assert pt["geometry"]["type"] == "Point"
    lon, lat = pt["geometry"]["coordinates"]
    assert lat == pytest.approx(42.3505, abs=1e-3) and lon == pytest.approx(-71.081, abs=1e-3)
    assert client.get(f"/workorders/{wp}", headers=DISP).json()["work_order_id"] == wp
    resp = client.get("/workorders/999999", headers=DISP)
    assert resp.status_code == 404 and "999999" in resp.json()["detail"]
    resp = client.get("/workorders", params={"status": "bogus"}, headers=DISP)
    assert resp.status_code == 400 and resp.json()["field"] == "status"


def test_status_transitions_and_closing_reaches_citizens(
    client: TestClient, api_store: Store
) -> None:
    wp, _ = _work_orders(client, api_store)
    resp = client.post(f"/workorders/{wp}/status", json={"status": "scheduled"}, headers=DISP)
    assert resp.status_code == 200 and resp.json()["status"] == "scheduled"
    assert resp.json()["open311_status"] == "open"
    resp = client.post(f"/workorders/{wp}/status", json={"status": "scheduled"}, headers=DISP)
    assert resp.status_code == 409
    resp = client.post(f"/workorders/{wp}/status", json={"status": "paused"}, headers=DISP)
    assert resp.status_code == 400 and resp.json()["field"] == "status"
    note = "Pothole filled by crew A on Tuesday"
    resp = client.post(
        f"/workorders/{wp}/status",
        json={"status": "fixed", "note": note, "closure_category": "Case Resolved"},
        headers=DISP,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "fixed" and body["open311_status"] == "closed"
    for rid in body["member_ids"]:
        [item] = client.get(f"{P}/requests/{rid}.json").json()
        assert item["status"] == "closed" and item["status_notes"] == note
        root = ET.fromstring(client.get(f"{P}/requests/{rid}.xml").content)
        assert root.findtext("request/status") == "closed"
        assert root.findtext("request/status_notes") == note
    resp = client.post(f"/workorders/{wp}/status", json={"status": "open"}, headers=DISP)
    assert resp.status_code == 409 and "final" in resp.json()["detail"]


def _save_plan(api_store: Store, wp: int, wl: int) -> int:
    # The parts of a routing.dispatch.DayPlan.to_dict() document the plan and crew endpoints
    # read: steps with location_index, legs with street edges, locations, jobs, crews.
    origin = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)
    locations = [[42.3420, -71.0700], [42.3505, -71.0810], [42.3450, -71.0700]]

    def step(kind: str, t: float, job: str | None = None, ref: int | None = None) -> dict:
        return {
            "type": kind,
            "arrival_s": t,
            "departure_s": t + 60,
            "job_id": job,
            "ref": None if ref is None else str(ref),
            "location_index": 0 if job is None else (1 if job == "wo-p" else 2),
            "arrival": (origin + timedelta(seconds=t)).isoformat(),
            "departure": (origin + timedelta(seconds=t + 60)).isoformat(),
        }

    def leg(a: int, b: int, steps: list[dict], metres: float) -> dict:
        p, q = (locations[steps[k]["location_index"]] for k in (a, b))
        edge = {
            "name": "Ipswich Street",
            "highway": "residential",
            "length_m": metres,
            "travel_time_s": metres / 8.0,
            "bearing_start": 300.0,
            "bearing_end": 300.0,
        }
        return {
            "from_step": a,
            "to_step": b,
            "distance_m": metres,
            "duration_s": metres / 8.0,
            "coords": [p, q],
            "edges": [edge],
        }

    routes = []
    for crew, job, ref, t, end, travel, dist, service in (
        ("A", "wo-p", wp, 600, 2000, 900.0, 4000.0, 1200.0),
        ("B", "wo-l", wl, 700, 2400, 800.0, 3000.0, 2400.0),
    ):
        steps = [step("start", 0), step("job", t, job, ref), step("end", end)]
        routes.append(
            {
                "crew_id": crew,
                "steps": steps,
                "legs": [leg(0, 1, steps, dist / 2), leg(1, 2, steps, dist / 2)],
                "geometry": [locations[0], locations[steps[1]["location_index"]], locations[0]],
                "travel_s": travel,
                "distance_m": dist,
                "service_s": service,
            }
        )
    jobs = {
        "wo-p": {"work_order_id": wp, "service_name": "Pothole repair", "lat": 42.3505},
        "wo-l": {"work_order_id": wl, "service_name": "Streetlight outage", "lat": 42.3450},
    }
    doc = {
        "origin": origin.isoformat(),
        "routes": routes,
        "unassigned": [],
        "summary": {},
        "locations": locations,
        "jobs": jobs,
        "crews": [{"id": "A", "label": "Pothole crew A"}, {"id": "B", "label": "Light crew B"}],
        "timezone": "America/New_York",
    }
    return plan_repo.save_plan(api_store, doc, plan_date="2015-10-06")


def test_plans_and_crew_itineraries(client: TestClient, api_store: Store) -> None:
    wp, wl = _work_orders(client, api_store)
    pid = _save_plan(api_store, wp, wl)
    plan = client.get(f"/plans/{pid}", headers=DISP).json()
    assert plan["plan_id"] == pid and len(plan["routes"]) == 2
    assert client.get(f"/plans/{pid}", headers=CREW_A).status_code == 403
    gj = client.get(f"/plans/{pid}/geojson", headers=PLAN).json()
    assert {f["properties"]["crew_id"] for f in gj["features"]} == {"A", "B"}
    html = client.get(f"/plans/{pid}/map", headers=PLAN)
    assert html.status_code == 200 and "leaflet" in html.text.lower()
    assert "drawn by geo311" in html.text  # the city's streets are in the page: no tiles needed

    it = client.get(f"/plans/{pid}/crews/A", headers=CREW_A).json()
    assert [s["work_order_id"] for s in it["stops"]] == [wp]
    assert it["stops"][0]["lat"] == pytest.approx(42.3505, abs=1e-3)
    resp = client.get(f"/plans/{pid}/crews/B", headers=CREW_A)
    assert resp.status_code == 403 and "own itinerary" in resp.json()["detail"]
    assert client.get(f"/plans/{pid}/crews/B", headers=DISP).status_code == 200
    page = client.get(f"/plans/{pid}/crews/A.html", headers=CREW_A)
    assert page.headers["content-type"].startswith("text/html") and "crew A" in page.text
    gpx = client.get(f"/plans/{pid}/crews/A.gpx", headers=CREW_A)
    assert gpx.headers["content-type"].startswith("application/gpx+xml")
    assert b"<rtept" in gpx.content
    assert client.get(f"/plans/{pid}/crews/Z", headers=DISP).status_code == 404

    done_url = f"/plans/{pid}/crews/A/stops/wo-p/done"
    draft = client.post(done_url, json={"note": "Filled"}, headers=CREW_A)
    assert draft.status_code == 409 and "never published" in draft.json()["detail"]
    assert client.get(f"/workorders/{wp}", headers=DISP).json()["status"] == "open"
    auth_store.insert_publication(
        api_store, plan_id=pid, plan_date="2015-10-06", published_at=T0, published_by="dina"
    )
    resp = client.post(done_url, json={"note": "Filled"}, headers=CREW_A)
    assert resp.status_code == 200, resp.text
    assert resp.json()["stops"][0]["done"] is True
    assert resp.json()["stops"][0]["state"] == "done"
    wo = client.get(f"/workorders/{wp}", headers=DISP).json()
    assert wo["status"] == "fixed" and wo["status_notes"] == "Filled"
    again = client.post(done_url, json={}, headers=CREW_A)
    assert again.status_code == 409 and again.json()["state"] == "done"
    other = client.post(f"/plans/{pid}/crews/B/stops/wo-l/done", json={}, headers=CREW_A)
    assert other.status_code == 403
    assert client.get("/plans/424242", headers=DISP).status_code == 404


@pytest.mark.skipif(
    importlib.util.find_spec("routing.dispatch") is None,
    reason="routing.dispatch (plan_day / replan_day, the Boston planning pipeline) has not landed",
)
def test_post_plan_solves_and_stores(client: TestClient, api_store: Store) -> None:
    _work_orders(client, api_store)
    resp = client.post("/plans", json={"at": "2015-10-06T07:00", "time_limit_s": 1}, headers=DISP)
    assert resp.status_code == 200, resp.text
    pid = resp.json()["plan_id"]
    assert client.get(f"/plans/{pid}", headers=DISP).json()["plan_id"] == pid


def test_backlog_and_maps(
    client: TestClient, api_store: Store, seed: Callable[..., ServiceRequest]
) -> None:
    _work_orders(client, api_store)
    rows = client.get("/backlog", headers=PLAN).json()
    assert {r["service_group"] for r in rows} == {"potholes", "streetlights"}
    pot = next(r for r in rows if r["service_group"] == "potholes")
    assert pot["work_orders"] == 1 and pot["reports"] == 2 and pot["age"] == "0-2 days"
    later = client.get("/backlog", params={"at": "2099-01-01T00:00"}, headers=PLAN).json()
    assert all(r["age"] == "30+ days" and r["overdue"] == r["work_orders"] for r in later)
    resp = client.get("/maps/open-work", headers=PLAN)
    assert resp.status_code == 200 and "leaflet" in resp.text.lower()
    resp = client.get("/maps/plan", headers=PLAN)
    assert resp.status_code == 400 and resp.json()["field"] == "plan_id"
    seed("M1", days_ago=3, status="fixed")
    assert client.get("/maps/hotspots", headers=PLAN).status_code == 200
    metrics = client.get("/metrics", headers=PLAN)
    assert metrics.status_code == 200, metrics.text
    assert any(r.get("service") == "pothole" and r["requests"] >= 1 for r in metrics.json())
