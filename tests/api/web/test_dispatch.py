"""The dispatcher console: open work, crews on duty, plan the day, the plan, publishing."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from markupsafe import escape

from api.web.plan_view import plain_reason
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.plans.publishing import publish
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from tests.api.web.conftest import csrf_of
from tests.routing._dispatch_data import fill

AT = "2015-10-06T07:00"
REPO = Path(__file__).resolve().parents[3]


def test_open_work_table_filters_and_counts(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    page = client.get(f"/dispatch?at={AT}")
    assert page.status_code == 200
    assert "7 open work orders" in page.text
    assert page.text.count("<tr><td data-sort=") == 7
    assert "1 Far Away Rd" in page.text and "500 Boylston St" in page.text
    points = json.loads(re.search(r'id="map-data">(.*?)</script>', page.text, re.S).group(1))
    assert len(points) == 7 and all(42.2 < p[0] < 42.4 for p in points)
    overdue = int(re.search(r"(\d+) overdue", page.text).group(1))
    assert overdue >= 1  # the 20-day-old streetlight outage is past its SLA

    potholes = client.get(f"/dispatch?at={AT}&service=pothole")
    assert potholes.text.count("<tr><td data-sort=") == 2
    assert "7 open work orders" in potholes.text  # the header counts all open work
    late = client.get(f"/dispatch?at={AT}&sla=overdue")
    assert late.text.count("<tr><td data-sort=") == overdue
    import api.web.dispatch as page_module

    page_module.TABLE_ROWS, keep = 3, page_module.TABLE_ROWS
    try:
        urgent = client.get(f"/dispatch?at={AT}")
        assert urgent.text.count("<tr><td data-sort=") == 3
        assert "The 3 most urgent of 7 matching" in urgent.text and "rows=all" in urgent.text
        dues = [int(x) for x in re.findall(r'<td data-sort="(\d{9,})">', urgent.text)]
        assert dues == sorted(dues)  # most urgent first
        everything = client.get(f"/dispatch?at={AT}&rows=all")
        assert everything.text.count("<tr><td data-sort=") == 7
    finally:
        page_module.TABLE_ROWS = keep
    bad = client.get("/dispatch?at=yesterday")
    assert bad.status_code == 400 and "at: &#39;yesterday&#39; is not ISO 8601" in bad.text


def _sla_cells(html: str) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """The console's SLA counts and each row's (SLA due, state) cells, as a dispatcher reads them."""
    counts = tuple(re.findall(r'<span class="badge (?:overdue|due|ok)">(\d+) ', html))
    rows = re.findall(
        r"<td[^>]*>(\d{4}-\d\d-\d\d \d\d:\d\d)</td>.*?"
        r'<span class="badge (overdue|due|ok)">',
        html,
        re.S,
    )
    return counts, rows


def test_publishing_a_plan_leaves_the_sla_counts_and_due_times_of_the_console(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    before = _sla_cells(client.get(f"/dispatch?at={AT}&rows=all").text)
    assert before[0][0] != "0" and len(before[1]) == 7  # the 20-day-old light is overdue
    orders = work_order_repo.query_work_orders(web_store)
    steps = [
        {"type": "job", "ref": str(wo.work_order_id), "arrival": f"{AT}:00-04:00"} for wo in orders
    ]
    doc = {"plan_date": AT[:10], "routes": [{"crew_id": "A", "steps": steps}]}
    plan_id = plan_repo.save_plan(web_store, doc, plan_date=AT[:10])
    assert publish(web_store, plan_id, by="dina", tz=ZoneInfo("America/New_York")).scheduled
    # Every report now expects a crew at 07:00 that morning; none is less overdue for it.
    assert _sla_cells(client.get(f"/dispatch?at={AT}&rows=all").text) == before


def test_crew_off_and_shift_change_for_one_day(browser, web_store: Store) -> None:
    client = browser("dina")
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    form = {"csrf_token": token, "day": "2015-10-06", "shift_start": "08:00", "shift_end": "12:00"}
    response = client.post(
        "/dispatch/crews/pothole-1", data=form, headers={"HX-Request": "true"}
    )  # on_duty unchecked: off that day
    assert response.status_code == 200
    assert "Saved for 2015-10-06" in response.text and "<form" in response.text
    assert 'value="08:00"' in response.text
    rows = auth_store.crew_day_rows(web_store, "2015-10-06")
    assert rows["pothole-1"]["on_duty"] is False and rows["pothole-1"]["shift_end"] == "12:00"
    assert auth_store.crew_day_rows(web_store, "2015-10-07") == {}
    row = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="crew.day"))[0]
    assert row["actor"] == "dina" and row["object"] == "crew:pothole-1:2015-10-06"
    assert row["before"]["on_duty"] is True and row["after"]["on_duty"] is False

    bad = client.post(
        "/dispatch/crews/pothole-1",
        data={**form, "shift_end": "07:00", "on_duty": "on"},
        headers={"HX-Request": "true"},
    )
    assert "shift_end: 07:00 is not after shift_start 08:00" in bad.text
    assert 'value="07:00"' in bad.text  # what was typed stays
    assert auth_store.crew_day_rows(web_store, "2015-10-06")["pothole-1"]["on_duty"] is False
    no_csrf = client.post("/dispatch/crews/pothole-1", data={**form, "csrf_token": ""})
    assert no_csrf.status_code == 403


def test_plan_the_day_progress_plan_and_publish(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    client = browser("dina")
    token = csrf_of(client.get(f"/dispatch?at={AT}").text)
    client.post(
        "/dispatch/crews/streetlight-1",
        data={
            "csrf_token": token,
            "day": "2015-10-06",
            "shift_start": "07:00",
            "shift_end": "15:30",
        },
    )
    client.post(  # pothole-1 works a short morning that day
        "/dispatch/crews/pothole-1",
        data={
            "csrf_token": token,
            "day": "2015-10-06",
            "on_duty": "on",
            "shift_start": "08:00",
            "shift_end": "10:00",
        },
    )
    response = client.post(
        "/dispatch/plan",
        data={"csrf_token": token, "at": AT, "time_limit_s": "1"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    progress_url = response.headers["location"]
    assert progress_url.startswith("/dispatch/plan-jobs/")
    deadline = time.monotonic() + 120
    while True:
        status = client.get(progress_url + ".json").json()
        if status["state"] != "running" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status["state"] == "done", status
    page = client.get(progress_url)  # follows to the plan
    assert page.url.path == f"/dispatch/plans/{status['plan_id']}"
    plan = plan_repo.get_plan(web_store, status["plan_id"])
    crews = [r["crew_id"] for r in plan["routes"]]
    assert "streetlight-1" not in crews and "pothole-1" in crews  # the crew off that day
    short = next(c for c in plan["crews"] if c["id"] == "pothole-1")
    assert short["shift_start"].startswith("2015-10-06T08:00")
    assert short["shift_end"].startswith("2015-10-06T10:00")
    assert short["breaks"] == []  # the 11:00-13:00 lunch falls outside the short shift
    usual = next(c for c in plan["crews"] if c["id"] == "pothole-2")
    assert usual["shift_end"].startswith("2015-10-06T15:30") and usual["breaks"]
    for route in plan["routes"]:
        if route["crew_id"] == "pothole-1":
            arrivals = [s["arrival"][11:16] for s in route["steps"] if s.get("arrival")]
            assert arrivals and min(arrivals) >= "08:00" and max(arrivals) <= "10:00"
    assert "SLA breaches forecast" in page.text and "Unassigned" in page.text
    for reason in plan["unassigned"]:  # shown without the server's file paths
        assert str(escape(plain_reason(reason["reason"]))) in page.text
    assert str(REPO) not in page.text and ".osm.bz2" not in page.text
    assert re.search(r"<strong>\d\d:\d\d</strong>", page.text)  # ETAs
    # distances in the city's units (Boston: feet / miles), never km
    assert re.search(r"min driving · [\d.]+ (ft|mi)", page.text) and " km" not in page.text
    create = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.create"))[0]
    assert create["actor"] == "dina" and create["object"] == f"plan:{status['plan_id']}"

    publish = client.post(
        f"/dispatch/plans/{status['plan_id']}/publish", data={"csrf_token": token}
    )
    assert publish.status_code == 200 and "the crews see these routes" in publish.text
    assert auth_store.publication(web_store, status["plan_id"])["published_by"] == "dina"
    again = client.post(f"/dispatch/plans/{status['plan_id']}/publish", data={"csrf_token": token})
    assert again.status_code == 409
    assert auth_store.audit_rows(web_store, auth_store.AuditFilter(action="plan.publish"))[0][
        "after"
    ]["published"]
