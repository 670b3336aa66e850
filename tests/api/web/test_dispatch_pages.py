"""The dispatcher's morning (issue 23): console moment and search, progress, work-order page.

Store tests run on SQLite and on the local PostgreSQL (the ``store_url`` fixture).
"""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from api.cli import serve_banner
from api.web.plan_view import (
    ROUTE_COLOURS,
    map_data,
    plain_reason,
    route_colour,
    unassigned_groups,
)
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.settings import Settings
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from routing.engine.crews import load_crews
from tests.api.web.conftest import csrf_of
from tests.api.web.test_crew import _plan
from tests.routing._dispatch_data import AT, fill

SLA_COLOURS = {"#8b0000", "#6b4e00", "#0a5d2a"}


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255.0
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_route_colours_are_not_sla_colours_and_carry_white_numbers() -> None:
    assert not SLA_COLOURS & set(ROUTE_COLOURS)
    assert len(set(ROUTE_COLOURS)) == len(ROUTE_COLOURS)
    for colour in ROUTE_COLOURS:
        assert 1.05 / (_luminance(colour) + 0.05) >= 4.5, colour  # WCAG AA, white text
    assert route_colour(len(ROUTE_COLOURS)) == ROUTE_COLOURS[0]


def test_plan_map_numbers_stops_in_route_order_with_the_route_colour_and_late_marks() -> None:
    def job(k: str, lat: float) -> dict:
        return {"type": "job", "job_id": k, "lat": lat, "lon": -71.08}

    doc = {
        "routes": [
            {"crew_id": "A", "steps": [{"type": "start"}, job("j2", 42.1), job("j1", 42.2)]},
            {"crew_id": "B", "steps": [job("j3", 42.3), {"type": "break"}, job("j4", 42.4)]},
        ],
        "sla_breaches": ["j1"],
    }
    routes = map_data(doc)["routes"]
    assert [[(s["order"], s["job_id"], s["late"]) for s in r["stops"]] for r in routes] == [
        [(1, "j2", False), (2, "j1", True)],
        [(1, "j3", False), (2, "j4", False)],
    ]
    assert [r["colour"] for r in routes] == list(ROUTE_COLOURS[:2])


def test_unassigned_grouped_by_reason_shortfalls_first_without_file_paths() -> None:
    outside = (
        "work order 3 (1 Far Away Rd) is 4,665 m from the nearest street of the routing graph "
        "(snap limit 150 m): outside the mapped street network /srv/geo311/data/osm/a.osm.bz2"
    )
    full = "every crew with skill 'electrical' is full (streetlight-1 12/12); demand 1"
    rows = [
        {"job_id": "wo-3", "code": "outside_street_graph", "reason": outside, "breach": True,
         "routable": False, "label": "x"},
        {"job_id": "wo-4", "code": "capacity_full", "reason": full, "breach": False,
         "routable": True, "label": "y"},
        {"job_id": "wo-5", "code": "capacity_full", "reason": full, "breach": True,
         "routable": True, "label": "z"},
    ]  # fmt: skip
    groups = unassigned_groups(rows)
    assert [(g["code"], g["count"], g["breaches"]) for g in groups] == [
        ("capacity_full", 2, 1),
        ("outside_street_graph", 1, 1),
    ]
    assert groups[0]["routable"] and not groups[1]["routable"]
    assert groups[1]["rows"][0]["reason"].endswith("outside the mapped street network")
    assert "/srv" not in str(groups) and plain_reason(full) == full


