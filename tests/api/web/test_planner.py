"""The planner dashboard: metrics tables, CSV download, maps, the what-if form."""

from __future__ import annotations

import csv
import io

from geo311.catalogue import Catalogue
from geo311.store import Store
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
    assert "Metrics by service" in page.text and "Metrics by neighborhood" in page.text
    assert "<td>pothole</td>" in page.text and "<td>streetlight_outage</td>" in page.text
    response = client.get("/planner/metrics.csv?by=service")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    pothole = next(r for r in rows if r["service"] == "pothole")
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
