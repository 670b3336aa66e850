"""In headless Chromium, network blocked: the admin's pages at 1366 px and on a 360 px phone.

Users (with the city's crews to pick from), one user's edit page, the audit log with its
filters, and the password change every user has: axe-core finds no serious or critical
violation, no page scrolls sideways on a phone, and no audit cell wraps letter by letter.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from geo311.staff import users
from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    open_session,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = {
    "admin_users": "/admin/users",
    "admin_user": "/admin/users/pat",
    "admin_audit": "/admin/audit?actor=ada",
    "account_password": "/account/password",
}


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_admin_pages_read_well_on_a_desk_and_a_phone(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    desk = open_session("ada")
    page = desk.page
    page.set_viewport_size({"width": 1366, "height": 900})
    desk.go("/admin/users/pat")
    page.select_option("#edit-crew", "pothole-2")
    page.click("form[action='/admin/users/pat'] button[type=submit]")
    page.wait_for_selector("text=Saved user pat.")
    assert users.find_user(server.store, "pat").crew_id == "pothole-2"
    for name, path in PAGES.items():
        desk.go(path)
        _shot(page, f"{name}_1366.png")
        desk.axe()
    desk.go("/admin/audit?actor=ada")
    assert page.locator("table.audit tbody tr").count() >= 1
    assert "crew:pothole-1" in page.inner_text("table.audit .before")
    # no cell wraps letter by letter: each action fits on one line
    heights = page.eval_on_selector_all(
        "table.audit td.nowrap", "els => els.map(e => e.getBoundingClientRect().height)"
    )
    assert heights and max(heights) < 60, heights

    phone = open_session("ada", phone=True)
    for name, path in PAGES.items():
        phone.go(path)
        width = phone.page.evaluate("document.documentElement.scrollWidth")
        wide = phone.page.evaluate(
            "[...document.querySelectorAll('body *')].filter(e => !e.closest('.table-wrap')"
            " && e.getBoundingClientRect().right > 361).map(e => e.tagName + '#' + e.id)"
        )
        assert width <= 360, f"{path}: {width} px on a 360 px phone: {wide}"
        _shot(phone.page, f"{name}_360.png")
        phone.axe()
