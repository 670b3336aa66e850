"""The calibrated what-if end to end in headless Chromium (network blocked), axe-core clean.

The planner types a target, starts the what-if and gets, without a reload, the side-by-side
("as the City did it" / "with geo311"), the validation tables and the effort curve. The job's
year is a synthetic one (seconds) instead of the embedded export (minutes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import routing.simulate.calibrated as calibrated
from geo311.staff import store as auth_store
from tests.api.web.test_browser import Server, open_session, server  # noqa: F401 (fixtures)
from tests.routing._calibrated_data import synthetic_whatif

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shot(session: Any, name: str, width: int) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        session.page.set_viewport_size({"width": width, "height": 900})
        session.page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_planner_gets_side_by_side_and_curve_without_a_reload(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(calibrated, "calibrated_whatif", synthetic_whatif)
    planner = open_session("pete")
    planner.go("/planner#whatif-calibrated")
    planner.page.fill("#cal-target", "5")
    planner.page.click("form[action='/planner/whatif/calibrated'] button[type=submit]")
    planner.page.wait_for_url("**/planner/whatif/*")
    path = "/" + planner.page.url.split("/", 3)[3]
    planner.page.evaluate("window.geo311SamePage = true")  # gone if the page reloads
    planner.page.wait_for_selector("#whatif-result .whatif-validation", timeout=180_000)
    assert planner.page.evaluate("window.geo311SamePage === true")
    assert server.hits[path] == 1 and server.hits[path + "/progress.json"] >= 1
    assert "State: done" in planner.page.inner_text("#whatif-state")
    result = planner.page.locator("#whatif-result")
    side = result.locator("table.whatif-side").first
    heads = side.locator("thead th").all_inner_texts()
    assert heads == ["figure", "as the City did it", "with geo311"]
    assert result.locator("table.whatif-validation").count() == 2
    curve = result.locator("svg#chart-curve-extract")
    assert curve.locator("polygon").count() == 2  # the two intervals
    assert curve.locator("line.chart-target").count() == 1
    assert "target 5 d" in curve.text_content()
    assert "Effort needed for a p90 of 5 days or less" in result.inner_text()
    assert "candidate policies" in result.inner_text()  # the ensemble, in words
    href = result.locator("a[href$='/calibrated.csv']").get_attribute("href")
    assert href == path + "/calibrated.csv"
    planner.axe()
    _shot(planner, "whatif_calibrated_1366.png", 1366)
    (start,) = auth_store.audit_rows(
        server.store, auth_store.AuditFilter(action="simulation.start")
    )
    assert start["actor"] == "pete"
    phone = open_session("pete", phone=True)
    phone.go(path)
    assert phone.page.locator("#whatif-result table.whatif-validation").count() == 2
    phone.axe()
    _shot(phone, "whatif_calibrated_360.png", 360)
    planner.watch.assert_clean()
