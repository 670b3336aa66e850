"""The week's horizon page end to end in headless Chromium (network blocked), axe-core clean."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from geo311.city.catalogue import load_catalogue
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.workorders.grouping import rebuild_work_orders
from tests.api.web.test_browser import Server, open_session, server  # noqa: F401 (fixtures)
from tests.routing._dispatch_data import request

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shot(session: Any, name: str) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        session.page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_dispatcher_plans_with_the_horizon_and_reads_the_days(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    for k in range(14):  # 14 knock-downs of 90 min: more than a day for the streetlight crews
        request_repo.add_request(
            server.store,
            request(f"k{k}", "streetlight_knockdown", 42.347 + k * 0.0004, -71.072, f"{k} T St", 1),
        )
    rebuild_work_orders(server.store, load_catalogue())
    disp = open_session("dina")
    disp.go("/dispatch?at=2015-10-06T07:00")
    disp.page.set_viewport_size({"width": 360, "height": 740})
    _shot(disp, "console_phone.png")
    disp.page.set_viewport_size({"width": 1366, "height": 900})
    _shot(disp, "console_desktop.png")
    disp.page.click("text=The week's horizon")
    disp.page.wait_for_load_state("load")
    assert disp.page.url.endswith("/dispatch/horizon")
    assert disp.page.locator("#no-horizon").is_visible()
    disp.axe()
    disp.page.fill("#horizon-at", "2015-10-06T07:00")
    disp.page.fill("#horizon-days", "3")
    disp.page.fill("#horizon-limit", "1")
    disp.page.click("text=Plan with the horizon")
    disp.page.wait_for_url("**/horizon", timeout=120_000)  # progress, then the plan's horizon
    plan_id = plan_repo.latest_plan_id(server.store, kind="horizon")
    assert plan_id is not None and disp.page.url.endswith(f"/dispatch/plans/{plan_id}/horizon")
    headings = disp.page.locator("section h2").all_inner_texts()
    assert headings[0].startswith("Tuesday 2015-10-06 · today (routed)")
    assert headings[1].startswith("Wednesday 2015-10-07 · forecast")
    assert headings[-1].startswith("Beyond the horizon")
    doc = plan_repo.get_plan(server.store, plan_id)
    today = doc["meta"]["horizon"]["days"][0]["jobs"]
    rows = disp.page.locator("section").first.locator("tbody tr").count()
    assert rows == len(today) > 0
    later = doc["meta"]["horizon"]["days"][1]["jobs"]
    assert disp.page.locator("section").nth(1).locator("tbody tr").count() == len(later) > 0
    disp.page.set_viewport_size({"width": 1366, "height": 900})
    disp.axe()
    _shot(disp, "horizon_desktop.png")
    disp.page.set_viewport_size({"width": 360, "height": 740})
    disp.axe()
    _shot(disp, "horizon_phone.png")
    disp.page.click(f"a[href='/dispatch/plans/{plan_id}']")
    disp.page.wait_for_load_state("load")
    assert disp.page.url.endswith(f"/dispatch/plans/{plan_id}")
    assert disp.blocked == []
