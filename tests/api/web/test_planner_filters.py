"""The planner dashboard's filters, trend by week, maps' data and the what-if's progress."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.workorders.grouping import rebuild_work_orders
from tests.api.conftest import seed_request


def _seed(store: Store, catalogue: Catalogue) -> None:
    seed_request(store, catalogue, "p1", code="pothole", days_ago=2)
    seed_request(store, catalogue, "p2", code="pothole", days_ago=9, lat=42.36)
    seed_request(store, catalogue, "s1", code="streetlight_outage", days_ago=3, lon=-71.06)
    seed_request(store, catalogue, "p3", code="pothole", days_ago=20, lat=42.34)
    request_repo.update_request_fields(store, "p1", neighborhood="Back Bay")
    request_repo.update_request_fields(store, "s1", neighborhood="Back Bay")
    request_repo.update_request_fields(
        store,
        "p3",
        status="fixed",
        closed_datetime=datetime.now(UTC) - timedelta(days=16),
        closure_category="Case Resolved",
    )
    rebuild_work_orders(store, catalogue)


def _table(html: str, table_id: str) -> list[list[str]]:
    section = html.split(f'<h2 id="{table_id}">', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.findall(r"<td>([^<]*)</td>", row) for row in body.split("</tr>") if "<td" in row]


def _json(html: str, element_id: str) -> object:
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html)
    assert found, element_id
    return json.loads(found.group(1))


def test_filters_apply_to_every_table_chart_and_map(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    _seed(web_store, catalogue)
    client = browser("pete")
    html = client.get("/planner").text
    assert [r[0] for r in _table(html, "by-service")] == [
        "Pothole repair",
        "Street light outage",
        "all services",
    ]
    areas = {r[0]: r[1] for r in _table(html, "by-neighborhood")}
    assert areas == {
        "Back Bay": "2",
        "outside named neighbourhoods": "2",
        "all neighbourhoods": "4",
    }
    assert len(_json(html, "planner-work-data")) == 3  # p1, p2, s1 are open
    # the filter form offers the services by name and the named neighbourhoods
    assert '<option value="streetlight_outage" >Street light outage</option>' in html
    assert '<option value="outside named neighbourhoods" >' in html

    page = client.get("/planner", params={"service": "pothole", "neighbourhood": "Back Bay"})
    html = page.text
    assert page.status_code == 200
    assert "Metrics by service, Pothole repair, in Back Bay" in html
    assert [r[:2] for r in _table(html, "by-service")] == [
        ["Pothole repair", "1"],
        ["all services", "1"],
    ]
    assert sum(int(r[1]) for r in _table(html, "trend")) == 1  # received: p1 only
    backlog = _table(html, "backlog")
    assert [r[0] for r in backlog] == ["Potholes"] and backlog[0][-1] == "1"
    points = _json(html, "planner-work-data")
    assert [(p[2], p[4]) for p in points] == [("Pothole repair", False)]  # type: ignore[index]
    # the CSV links carry the filters, and the files give the same rows
    link = re.search(r'href="(/planner/metrics\.csv\?by=service[^"]*)"', html)
    assert link and "service=pothole" in link.group(1)
    rows = list(csv.DictReader(io.StringIO(client.get(link.group(1).replace("&amp;", "&")).text)))
    assert [(r["service"], r["requests"]) for r in rows] == [("pothole", "1"), ("all", "1")]
    outside = client.get(
        "/planner/backlog.csv", params={"neighbourhood": "outside named neighbourhoods"}
    )
    rows = list(csv.DictReader(io.StringIO(outside.text)))
    assert [(r["service_group"], r["total"]) for r in rows] == [("potholes", "1")]  # p2
    bad = client.get("/planner", params={"service": "graffiti"})
    assert bad.status_code == 400 and "service: &#39;graffiti&#39; is not a service" in bad.text


def test_trend_by_week_counts_received_and_closed(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    _seed(web_store, catalogue)
    client = browser("pete")
    today = datetime.now(UTC).date()
    first = (today - timedelta(days=30)).isoformat()
    params = {"from": first, "to": today.isoformat()}
    html = client.get("/planner", params=params).text
    rows = _table(html, "trend")
    assert sum(int(r[1]) for r in rows) == 4 and sum(int(r[2]) for r in rows) == 1
    assert len(rows) in (5, 6)  # the weeks (Monday first) that the 31 days touch
    closed = next(r for r in rows if r[2] == "1")
    assert closed[3] == "4.0"  # p3: received 20 days ago, closed 16 days ago
    assert '<svg role="img" aria-labelledby="chart-weeks-title chart-weeks-desc"' in html
    assert '<path d="M' in html.split('id="chart-weeks"', 1)[1].split("</svg>", 1)[0]
    weekly = list(
        csv.DictReader(io.StringIO(client.get("/planner/weekly.csv", params=params).text))
    )
    assert [int(r["received"]) for r in weekly] == [int(r[1]) for r in rows]


def test_hot_spots_are_cells_with_their_count(browser, web_store: Store, catalogue) -> None:
    # a dense cluster among scattered requests: the cluster's cell is a hot spot
    for i in range(30):
        seed_request(web_store, catalogue, f"h{i}", lat=42.3505, lon=-71.0810)
    for i in range(12):
        seed_request(web_store, catalogue, f"x{i}", lat=42.30 + 0.02 * i, lon=-71.12 + 0.01 * i)
    html = browser("pete").get("/planner").text
    cells = _json(html, "planner-hotspot-data")["features"]  # type: ignore[index]
    hot = [c for c in cells if c["properties"]["label"].startswith("Hot spot")]
    counts = sorted((c["properties"]["count"] for c in hot), reverse=True)
    assert counts[0] == 30 and set(counts[1:]) <= {0}  # Gi* counts the cell's ring too
    assert len(hot) <= 7  # the cluster's cell and its six neighbours at most
    ring = next(c for c in hot if c["properties"]["count"] == 30)["geometry"]["coordinates"][0]
    assert len(ring) == 7 and ring[0] == ring[-1]  # a closed hexagon, [lon, lat]
    assert all(-71.1 < lon < -71.0 and 42.3 < lat < 42.4 for lon, lat in ring)


def test_line_chart_reads_every_value_and_breaks_at_a_gap() -> None:
    from api.web.charts import Series, line_chart

    svg = str(
        line_chart(
            chart_id="c",
            title="T",
            caption="C",
            labels=["w1", "w2", "w3"],
            series=[Series("a", [1.0, None, 3.0]), Series("b", [0.0, 2.0, 2.0])],
        )
    )
    assert '<desc id="c-desc">w1: a 1, b 0; w2: a no value, b 2; w3: a 3, b 2.</desc>' in svg
    paths = re.findall(r'<path d="([^"]*)"', svg)
    assert len(paths) == 2 and paths[0].count("M") == 2 and "L" not in paths[0]  # a gap at w2
    assert paths[1].count("M") == 1 and paths[1].count("L") == 2
