"""Bearer tokens carry who and what: audited with the user or token id, scoped by crew and district."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.principal import Principal, parse_static_role
from geo311.city.catalogue import Catalogue
from geo311.city.districts import load_districts
from geo311.db.store import Store
from geo311.errors import ConfigurationError
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.settings import Settings
from geo311.staff import store as auth_store
from geo311.staff import users
from geo311.workorders import repo as work_order_repo
from tests.api.conftest import TOKENS, auth, make_settings
from tests.routing._dispatch_data import fill

BACK_BAY = "Back Bay / South End"
SCOPED = "scoped-token"  # a static token of a Back Bay dispatcher


def token_actor(token: str) -> str:
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


@pytest.fixture()
def app_client(api_store: Store, store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    tokens = {**TOKENS, SCOPED: f"dispatcher@{BACK_BAY}"}
    settings = make_settings(store_url, staff_tokens=tokens, media_dir=tmp_path / "media")
    with TestClient(create_app(settings, store=api_store), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture()
def places(api_store: Store, catalogue: Catalogue) -> dict[str, list[int]]:
    """Seven work orders: ``inside`` Back Bay / South End, ``outside`` every district."""
    fill(api_store, catalogue)
    orders = work_order_repo.query_work_orders(api_store)
    names = load_districts(Settings().districts_file).assign(
        [o.lat for o in orders], [o.lon for o in orders]
    )
    inside = [o.work_order_id for o, n in zip(orders, names, strict=True) if n == BACK_BAY]
    outside = [o.work_order_id for o, n in zip(orders, names, strict=True) if n != BACK_BAY]
    assert len(inside) >= 3 and outside
    return {"inside": inside, "outside": outside}


def _plan(store: Store, stops: dict[str, int], *, district: str | None, publish: bool) -> int:
    """Store a plan with one stop per crew (``crew -> work order``), published or not."""
    routes = [
        {
            "crew_id": crew,
            "steps": [
                {"type": "start"},
                {
                    "type": "job",
                    "job_id": f"j-{crew}",
                    "ref": str(wo),
                    "arrival": "2015-10-06T09:00:00-04:00",
                },
                {"type": "end"},
            ],
        }  # fmt: skip
        for crew, wo in stops.items()
    ]
    doc: dict[str, Any] = {"plan_date": "2015-10-06", "routes": routes, "unassigned": []}
    if district:
        doc["district"] = district
    plan_id = plan_repo.save_plan(store, doc, plan_date="2015-10-06")
    if publish:
        auth_store.insert_publication(
            store, plan_id=plan_id, plan_date="2015-10-06", published_at=datetime.now(UTC),
            published_by="test",
        )  # fmt: skip
    return plan_id


def _ids(response: Any) -> set[int]:
    assert response.status_code == 200, response.text
    return {row["work_order_id"] for row in response.json()}


def test_bearer_changes_are_audited_with_the_user_or_the_token_id(
    app_client: TestClient, api_store: Store, places: dict[str, list[int]]
) -> None:
    users.create_user(api_store, "dina", role="dispatcher", password="a long password 1")
    dina = auth(users.issue_token(api_store, "dina"))
    first, second, third = places["inside"][:3]
    moved = app_client.post(
        f"/workorders/{first}/status", json={"status": "scheduled"}, headers=dina
    )
    assert moved.status_code == 200, moved.text
    static = app_client.post(
        f"/workorders/{second}/status", json={"status": "in_progress", "note": "on it"},
        headers=auth("disp-token"),
    )  # fmt: skip
    assert static.status_code == 200, static.text
    rows = auth_store.audit_rows(api_store, auth_store.AuditFilter(action="workorder.status"))
    assert [(r["actor"], r["object"]) for r in rows] == [
        (token_actor("disp-token"), f"workorder:{second}"),
        ("dina", f"workorder:{first}"),
    ]
    assert rows[0]["before"] == {"status": "open"}
    assert rows[0]["after"]["status"] == "in_progress" and rows[0]["after"]["note"] == "on it"
    assert "disp-token" not in str(rows)  # the audit log names a static token by its id only

    plan_id = _plan(api_store, {"A": third}, district=None, publish=False)
    published = app_client.post(f"/plans/{plan_id}/publish", headers=dina)
    assert published.status_code == 200, published.text
    (row,) = auth_store.audit_rows(api_store, auth_store.AuditFilter(action="plan.publish"))
    assert row["actor"] == "dina" and row["object"] == f"plan:{plan_id}"
    assert auth_store.publication(api_store, plan_id)["published_by"] == "dina"

    done = app_client.post(
        f"/plans/{plan_id}/crews/A/stops/j-A/done", json={"note": "Filled"},
        headers=auth("crew-a-token"),
    )  # fmt: skip
    assert done.status_code == 200, done.text
    (row,) = auth_store.audit_rows(api_store, auth_store.AuditFilter(action="stop.done"))
    assert row["actor"] == token_actor("crew-a-token")
    assert row["object"] == f"plan:{plan_id}:A:j-A" and row["after"]["note"] == "Filled"


def test_a_status_change_and_its_audit_row_commit_together(
    app_client: TestClient,
    api_store: Store,
    places: dict[str, list[int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wo = places["inside"][0]

    def fail(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the audit insert failed")

    monkeypatch.setattr(auth_store, "write_audit", fail)
    closing = {"status": "closed", "note": "done", "closure_category": "Case Resolved"}
    for change in ({"status": "scheduled"}, closing):
        resp = app_client.post(f"/workorders/{wo}/status", json=change, headers=auth("disp-token"))
        assert resp.status_code == 500
        assert (
            work_order_repo.get_work_order(api_store, wo).status == "open"
        )  # not changed without its audit row
        members = work_order_repo.get_work_order(api_store, wo).member_ids
        assert {request_repo.get_request(api_store, m).status for m in members} == {"open"}


def test_a_crew_token_reads_only_its_published_stops(
    app_client: TestClient, api_store: Store, places: dict[str, list[int]]
) -> None:
    a, b, c = places["inside"][:3]
    crew_a, crew_b = auth("crew-a-token"), auth("crew-b-token")
    assert _ids(app_client.get("/workorders", headers=crew_a)) == set()  # nothing published
    _plan(api_store, {"A": a, "B": b}, district=None, publish=False)
    assert _ids(app_client.get("/workorders", headers=crew_a)) == set()  # a draft is not work
    _plan(api_store, {"A": a, "B": b}, district=None, publish=True)
    assert _ids(app_client.get("/workorders", headers=crew_a)) == {a}
    assert _ids(app_client.get("/workorders", headers=crew_b)) == {b}
    geo = app_client.get("/workorders.geojson", headers=crew_a).json()
    assert [f["properties"]["work_order_id"] for f in geo["features"]] == [a]
    assert app_client.get(f"/workorders/{a}", headers=crew_a).status_code == 200
    refused = app_client.get(f"/workorders/{b}", headers=crew_a)
    assert refused.status_code == 403 and "crew 'A'" in refused.json()["detail"]
    _plan(api_store, {"A": c}, district=None, publish=True)  # the newest published plan counts
    assert _ids(app_client.get("/workorders", headers=crew_a)) == {c}
    assert _ids(app_client.get("/workorders", headers=crew_b)) == {b}
    everything = set(places["inside"]) | set(places["outside"])
    assert _ids(app_client.get("/workorders", headers=auth("plan-token"))) == everything
    assert _ids(app_client.get("/workorders", headers=auth("disp-token"))) == everything


def test_a_district_token_lists_and_changes_only_its_district(
    app_client: TestClient, api_store: Store, places: dict[str, list[int]]
) -> None:
    scoped = auth(SCOPED)
    assert _ids(app_client.get("/workorders", headers=scoped)) == set(places["inside"])
    assert _ids(app_client.get("/workorders?limit=2", headers=scoped)) == set(places["inside"][:2])
    far = places["outside"][0]
    assert app_client.get(f"/workorders/{far}", headers=scoped).status_code == 403
    refused = app_client.post(
        f"/workorders/{far}/status", json={"status": "scheduled"}, headers=scoped
    )
    assert refused.status_code == 403
    assert (
        "outside every district" in refused.json()["detail"]
        and BACK_BAY in refused.json()["detail"]
    )
    assert work_order_repo.get_work_order(api_store, far).status == "open"
    near = places["inside"][0]
    moved = app_client.post(
        f"/workorders/{near}/status", json={"status": "scheduled"}, headers=scoped
    )
    assert moved.status_code == 200, moved.text

    city = _plan(api_store, {"A": near}, district=None, publish=False)
    refused = app_client.post(f"/plans/{city}/publish", headers=scoped)
    assert refused.status_code == 403 and "every district" in refused.json()["detail"]
    assert auth_store.publication(api_store, city) is None
    ours = _plan(api_store, {"A": near}, district=BACK_BAY, publish=False)
    assert app_client.post(f"/plans/{ours}/publish", headers=scoped).status_code == 200
    asked = app_client.post(
        "/plans", json={"at": "2015-10-06T07:00", "district": "Charlestown"}, headers=scoped
    )
    assert asked.status_code == 403 and "Charlestown" in asked.json()["detail"]


def test_a_user_token_carries_the_users_district(
    app_client: TestClient, api_store: Store, places: dict[str, list[int]]
) -> None:
    users.create_user(
        api_store, "odile", role="dispatcher", password="a long password 1", district="Elsewhere"
    )
    odile = auth(users.issue_token(api_store, "odile"))
    near = places["inside"][0]
    refused = app_client.post(
        f"/workorders/{near}/status", json={"status": "scheduled"}, headers=odile
    )
    assert refused.status_code == 403 and "'Elsewhere'" in refused.json()["detail"]
    plan_id = _plan(api_store, {"A": near}, district=BACK_BAY, publish=True)
    for url, body in (
        (f"/plans/{plan_id}/replan", {"at": "2015-10-06T10:00"}),
        (f"/plans/{plan_id}/crews/A/stops/j-A/done", {}),
    ):
        resp = app_client.post(url, json=body, headers=odile)
        assert resp.status_code == 403 and BACK_BAY in resp.json()["detail"], url
    assert auth_store.audit_rows(api_store) == []  # nothing changed, nothing audited


def test_static_token_values_are_read_and_checked_at_start(store_url: str) -> None:
    assert parse_static_role("dispatcher") == ("dispatcher", None, None)
    assert parse_static_role("crew:pothole-1") == ("crew", "pothole-1", None)
    assert parse_static_role(f"dispatcher@{BACK_BAY}") == ("dispatcher", None, BACK_BAY)
    who = Principal.of_static("s3cret", "dispatcher@North End")
    assert who.actor == token_actor("s3cret") and who.district == "North End" and who.scoped
    for bad in ("planner@North End", "crew:A@North End", "boss", "dispatcher@"):
        settings = make_settings(store_url, staff_tokens={"t": bad})
        with pytest.raises(ConfigurationError, match="staff_tokens") as caught:
            create_app(settings)
        assert "dispatcher@<district name>" in str(caught.value)
    narnia = make_settings(store_url, staff_tokens={"t": "dispatcher@Narnia"})
    with pytest.raises(ConfigurationError, match="staff_tokens") as caught:
        create_app(narnia)  # a district the city does not have: the known ones are named
    assert "'Narnia'" in str(caught.value) and BACK_BAY in str(caught.value)


@pytest.mark.slow
def test_post_plan_with_a_district_token_plans_its_district(
    app_client: TestClient, api_store: Store, places: dict[str, list[int]]
) -> None:
    resp = app_client.post(
        "/plans", json={"at": "2015-10-06T07:00", "time_limit_s": 1}, headers=auth(SCOPED)
    )
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert doc["district"] == BACK_BAY
    jobs = {j["work_order_id"] for j in doc["jobs"].values()}
    assert jobs and jobs <= set(places["inside"])
    (row,) = auth_store.audit_rows(api_store, auth_store.AuditFilter(action="plan.create"))
    assert row["actor"] == token_actor(SCOPED) and row["after"]["district"] == BACK_BAY
    again = app_client.post(
        f"/plans/{doc['plan_id']}/replan", json={"at": "2015-10-06T10:00", "time_limit_s": 1},
        headers=auth(SCOPED),
    )  # fmt: skip
    assert again.status_code == 200, again.text
    assert again.json()["district"] == BACK_BAY  # the re-plan stays the district's
    (row,) = auth_store.audit_rows(api_store, auth_store.AuditFilter(action="plan.replan"))
    assert row["actor"] == token_actor(SCOPED)
