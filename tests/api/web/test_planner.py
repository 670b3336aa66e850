"""The planner dashboard: metrics tables, CSV download, maps, the what-if form."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.workorders.grouping import rebuild_work_orders
from tests.api.conftest import seed_request
from tests.api.web.conftest import csrf_of


def test_metrics_tables_csv_and_maps(browser, web_store: Store, catalogue: Catalogue) -> None:
    client = browser("pete")
    assert "No requests imported yet." in client.get("/planner").text
    seed_request(web_store, catalogue, "a", code="pothole")
    seed_request(web_store, catalogue, "b", code="pothole", days_ago=3)
    seed_request(web_store, catalogue, "c", code="streetlight_outage")
    page = client.get("/planner")
    assert page.status_code == 200
    assert "Metrics by service" in page.text and "Metrics by neighbourhood" in page.text
    # the services' names, not their codes; the empty neighbourhood has a name
    assert "<td>Pothole repair</td>" in page.text and "<td>Street light outage</td>" in page.text
    assert "<td>pothole</td>" not in page.text
    assert "<td>outside named neighbourhoods</td>" in page.text
    response = client.get("/planner/metrics.csv?by=service")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    pothole = next(r for r in rows if r["service"] == "pothole")
    assert pothole["service_name"] == "Pothole repair"
    assert (pothole["requests"], pothole["open"], pothole["closed"]) == ("2", "2", "0")
    assert next(r for r in rows if r["service"] == "streetlight_outage")["requests"] == "1"
    assert client.get("/planner/metrics.csv?by=nothing").status_code == 400
    open_map = client.get("/planner/maps/open-work")
    assert open_map.status_code == 200 and "leaflet" in open_map.text.lower()
    assert browser("dina").get("/planner").status_code == 200  # dispatchers read metrics too


def test_whatif_form_keeps_what_was_typed_on_error(browser) -> None:
    client = browser("pete")
    token = csrf_of(client.get("/planner").text)
    response = client.post(
        "/planner/whatif",
        data={
            "csrf_token": token,
            "start": "2015-11-30",
            "end": "2015-09-01",
            "crews_sweep": "2,3",
        },
    )
    assert response.status_code == 400
    assert "before from" in response.text
    assert 'value="2015-11-30"' in response.text and 'value="2,3"' in response.text
    assert client.post("/planner/whatif", data={"start": "2015-09-01"}).status_code == 403


def test_charts_beside_the_tables_and_the_backlog_by_age(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    seed_request(web_store, catalogue, "a", code="pothole", days_ago=1)
    seed_request(web_store, catalogue, "b", code="pothole", days_ago=10, lat=42.36)
    seed_request(web_store, catalogue, "c", code="streetlight_outage", days_ago=3, lon=-71.06)
    seed_request(web_store, catalogue, "d", code="pothole", days_ago=20, lat=42.34)
    request_repo.update_request_fields(
        web_store,
        "d",
        status="fixed",
        closed_datetime=datetime.now(UTC) - timedelta(days=16),
        closure_category="Case Resolved",
    )
    rebuild_work_orders(web_store, catalogue)
    client = browser("pete")
    page = client.get("/planner")
    assert page.status_code == 200
    html = page.text
    # the charts are inline SVG with an accessible name and every value read out
    for chart_id, title in (
        ("chart-days", "Days to close by service"),
        ("chart-sla", "Share closed within the SLA by service"),
        ("chart-backlog", "Open work orders by age at"),
    ):
        assert f'<svg role="img" aria-labelledby="{chart_id}-title {chart_id}-desc"' in html
        assert f'<title id="{chart_id}-title">{title}' in html
    desc = re.search(r'<desc id="chart-days-desc">([^<]*)</desc>', html)
    assert desc and "Pothole repair: median 4.0 d, p90 4.0 d" in desc.group(1)
    assert "Street light outage: median no value" in desc.group(1)  # nothing closed yet
    sla = re.search(r'<desc id="chart-sla-desc">([^<]*)</desc>', html)
    assert sla and "Pothole repair: within SLA" in sla.group(1)
    backlog = re.search(r'<desc id="chart-backlog-desc">([^<]*)</desc>', html)
    assert backlog and "Potholes: 0-2 days 1, 2-7 days 0, 7-30 days 1, 30+ days 0" in backlog.group(
        1
    )
    assert "Streetlights: 0-2 days 0, 2-7 days 1" in backlog.group(1)
    assert "<figcaption>" in html and "http" not in re.sub(r'xmlns="[^"]*"', "", _svgs(html))

    response = client.get("/planner/backlog.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = {r["service_group"]: r for r in csv.DictReader(io.StringIO(response.text))}
    assert rows["potholes"]["0-2 days"] == "1" and rows["potholes"]["7-30 days"] == "1"
    assert rows["potholes"]["total"] == "2" and rows["streetlights"]["2-7 days"] == "1"
    # back then (before any report) nothing was open; a bad time is named
    before = client.get("/planner/backlog.csv", params={"at": "2001-01-01T07:00"})
    assert list(csv.DictReader(io.StringIO(before.text))) == []
    assert "No open work orders at this time." in client.get("/planner?at=2001-01-01T07:00").text
    bad = client.get("/planner", params={"at": "yesterday"})
    assert bad.status_code == 400 and "at: &#39;yesterday&#39; is not ISO 8601" in bad.text


def _svgs(html: str) -> str:
    return "".join(re.findall(r"<svg.*?</svg>", html, flags=re.S))