def test_console_opens_at_the_data_latest_shift_start_and_finds_by_id_or_address(
    browser, web_store: Store, catalogue: Catalogue, store_url: str
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    page = client.get("/dispatch").text
    newest = AT - timedelta(days=1)  # the newest report of the sample
    start = min(c.shift_start for c in load_crews(Settings().crews_file).crews)
    assert f'id="at" name="at" value="{newest:%Y-%m-%d}T{start:%H:%M}"' in page
    assert f"Data as of <strong>{newest:%Y-%m-%d %H:%M}</strong>" in page
    assert page.index('id="plan"') < page.index('id="work-table"')  # actions at the top
    assert 'id="plan-district"' in page  # a dispatcher without a district picks one

    rows = re.findall(r'href="/dispatch/workorders/(\d+)">wo-\d+</a>', page)
    assert rows, "the table's rows link to the work-order pages"
    one = client.get(f"/dispatch?at=2015-10-06T07:00&q=wo-{rows[0]}").text
    assert one.count("<tr><td data-sort=") == 1 and f">wo-{rows[0]}<" in one
    street = client.get("/dispatch?at=2015-10-06T07:00&q=boylston").text
    assert street.count("<tr><td data-sort=") == 1 and "500 Boylston St" in street
    assert "1 of 7 open work orders" in street  # the counts follow the search
    none = client.get("/dispatch?at=2015-10-06T07:00&q=nowhere+street").text
    assert "No open work matches these filters." in none


def test_progress_json_shows_the_crews_done_and_cant_do_with_the_note(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, _, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    token = csrf_of(crew.get("/crew").text)
    body = {"plan_id": plan_id, "crew_id": "A", "job_id": "wo-p", "key": "k-cant-1"}
    answer = crew.post(
        "/crew/actions",
        json={**body, "action": "cant", "reason": "no_access", "note": "gate locked"},
        headers={"X-CSRF-Token": token},
    )
    assert answer.status_code == 200, answer.text
    dina = browser("dina")
    got = dina.get("/dispatch/progress.json?day=2015-10-06")
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    stops = {s["job_id"]: s for s in got.json()["stops"]}
    assert stops["wo-p"]["state"] == "cant_do" and stops["wo-p"]["note"] == "gate locked"
    assert stops["wo-p"]["reason"] and stops["wo-l"]["state"] == "planned"
    assert got.json()["counts"] == {"cant_do": 1, "planned": 1}
    assert dina.get("/dispatch/progress.json?day=2015-10-07").json()["stops"] == []
    assert crew.get("/dispatch/progress.json?day=2015-10-06").status_code == 403
    plan = dina.get(f"/dispatch/plans/{plan_id}").text
    assert "gate locked" in plan  # the crew's note reaches the dispatcher's plan page


def test_work_order_page_shows_reports_and_closes_with_a_note_audited(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    wo = next(
        w for w in work_order_repo.query_work_orders(web_store) if w.address == "500 Boylston St"
    )
    dina = browser("dina")
    page = dina.get(f"/dispatch/workorders/{wo.work_order_id}")
    assert page.status_code == 200
    assert "Report r-boylston" in page.text and "Timeline" in page.text
    assert f"/dispatch/workorders/{wo.work_order_id}/close" in page.text
    assert browser("crewa").get(f"/dispatch/workorders/{wo.work_order_id}").status_code == 403
    assert dina.get("/dispatch/workorders/999999").status_code == 404

    url = f"/dispatch/workorders/{wo.work_order_id}/close"
    no_csrf = dina.post(url, data={"status": "fixed", "note": "Lamp replaced"})
    assert no_csrf.status_code == 403
    token = csrf_of(page.text)
    empty = dina.post(url, data={"csrf_token": token, "status": "fixed", "note": "  "})
    assert (
        empty.status_code == 400
        and work_order_repo.get_work_order(web_store, wo.work_order_id).status == "open"
    )
    done = dina.post(
        url,
        data={"csrf_token": token, "status": "fixed", "note": "Lamp replaced"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    closed = work_order_repo.get_work_order(web_store, wo.work_order_id)
    assert closed.status == "fixed" and closed.status_notes == "Lamp replaced"
    row = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="workorder.status"))[0]
    assert row["actor"] == "dina" and row["object"] == f"workorder:{wo.work_order_id}"
    after = dina.get(f"/dispatch/workorders/{wo.work_order_id}").text
    assert "Lamp replaced" in after and "workorder.status" in after and "/close" not in after
    again = dina.post(url, data={"csrf_token": token, "status": "fixed", "note": "twice"})
    assert again.status_code == 409


def test_root_leads_to_sign_in_and_discovery_states_the_list_window(browser, web_app) -> None:
    client = TestClient(web_app)
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 302 and root.headers["location"] == "/login"
    signed = browser("dina")
    assert signed.get("/").url.path == "/dispatch"  # a signed-in user goes on to the role's page
    notes = client.get("/open311/v2/discovery.json").json()["notes"]
    assert "last 90 days" in notes and "start_date" in notes
    assert "<notes>" in client.get("/open311/v2/discovery.xml").text


def test_serve_banner_names_the_address_and_never_a_password(monkeypatch) -> None:
    from geo311 import settings as settings_module

    monkeypatch.setenv("GEO311_DATABASE_URL", "postgresql+psycopg://me:secret@db:5432/city")
    settings_module.get_settings.cache_clear()
    try:
        text = serve_banner("0.0.0.0", 8000)
    finally:
        settings_module.get_settings.cache_clear()
    assert "http://127.0.0.1:8000/" in text and "secret" not in text and "db:5432/city" in text


def test_work_order_page_offers_assigning_it_where_a_plan_left_it_unassigned(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    wo = next(
        w for w in work_order_repo.query_work_orders(web_store) if w.address == "500 Boylston St"
    )
    job = f"wo-{wo.work_order_id}"
    doc = {
        "plan_date": "2015-10-06",
        "timezone": "America/New_York",
        "routes": [],
        "crews": [{"id": "A", "label": "Crew A"}],
        "jobs": {job: {"work_order_id": wo.work_order_id, "location_index": 3}},
        "unassigned": [{"job_id": job, "code": "capacity_full", "reason": "full"}],
    }
    plan_id = plan_repo.save_plan(web_store, doc, plan_date="2015-10-06")
    dina = browser("dina")
    page = dina.get(f"/dispatch/workorders/{wo.work_order_id}").text
    form = page[page.index(f'action="/dispatch/plans/{plan_id}/edit"') :]
    assert f'name="job_id" value="{job}"' in form[:600] and "Crew A" in form[:1200]
    auth_store.insert_publication(
        web_store, plan_id=plan_id, plan_date="2015-10-06",
        published_at=AT, published_by="dina",
    )  # fmt: skip
    published = dina.get(f"/dispatch/workorders/{wo.work_order_id}").text
    assert f"/dispatch/plans/{plan_id}/edit" not in published  # a published plan is not edited
