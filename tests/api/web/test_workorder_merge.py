"""The work-order page merges another work order in and splits a report out (audited)."""

from __future__ import annotations

from typing import Any

import pytest

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from tests.api.web.conftest import csrf_of
from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    open_session,
    server,
)
from tests.routing._dispatch_data import fill


def _by_address(store: Store) -> dict[str, int]:
    return {w.address: w.work_order_id for w in work_order_repo.query_work_orders(store)}


def test_dispatcher_merges_then_splits_with_csrf_role_and_audit(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    fill(web_store, catalogue)
    ids = _by_address(web_store)
    boylston, columbus = ids["500 Boylston St"], ids["100 Columbus Ave"]
    dina = browser("dina")
    page = dina.get(f"/dispatch/workorders/{boylston}").text
    token = csrf_of(page)
    url = f"/dispatch/workorders/{boylston}/merge"
    assert f'action="{url}"' in page and "Split into a new work order" not in page
    assert dina.post(url, data={"other": columbus}).status_code == 403  # no CSRF token
    crew = browser("crewa")
    assert crew.post(url, data={"csrf_token": token, "other": columbus}).status_code == 403
    itself = dina.post(url, data={"csrf_token": token, "other": boylston})
    assert itself.status_code == 400 and "itself" in itself.text
    assert dina.post(url, data={"csrf_token": token, "other": 999999}).status_code == 404
    pothole = dina.post(url, data={"csrf_token": token, "other": ids["200 Berkeley St"]})
    assert pothole.status_code == 400 and "group" in pothole.text

    done = dina.post(url, data={"csrf_token": token, "other": columbus}, follow_redirects=False)
    assert done.status_code == 303
    merged = work_order_repo.get_work_order(web_store, boylston)
    assert set(merged.member_ids) == {"r-boylston", "r-columbus"} and merged.report_count == 2
    assert work_order_repo.get_work_order(web_store, columbus).status == "duplicate"
    rows = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="workorder.merge"))
    assert {r["object"] for r in rows} == {f"workorder:{boylston}", f"workorder:{columbus}"}
    assert all(r["actor"] == "dina" for r in rows)
    again = dina.post(url, data={"csrf_token": token, "other": columbus})
    assert again.status_code == 409 and "already" in again.text  # the emptied order is closed

    page = dina.get(f"/dispatch/workorders/{boylston}").text
    assert page.count("Split into a new work order") == 2 and "workorder.merge" in page
    split = dina.post(
        f"/dispatch/workorders/{boylston}/split",
        data={"csrf_token": token, "request_id": "r-columbus"},
        follow_redirects=False,
    )
    assert split.status_code == 303
    new_id = int(split.headers["location"].rsplit("/", 1)[1])
    assert work_order_repo.get_work_order(web_store, new_id).member_ids == ("r-columbus",)
    assert work_order_repo.get_work_order(web_store, boylston).member_ids == ("r-boylston",)
    split_rows = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="workorder.split"))
    assert {r["object"] for r in split_rows} == {f"workorder:{boylston}", f"workorder:{new_id}"}
    lone = dina.post(
        f"/dispatch/workorders/{boylston}/split",
        data={"csrf_token": token, "request_id": "r-boylston"},
    )
    assert lone.status_code == 400 and "only report" in lone.text


@pytest.mark.browser
@pytest.mark.slow
def test_merge_and_split_forms_pass_axe_on_desktop_and_phone(
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    ids = _by_address(server.store)
    boylston, columbus = ids["500 Boylston St"], ids["100 Columbus Ave"]
    for phone in (False, True):
        dina = open_session("dina", phone=phone)
        dina.go(f"/dispatch/workorders/{boylston}")
        if not phone:  # merge from the page: its reports move here, each can be split out
            dina.page.fill("#merge-other", str(columbus))
            dina.page.click("form[action$='/merge'] button[type=submit]")
            dina.page.wait_for_load_state("load")
        assert dina.page.locator("form[action$='/split'] button").count() == 2
        dina.axe()
