"""A crew shares its position (opt-in): crew role only, CSRF, checked, audited; the console sees it."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.staff import positions
from geo311.staff import store as auth_store
from tests.api.web.conftest import csrf_of
from tests.api.web.test_crew import _plan

POINT = {"lat": 42.3501, "lon": -71.0802, "accuracy": 12}


def test_crew_shares_its_own_position_audited(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    _plan(web_store, catalogue)
    crew = browser("crewa")
    page = crew.get("/crew").text
    assert 'id="share-position"' in page and "dispatchers only" in page
    token = csrf_of(page)
    # the crew comes from the signed-in user: a crew_id in the body is ignored
    sent = crew.post(
        "/crew/position", json={**POINT, "crew_id": "B"}, headers={"X-CSRF-Token": token}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["ok"] is True and sent.json()["crew_id"] == "A"
    assert re.fullmatch(r"\d\d:\d\d", sent.json()["clock"])
    found = positions.latest_positions(web_store, ["A", "B"])
    assert set(found) == {"A"} and found["A"].by_user == "crewa"
    assert found["A"].accuracy_m == 12.0
    audit = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="crew.position"))
    assert len(audit) == 1 and audit[0]["actor"] == "crewa" and audit[0]["object"] == "crew:A"
    assert audit[0]["after"] == {"lat": POINT["lat"], "lon": POINT["lon"], "accuracy_m": 12.0}
    # a plain form works too and replaces the row
    form = crew.post("/crew/position", data={"lat": "42.36", "lon": "-71.07", "csrf_token": token})
    assert form.status_code == 200, form.text
    assert positions.latest_positions(web_store, ["A"])["A"].lat == 42.36
    assert (
        len(auth_store.audit_rows(web_store, auth_store.AuditFilter(action="crew.position"))) == 2
    )


def test_only_a_crew_with_the_csrf_token_and_a_good_point_shares(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    _plan(web_store, catalogue)
    for name, home in (("dina", "/dispatch"), ("pete", "/planner"), ("ada", "/admin/users")):
        other = browser(name)
        token = csrf_of(other.get(home).text)
        refused = other.post("/crew/position", json=POINT, headers={"X-CSRF-Token": token})
        assert refused.status_code == 403, (name, refused.text)
    assert browser().post("/crew/position", json=POINT, follow_redirects=False).status_code == 302
    crew = browser("crewa")
    token = csrf_of(crew.get("/crew").text)
    assert crew.post("/crew/position", json=POINT).status_code == 403  # no CSRF token
    bad_token = crew.post("/crew/position", json=POINT, headers={"X-CSRF-Token": "x" * 40})
    assert bad_token.status_code == 403
    bad = crew.post("/crew/position", json={**POINT, "lat": 123}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 400 and "lat" in bad.text
    no_lon = crew.post("/crew/position", json={"lat": 42.3}, headers={"X-CSRF-Token": token})
    assert no_lon.status_code == 400 and "lon" in no_lon.text
    assert positions.latest_positions(web_store, ["A"]) == {}
    assert auth_store.audit_rows(web_store, auth_store.AuditFilter(action="crew.position")) == []


def test_progress_json_carries_the_crews_last_position(
    browser, web_app, web_store: Store, catalogue: Catalogue
) -> None:
    _plan(web_store, catalogue)
    dina = browser("dina")
    assert dina.get("/dispatch/progress.json?day=2015-10-06").json()["positions"] == []
    crew = browser("crewa")
    token = csrf_of(crew.get("/crew").text)
    assert crew.post("/crew/position", json=POINT, headers={"X-CSRF-Token": token}).is_success
    body = dina.get("/dispatch/progress.json?day=2015-10-06").json()
    assert len(body["positions"]) == 1
    got = body["positions"][0]
    assert got["crew_id"] == "A" and got["lat"] == POINT["lat"] and got["lon"] == POINT["lon"]
    assert got["accuracy_m"] == 12.0 and got["at"].endswith("+00:00")
    at = datetime.fromisoformat(got["at"])  # the label's clock is the city's time
    assert got["clock"] == at.astimezone(ZoneInfo(web_app.state.settings.timezone)).strftime(
        "%H:%M"
    )
    # a day without a plan of crew A shows no position of it
    assert dina.get("/dispatch/progress.json?day=2015-10-07").json()["positions"] == []
    console = dina.get("/dispatch?at=2015-10-06T07:00").text
    assert "crew&#39;s last shared position" in console or "crew's last shared position" in console
