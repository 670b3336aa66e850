"""In headless Chromium, network blocked: the crew's day on a 360 px phone.

The crew sees the next stop (with a navigation link) above numbered stop pins in route
order; after "done" the stop cannot also be given up (its buttons are gone, the server
refuses it), its pin turns grey and the card moves to the next stop; a done held on the
phone is taken back by "Undo" before anything reaches the server.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    open_session,
    server,
    street_pixels,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def publish_two_stops(store: Store, crew_id: str) -> int:
    """Publish a plan with two stops for the crew (work orders of the filled store)."""
    orders = [w for w in work_order_repo.query_work_orders(store) if w.lat is not None][:2]
    times = ["2015-10-06T11:00:00+00:00", "2015-10-06T11:40:00+00:00"]
    steps = [
        {
            "type": "job",
            "job_id": f"wo-{k}",
            "ref": str(wo.work_order_id),
            "arrival": at,
            "lat": wo.lat,
            "lon": wo.lon,
        }
        for k, (wo, at) in enumerate(zip(orders, times, strict=True), start=1)
    ]
    doc = {
        "origin": "2015-10-06T10:30:00+00:00",
        "plan_date": "2015-10-06",
        "timezone": "America/New_York",
        "routes": [
            {
                "crew_id": crew_id,
                "steps": [
                    {"type": "start", "arrival": "2015-10-06T10:30:00+00:00"},
                    *steps,
                    {"type": "end", "arrival": "2015-10-06T13:00:00+00:00"},
                ],
            }
        ],
        "unassigned": [],
        "jobs": {"wo-1": {"service_name": "Pothole repair"}, "wo-2": {"service_name": "Light"}},
        "crews": [{"id": crew_id, "label": "Pothole crew 1"}],
    }
    plan_id = plan_repo.save_plan(store, doc, plan_date="2015-10-06")
    auth_store.insert_publication(
        store,
        plan_id=plan_id,
        plan_date="2015-10-06",
        published_at=datetime(2015, 10, 6, 10, 0, tzinfo=UTC),
        published_by="dina",
    )
    return plan_id


def pins(page: Any) -> list[tuple[str, str]]:
    """Return the map's stop pins as (number, kind) in the map's order."""
    found = page.eval_on_selector_all(
        "#map .stop-pin",
        "els => els.map(e => [e.textContent, e.classList.contains('finished') ? 'finished'"
        " : e.classList.contains('next') ? 'next' : 'todo'])",
    )
    return sorted((str(n), str(k)) for n, k in found)


def test_the_crew_sees_the_next_stop_and_cannot_both_finish_and_give_up_a_stop(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    plan_id = publish_two_stops(server.store, "pothole-1")
    crew = open_session("pat", phone=True)
    page = crew.page
    crew.go("/crew")
    card = page.locator("#next")
    assert card.locator("h2").inner_text().startswith("Next stop: 1.")
    assert card.locator("a[href^='geo:']").count() == 1  # navigation to the next stop
    assert pins(page) == [("1", "next"), ("2", "todo")]  # numbered in route order
    assert street_pixels(page) > 0.01, "the crew map shows no streets offline"
    _shot(page, "crew_day_phone.png")
    crew.axe()

    # "done" is held on the phone: Undo takes it back and nothing reaches the server
    sent = server.hits.get("/crew/actions", 0)
    page.click("#stop-wo-1 summary.primary")
    page.click("#stop-wo-1 form button.primary")
    assert page.locator("#stop-wo-1 .actions").is_hidden()  # no "can't do" while held
    page.click("#stop-wo-1 p.undo button")
    assert page.locator("#stop-wo-1 .actions").is_visible()
    assert page.locator("#stop-wo-1 .state").inner_text() == "Undone: nothing was sent."
    page.wait_for_timeout(11_000)  # past the hold: still nothing sent
    assert server.hits.get("/crew/actions", 0) == sent
    assert plan_repo.get_plan(server.store, plan_id).get("stop_states", {}) == {}

    # done for real: after the hold it syncs, the pin greys, the card moves on
    page.click("#stop-wo-1 summary.primary")
    page.click("#stop-wo-1 form button.primary")
    page.wait_for_selector("#stop-wo-1 .state:has-text('Done (synced).')", timeout=30_000)
    assert page.locator("#stop-wo-1 .actions").is_hidden()
    assert pins(page) == [("1", "finished"), ("2", "next")]
    assert card.locator("h2").inner_text().startswith("Next stop: 2.")
    assert page.locator("#progress").inner_text() == "1 of 2 finished"
    _shot(page, "crew_day_done_phone.png")
    crew.axe()
    page.reload()
    assert page.locator("#stop-wo-1 .actions").count() == 0  # no done, no can't do
    assert page.locator("#stop-wo-1 form:not([hidden]) button").count() == 0
    assert pins(page) == [("1", "finished"), ("2", "next")]
    # and the server refuses a can't-do of the finished stop
    token = page.evaluate("window.geo311.csrfToken")
    refused = page.request.post(
        server.url + "/crew/actions",
        headers={"X-CSRF-Token": token, "Accept": "application/json"},
        data={
            "key": "k-late-cant-01",
            "plan_id": plan_id,
            "crew_id": "pothole-1",
            "job_id": "wo-1",
            "action": "cant",
            "reason": "no_access",
        },
    )
    assert refused.status == 409 and refused.json()["state"] == "done"
    assert plan_repo.get_plan(server.store, plan_id)["stop_states"] == {"wo-1": "done"}

    desk = open_session("pat")  # the same day at 1366 px
    desk.page.set_viewport_size({"width": 1366, "height": 900})
    desk.go("/crew")
    _shot(desk.page, "crew_day_1366.png")
    desk.axe()
