"""In headless Chromium, network blocked: the pages whose routes read a form or query model.

The console's query (filters, rows, districts), a work order's close form and the audit
page's filters (with their ``object`` / ``from`` aliases) at 1366 px and on a 360 px phone:
the values reach the route, a bad value is a 400 page naming the field, axe-core finds no
serious or critical violation. Screenshots go to ``GEO311_SCREENSHOT_DIR`` when it is set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    open_session,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CONSOLE = "/dispatch?at=2015-10-06T07:00&sla=all&rows=all&districts=all&q="


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_console_query_and_close_form_reach_their_routes(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    desk = open_session("dina")
    page = desk.page
    page.set_viewport_size({"width": 1366, "height": 900})
    desk.go(CONSOLE)
    rows = page.locator("#work tbody tr").count()
    assert rows == 7  # rows=all: every open work order of the day
    _shot(page, "form_console_1366.png")
    desk.axe()
    desk.go("/dispatch?at=2015-10-06T07:00&sla=soon")
    assert "sla: String should match pattern" in page.inner_text("main")
    desk.axe()

    wo = work_order_repo.query_work_orders(server.store)[0]
    desk.go(f"/dispatch/workorders/{wo.work_order_id}")
    _shot(page, "form_workorder_1366.png")
    page.fill("#close-note", "Filled the pothole.")
    page.click(f"form[action='/dispatch/workorders/{wo.work_order_id}/close'] button")
    page.wait_for_selector("text=Closed on")
    closed = work_order_repo.get_work_order(server.store, wo.work_order_id)
    assert closed.status_notes == "Filled the pothole." and closed.closed_datetime is not None
    (row,) = auth_store.audit_rows(server.store, auth_store.AuditFilter(action="workorder.status"))
    assert row["after"]["note"] == "Filled the pothole."
    desk.axe()

    phone = open_session("dina", phone=True)
    phone.go(CONSOLE)
    assert phone.page.locator("#work tbody tr").count() == rows  # closed now, open at 07:00
    _shot(phone.page, "form_console_360.png")
    phone.axe()
    phone.go(f"/dispatch/workorders/{wo.work_order_id}")
    _shot(phone.page, "form_workorder_360.png")
    phone.axe()


def test_audit_filters_with_their_aliases(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    admin = open_session("ada")
    page = admin.page
    page.set_viewport_size({"width": 1366, "height": 900})
    admin.go("/admin/audit?actor=ada&action=login&object=user:&from=2000-01-01&to=2100-01-01")
    assert page.locator("table.audit tbody tr").count() >= 1  # ada's sign-in, filtered
    _shot(page, "form_audit_1366.png")
    admin.axe()
    admin.go("/admin/audit?from=2015-13-01")
    assert "from: give a date as YYYY-MM-DD" in page.inner_text("main")
    admin.go("/admin/audit?page=0")
    assert "page: Input should be greater than or equal to 1" in page.inner_text("main")
    phone = open_session("ada", phone=True)
    phone.go("/admin/audit?actor=ada&object=user:")
    _shot(phone.page, "form_audit_360.png")
    phone.axe()
