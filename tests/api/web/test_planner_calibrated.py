"""The calibrated what-if on the planner's dashboard: started as a job, drawn, downloaded."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest

import routing.simulate.calibrated as calibrated
from geo311.db.store import Store
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.staff import store as auth_store
from tests.api.web.conftest import csrf_of
from tests.routing._calibrated_data import synthetic_whatif


@pytest.fixture()
def synthetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job's year: two synthetic areas (seconds) instead of the embedded export (minutes)."""
    monkeypatch.setattr(calibrated, "calibrated_whatif", synthetic_whatif)


def _wait_done(client, sim_id: int, timeout_s: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = client.get(f"/planner/whatif/{sim_id}/progress.json").json()
        assert "progress" in body  # a share done while a calibrated what-if runs, else None
        if body["status"] != "running":
            return body
        time.sleep(0.5)
    raise AssertionError(f"what-if {sim_id} still running after {timeout_s} s")


def test_the_planner_starts_the_calibrated_what_if_and_reads_it(
    browser, web_store: Store, synthetic: None
) -> None:
    client = browser("pete")
    page = client.get("/planner").text
    assert 'action="/planner/whatif/calibrated"' in page and 'id="cal-target"' in page
    assert client.post("/planner/whatif/calibrated", data={}).status_code == 403  # no CSRF
    token = csrf_of(page)
    response = client.post(
        "/planner/whatif/calibrated",
        data={"csrf_token": token, "service": "streetlight_outage", "target_p90_days": "5"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    sim_id = int(response.headers["location"].rsplit("/", 1)[1])
    job = jobs_store.job_of_plan(web_store, sim_id)
    assert job is not None and job["params"]["calibrated"]["target_p90_days"] == 5.0
    (start,) = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="simulation.start"))
    assert start["actor"] == "pete" and start["object"] == f"simulation:{sim_id}"
    body = _wait_done(client, sim_id)
    assert body["status"] == "done", body
    html = body["result_html"]
    # side by side, validation with intervals, the curve with the typed target
    assert "Side by side: as the City did it, and with geo311" in html
    assert "Validation: the replay against the City" in html
    assert html.count('class="whatif-table whatif-validation"') == 2  # both areas
    rows = re.findall(r'<tr><th scope="row">median days to close</th><td>([^<]*)</td>', html)
    assert rows and all(re.fullmatch(r"[\d.]+ d \([\d.]+ to [\d.]+\)", r) for r in rows)
    assert '<svg role="img" aria-labelledby="chart-curve-extract-title' in html
    assert "target 5 d" in html and "Target 5 d." in html
    assert "What the model leaves out" in html and "On the calibration months themselves" in html
    # the same numbers as CSV
    csv_response = client.get(f"/planner/whatif/{sim_id}/calibrated.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(csv_response.text)))
    kinds = {(r["area"], r["row"]) for r in table}
    assert {("extract", "actual"), ("rest", "as_city"), ("rest", "with_geo311")} <= kinds
    assert {("extract", "curve"), ("extract", "crew_curve"), ("rest", "unlimited")} <= kinds
    assert ("rest", "calibration_as_city") in kinds
    doc = plan_repo.get_plan(web_store, sim_id)
    first = next(r for r in table if (r["area"], r["row"]) == ("extract", "as_city"))
    assert float(first["median_days"]) == pytest.approx(
        doc["result"]["areas"]["extract"]["as_city"]["median_days"]["value"]
    )
    # a crew reads neither; a target out of range is refused
    assert browser("crewa").get(f"/planner/whatif/{sim_id}/calibrated.csv").status_code == 403
    bad = client.post(
        "/planner/whatif/calibrated",
        data={"csrf_token": token, "service": "streetlight_outage", "target_p90_days": "-1"},
    )
    assert bad.status_code == 400


def test_the_csv_of_a_plain_what_if_is_not_found(browser, web_store: Store) -> None:
    doc = {"status": "done", "request": {"from": "2015-09-14"}, "result": {"groups": {}}}
    sim_id = plan_repo.save_plan(web_store, doc, plan_date="2015-09-14", kind="simulation")
    response = browser("pete").get(f"/planner/whatif/{sim_id}/calibrated.csv")
    assert response.status_code == 404 and "not a finished calibrated what-if" in response.text


def test_the_page_says_how_many_policies_the_replay_runs() -> None:
    from api.web.planner_calibrated import _in_sample

    iv = {"value": 3.0, "low": 2.0, "high": 4.0, "level": 0.9}
    figs = {"median_days": iv, "p90_days": iv, "within_sla": {**iv, "value": 0.7}}
    area = {"calibration": {"actual": figs, "as_city": figs}}
    many = {"members": 40, "candidates": 4200, "within": 200, "tolerance": 0.26}
    text = _in_sample({**area, "ensemble": many})
    assert "cannot tell 200 of the 4200 candidate policies apart" in text
    assert "runs 40 of them" in text
    one = _in_sample({**area, "ensemble": {**many, "members": 1, "within": 1}})
    assert "one fits those months" in one and "apart" not in one
    assert "candidate" not in _in_sample(area)  # a document from before the ensemble
