"""In headless Chromium, network blocked: a crew shares its position, the console map shows it.

The crew's phone asks for its position only when "Share my position" is pressed (geolocation
granted to the browser context); the dispatcher's console map then draws the crew's marker,
labelled "Crew <id>, HH:MM", without a reload, and its legend names it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from geo311.staff import positions
from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    open_session,
    server,
)
from tests.api.web.test_crew_day_browser import publish_two_stops

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_a_shared_position_reaches_the_console_map(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    publish_two_stops(server.store, "pothole-1")
    crew = open_session("pat", phone=True)
    crew.go("/crew")
    page = crew.page
    assert server.hits.get("/crew/position", 0) == 0  # nothing sent before the press
    crew.context.grant_permissions(["geolocation"], origin=server.url)
    crew.context.set_geolocation({"latitude": 42.3462, "longitude": -71.0871, "accuracy": 15})
    page.click("#share-position")
    page.wait_for_selector("#share-status[data-shared]", timeout=20_000)
    assert page.locator("#share-status").inner_text().startswith("Position shared")
    found = positions.latest_positions(server.store, ["pothole-1"])["pothole-1"]
    assert (round(found.lat, 4), round(found.lon, 4)) == (42.3462, -71.0871)
    assert found.accuracy_m == 15.0 and found.by_user == "pat"
    _shot(page, "crew_share_phone.png")
    crew.axe()

    desk = open_session("dina")
    desk.page.set_viewport_size({"width": 1366, "height": 900})
    desk.go("/dispatch?at=2015-10-06T07:00")
    label = desk.page.locator("#map .crew-position-icon .crew-label")
    label.wait_for(timeout=20_000)
    assert label.inner_text().startswith("Crew pothole-1, ")
    assert desk.page.get_attribute("#map", "data-crew-positions") == "1"
    assert "last shared position" in desk.page.locator(".legend").inner_text()
    desk.page.locator("#map").scroll_into_view_if_needed()
    _shot(desk.page, "console_crew_position_1366.png")
    desk.axe()
    phone = open_session("dina", phone=True)
    phone.go("/dispatch?at=2015-10-06T07:00")
    phone.page.locator("#map .crew-position-icon").wait_for(timeout=20_000)
    _shot(phone.page, "console_crew_position_phone.png")
