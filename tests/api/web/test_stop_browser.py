"""In headless Chromium: a done stop shows done with no buttons; a refused replay shows the state.

The phone's offline queue may hold an action the server refuses because the stop moved on
(here a "can't do" queued for a stop that is done): the server answers 409 with the stop's
state, and the page shows that state and drops the action instead of retrying it forever.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from geo311.plans import repo as plan_repo
from geo311.staff import store as auth_store
from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    _publish_one_stop,
    open_session,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _shot(page: Any, name: str) -> None:
    if os.environ.get("GEO311_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["GEO311_SCREENSHOT_DIR"]) / name), full_page=True)


def test_after_done_the_stop_shows_done_and_a_refused_replay_shows_the_servers_state(  # noqa: PLR0915 - one user story
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    plan_id = _publish_one_stop(server.store, "pothole-1")
    crew = open_session("pat", phone=True)
    page = crew.page
    crew.go("/crew")
    _shot(page, "crew_stop_planned_phone.png")
    page.click("#stop-wo-1 form.arrive button")
    page.wait_for_selector("#stop-wo-1 .state:has-text('Arrived (synced).')")
    assert page.locator("#stop-wo-1 form.arrive").is_hidden()
    assert page.locator("#stop-wo-1 summary.primary").is_visible()  # done is still to do
    page.click("#stop-wo-1 summary.primary")
    page.click("#stop-wo-1 form button.primary")
    page.wait_for_selector("#stop-wo-1 .state:has-text('Done (synced).')")
    assert page.locator("#stop-wo-1 .actions").is_hidden()
    page.reload()
    stop = page.locator("#stop-wo-1")
    assert stop.locator(".state").inner_text() == "Done."
    assert stop.locator("button, summary").count() == 0  # no done, can't do or arrived left
    _shot(page, "crew_stop_done_phone.png")
    crew.axe()

    # a "can't do" queued on the phone before it learnt the stop was done
    queued = {
        "key": "k-queued-cant-01",
        "plan_id": str(plan_id),
        "crew_id": "pothole-1",
        "job_id": "wo-1",
        "action": "cant",
        "reason": "no_access",
        "note": "",
    }
    page.evaluate(
        "item => localStorage.setItem('geo311.crew.queue', JSON.stringify([item]))", queued
    )
    sent = server.hits.get("/crew/actions", 0)
    page.reload()
    page.wait_for_selector("#stop-wo-1 .state:has-text('On the server this stop is: Done.')")
    assert "(409)" in stop.locator(".state").inner_text()
    assert json.loads(page.evaluate("localStorage.getItem('geo311.crew.queue')")) == []
    page.wait_for_timeout(6000)  # past the 5 s retry timer: the refused action is not resent
    assert server.hits.get("/crew/actions", 0) == sent + 1
    assert auth_store.audit_rows(server.store, auth_store.AuditFilter(action="stop.cant_do")) == []
    assert plan_repo.get_plan(server.store, plan_id)["stop_states"] == {"wo-1": "done"}
    crew.axe()

    desk = open_session("dina")  # the dispatcher's plan page: the finished stop's Reopen
    desk.page.set_viewport_size({"width": 1366, "height": 900})
    desk.go(f"/dispatch/plans/{plan_id}")
    assert desk.page.locator("#stop-wo-1 form.reopen button").is_visible()
    _shot(desk.page, "plan_reopen_1366.png")
    desk.axe()
    desk.go("/crew/pothole-1")  # the crew's page as the dispatcher sees it: Reopen there too
    assert desk.page.locator("#stop-wo-1 form.reopen button").is_visible()
    assert desk.page.locator("#stop-wo-1 summary").count() == 0
    _shot(desk.page, "crew_reopen_1366.png")
    desk.axe()
    phone = open_session("dina", phone=True)
    phone.go(f"/dispatch/plans/{plan_id}")
    _shot(phone.page, "plan_reopen_360.png")
    phone.page.click("#stop-wo-1 form.reopen button")
    phone.page.wait_for_load_state("load")
    assert phone.page.url.endswith(f"/dispatch/plans/{plan_id}#stop-wo-1")
    assert phone.page.locator("#stop-wo-1 form.reopen").count() == 0
    phone.axe()
    assert plan_repo.get_plan(server.store, plan_id)["stop_states"] == {"wo-1": "planned"}
    assert [
        r["actor"]
        for r in auth_store.audit_rows(server.store, auth_store.AuditFilter(action="stop.reopen"))
    ] == ["dina"]
