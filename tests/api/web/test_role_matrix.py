"""Every staff page x (no login, each role, a crew other than the owner): 200, 302 or 403 only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from geo311 import auth_store
from geo311.store import Store

OK, LOGIN, NO = 200, 302, 403
WHO = ("anonymous", "dina", "pete", "ada", "crewa", "crewb")
# url -> expected status for each of WHO; crewa owns crew A, crewb is another crew.
MATRIX = {
    "/dispatch": (LOGIN, OK, NO, NO, NO, NO),
    "/dispatch?at=2015-10-06T07:00&sla=overdue": (LOGIN, OK, NO, NO, NO, NO),
    "/dispatch/plans/{plan_id}": (LOGIN, OK, NO, NO, NO, NO),
    "/crew": (LOGIN, NO, NO, NO, OK, OK),
    "/crew/A": (LOGIN, OK, NO, NO, OK, NO),
    "/planner": (LOGIN, OK, OK, NO, NO, NO),
    "/planner/metrics.csv": (LOGIN, OK, OK, NO, NO, NO),
    "/admin/users": (LOGIN, NO, NO, OK, NO, NO),
    "/admin/audit": (LOGIN, NO, NO, OK, NO, NO),
}


@pytest.fixture()
def plan_id(web_store: Store) -> int:
    doc = {
        "plan_date": "2015-10-06",
        "routes": [{"crew_id": "A", "steps": []}, {"crew_id": "B", "steps": []}],
        "unassigned": [],
    }
    pid = web_store.save_plan(doc, plan_date="2015-10-06")
    auth_store.insert_publication(
        web_store,
        plan_id=pid,
        plan_date="2015-10-06",
        published_at=datetime.now(UTC),
        published_by="dina",
    )
    return pid


def test_role_matrix(browser, plan_id: int) -> None:
    clients = {who: browser(None if who == "anonymous" else who) for who in WHO}
    seen = {}
    for url, expected in MATRIX.items():
        for who, status in zip(WHO, expected, strict=True):
            response = clients[who].get(url.format(plan_id=plan_id), follow_redirects=False)
            seen[(url, who)] = response.status_code
            assert response.status_code in (200, 302, 403)
            if status == LOGIN:
                assert response.headers["location"].startswith("/login?next=/")
    expected_of = {
        (url, who): s for url, row in MATRIX.items() for who, s in zip(WHO, row, strict=True)
    }
    wrong = {k: (v, expected_of[k]) for k, v in seen.items() if v != expected_of[k]}
    assert wrong == {}
