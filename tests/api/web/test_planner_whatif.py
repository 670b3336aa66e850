"""The what-if page: its progress as JSON (polled, no reload) and its result as chart and table."""

from __future__ import annotations

import math
import re
from datetime import date

from geo311.db.store import Store
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from routing.simulate.run import GroupResult, OutcomeStats, RunResult, SimulationResult

REQUEST = {"from": "2015-09-14", "to": "2015-10-06", "service": "streetlights"}


def _run(crews: int, days: list[float]) -> RunResult:
    stats = OutcomeStats.of(days, [d <= 7 for d in days])
    return RunResult(crews, tuple(f"c{i}" for i in range(crews)), stats, 0.5, 4, (), {}, 1.0)


def _result() -> SimulationResult:
    actual = OutcomeStats.of([2.0, 9.0, 12.0, 30.0], [True, False, False, False])
    runs = (_run(1, [3.0, math.inf, math.inf, math.inf]), _run(2, [1.0, 2.0, 4.0, 8.0]))
    group = GroupResult("streetlights", actual, runs, 7.0, 2)
    return SimulationResult(date(2015, 9, 14), date(2015, 10, 6), {"streetlights": group})


def _done(store: Store) -> int:
    result = _result()
    doc = {
        "status": "done",
        "request": REQUEST,
        "result": result.to_dict(),
        "table": result.table(),
        "wall_time_s": 5.6,
        "error": None,
    }
    return plan_repo.save_plan(store, doc, plan_date="2015-09-14", kind="simulation")


def test_a_running_what_if_reports_its_progress_as_json(browser, web_store: Store) -> None:
    doc = {"status": "running", "request": REQUEST, "result": None, "error": None}
    with web_store.begin():  # held by a worker elsewhere: it stays running here
        sim_id = plan_repo.save_plan(web_store, doc, plan_date="2015-09-14", kind="simulation")
        jobs_store.submit(web_store, "simulation", {"request": REQUEST}, created_by="pete",
                          plan_id=sim_id)  # fmt: skip
        assert jobs_store.claim(web_store, owner="elsewhere", lease_s=600)
    client = browser("pete")
    page = client.get(f"/planner/whatif/{sim_id}").text
    assert f'data-whatif-url="/planner/whatif/{sim_id}/progress.json"' in page
    assert "State: <strong>running</strong>" in page and "s elapsed" in page
    progress = client.get(f"/planner/whatif/{sim_id}/progress.json")
    assert progress.status_code == 200 and progress.headers["cache-control"] == "no-store"
    body = progress.json()
    assert (body["status"], body["queued"]) == ("running", False)
    assert 0 <= body["elapsed_s"] < 60 and "result_html" not in body
    url = f"/planner/whatif/{sim_id}/progress.json"
    assert browser("crewa").get(url).status_code == 403  # a crew does not read what-ifs
    signed_out = browser(None).get(url, follow_redirects=False)
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["location"]


def test_a_done_what_if_gives_its_chart_and_table(browser, web_store: Store) -> None:
    sim_id = _done(web_store)
    client = browser("pete")
    body = client.get(f"/planner/whatif/{sim_id}/progress.json").json()
    assert (body["status"], body["wall_time_s"]) == ("done", 5.6)
    html = body["result_html"]
    assert '<svg role="img" aria-labelledby="chart-whatif-streetlights-title' in html
    desc = re.search(r'<desc id="chart-whatif-streetlights-desc">([^<]*)</desc>', html)
    assert desc and "City (actual): median 10.5 d" in desc.group(1)
    assert "1 crew: median no value" in desc.group(1)  # over half never repaired
    rows = re.findall(r"<tr><th scope=\"row\">([^<]*)</th>((?:<td>[^<]*</td>)*)</tr>", html)
    cells = {name: re.findall(r"<td>([^<]*)</td>", tds) for name, tds in rows}
    assert cells["City (actual)"][:3] == ["4", "4", "10.5"]
    assert cells["1"][2] == "never (over half not repaired)" and cells["1"][-1] == "no"
    assert cells["1"][3] == "never (over a tenth not repaired)"
    assert cells["2"][2] == "3.0" and cells["2"][-1] == "yes (the smallest)"
    assert "The smallest crew count that meets it: 2." in html
    page = client.get(f"/planner/whatif/{sim_id}").text
    assert "data-whatif-url" not in page and "State: <strong>done</strong> (5.6 s)" in page
    assert 'id="chart-whatif-streetlights"' in page
