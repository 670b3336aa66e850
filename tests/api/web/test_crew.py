"""The crew phone view: own stops only, done / can't do with CSRF, each action applied once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import ExifTags, Image

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log
from geo311.staff import store as auth_store
from geo311.workorders import repo as work_order_repo
from geo311.workorders.grouping import rebuild_work_orders
from tests.api.conftest import seed_request
from tests.api.test_media import jpeg_with_gps
from tests.api.web.conftest import csrf_of

ORIGIN = datetime(2015, 10, 6, 11, 0, tzinfo=UTC)


def _plan(store: Store, catalogue: Catalogue, *, publish: bool = True) -> tuple[int, int, int]:
    seed_request(store, catalogue, "p1", code="pothole")
    seed_request(store, catalogue, "p2", code="pothole", lat=42.35052)  # same pothole
    seed_request(store, catalogue, "l1", code="streetlight_outage", lat=42.345, lon=-71.07)
    rebuild_work_orders(store, catalogue)
    orders = {wo.service_group: wo.work_order_id for wo in work_order_repo.query_work_orders(store)}
    wp, wl = orders["potholes"], orders["streetlights"]

    def route(crew: str, job: str, ref: int) -> dict:
        at = (ORIGIN + timedelta(minutes=30)).isoformat()
        return {
            "crew_id": crew,
            "steps": [
                {"type": "start", "arrival": ORIGIN.isoformat()},
                {
                    "type": "job",
                    "job_id": job,
                    "ref": str(ref),
                    "arrival": at,
                    "lat": 42.35,
                    "lon": -71.08,
                },
                {"type": "end", "arrival": (ORIGIN + timedelta(hours=2)).isoformat()},
            ],
        }

    doc = {
        "origin": ORIGIN.isoformat(),
        "plan_date": "2015-10-06",
        "timezone": "America/New_York",
        "routes": [route("A", "wo-p", wp), route("B", "wo-l", wl)],
        "unassigned": [],
        "jobs": {"wo-p": {"service_name": "Pothole repair"}, "wo-l": {"service_name": "Light"}},
        "crews": [{"id": "A", "label": "Crew A"}, {"id": "B", "label": "Crew B"}],
    }
    plan_id = plan_repo.save_plan(store, doc, plan_date="2015-10-06")
    if publish:
        auth_store.insert_publication(
            store, plan_id=plan_id, plan_date="2015-10-06", published_at=ORIGIN, published_by="dina"
        )
    return plan_id, wp, wl


def test_crew_sees_only_its_published_stops(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    crew = browser("crewa")
    assert "No stops yet" in crew.get("/crew").text
    plan_id, wp, _ = _plan(web_store, catalogue)
    page = crew.get("/crew")
    assert page.status_code == 200
    assert "Crew A: 1 stop " in page.text and "07:30" in page.text  # 11:30 UTC = 07:30 EDT
    assert "Next stop: 1. 07:30" in page.text and 'href="#stop-wo-p"' in page.text
    # what the residents wrote, at the stop (both reports of the merged pothole)
    assert "“report p1”" in page.text and "“report p2”" in page.text
    assert "145 Ipswich St" in page.text and "2 reports" in page.text
    assert 'href="geo:' in page.text and f"/crew/A/plans/{plan_id}.gpx" in page.text
    assert "wo-l" not in page.text
    assert crew.get("/crew/A").status_code == 200
    assert crew.get("/crew/B", follow_redirects=False).status_code == 403
    assert browser("dina").get("/crew/B").status_code == 200
    assert browser("pete").get("/crew", follow_redirects=False).status_code == 403


def test_done_is_applied_once_and_reaches_citizens(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, wp, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    token = csrf_of(crew.get("/crew").text)
    action = {
        "key": "k-0123456789",
        "plan_id": plan_id,
        "crew_id": "A",
        "job_id": "wo-p",
        "action": "done",
        "note": "Pothole filled.",
    }
    assert crew.post("/crew/actions", json=action).status_code == 403  # no CSRF header
    headers = {"X-CSRF-Token": token}
    first = crew.post("/crew/actions", json=action, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"ok": True, "state": "done", "duplicate": False}
    again = crew.post("/crew/actions", json=action, headers=headers)
    assert again.json() == {"ok": True, "state": "done", "duplicate": True}
    assert len(auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.done"))) == 1
    wo = work_order_repo.get_work_order(web_store, wp)
    assert wo.status == "fixed"
    for rid in wo.member_ids:
        [item] = crew.get(f"/open311/v2/requests/{rid}.json").json()
        assert item["status"] == "closed" and item["status_notes"] == "Pothole filled."
    assert "<strong>Done.</strong>" in crew.get("/crew").text
    reused = crew.post("/crew/actions", json={**action, "job_id": "wo-x"}, headers=headers)
    assert reused.status_code == 409
    other = browser("crewb")
    other_token = csrf_of(other.get("/crew").text)
    foreign = other.post(
        "/crew/actions",
        json={**action, "key": "k-other-crew"},
        headers={"X-CSRF-Token": other_token},
    )
    assert foreign.status_code == 403
    bad = crew.post(
        "/crew/actions", json={**action, "action": "maybe", "key": "k-bad-0001"}, headers=headers
    )
    assert bad.status_code == 400 and "action" in bad.text


def test_cant_do_form_returns_the_stop_to_the_dispatcher(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, _, wl = _plan(web_store, catalogue)
    crew = browser("crewb")
    token = csrf_of(crew.get("/crew").text)
    form = {
        "csrf_token": token,
        "key": "k-cant-000001",
        "plan_id": str(plan_id),
        "crew_id": "B",
        "job_id": "wo-l",
        "action": "cant",
        "reason": "no_access",
        "note": "gate locked",
    }
    response = crew.post("/crew/actions", data=form, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/crew"
    assert plan_repo.get_plan(web_store, plan_id)["cant_do"]["wo-l"]["note"] == "gate locked"
    assert (
        work_order_repo.get_work_order(web_store, wl).status == "open"
    )  # back on the dispatcher's list
    plan_page = browser("dina").get(f"/dispatch/plans/{plan_id}")
    assert "can't do: no access (parked cars, locked gate)" in plan_page.text
    row = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.cant_do"))[0]
    assert row["actor"] == "crewb" and row["after"]["reason"] == "no_access"


def test_done_with_a_photo_shows_it_to_the_citizens(
    browser, web_store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    plan_id, wp, _ = _plan(web_store, catalogue)
    own = work_order_repo.get_work_order(web_store, wp).member_ids[0]
    request_repo.update_request_fields(web_store, own, media_url="https://example.org/reporter.jpg")
    crew = browser("crewa")
    token = csrf_of(crew.get("/crew").text)
    form = {
        "key": "k-photo-000001",
        "plan_id": str(plan_id),
        "crew_id": "A",
        "job_id": "wo-p",
        "action": "done",
        "note": "Pothole filled.",
    }
    headers = {"X-CSRF-Token": token, "Accept": "application/json"}
    photo = {"photo": ("IMG_2041.jpg", jpeg_with_gps((320, 240)), "image/jpeg")}
    first = crew.post("/crew/actions", data=form, files=photo, headers=headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"ok": True, "state": "done", "duplicate": False}
    again = crew.post("/crew/actions", data=form, files=photo, headers=headers)
    assert again.json() == {
        "ok": True,
        "state": "done",
        "duplicate": True,
    }  # a re-sent queue item: once
    stored = list((tmp_path / "media").glob("*.jpg"))
    assert len(stored) == 1  # the same photo, stored once, without its GPS position
    assert not Image.open(stored[0]).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    url = f"/media/{stored[0].name}"  # no GEO311_PUBLIC_URL in the test settings: relative
    assert crew.get(url).headers["content-type"] == "image/jpeg"

    wo = work_order_repo.get_work_order(web_store, wp)
    assert wo.status == "fixed"
    for rid in wo.member_ids:
        closing = [
            u for u in update_log.request_updates_of(web_store, rid) if u["kind"] == "status"
        ]
        assert [u["media_url"] for u in closing] == [url]
        [item] = crew.get(f"/open311/v2/requests/{rid}.json").json()
        # the reporter's own photo stays the request's photo; the others show the crew's
        assert item["media_url"] == ("https://example.org/reporter.jpg" if rid == own else url)
        assert url in crew.get(f"/requests/{rid}").text  # the public timeline
    updates = crew.get("/open311/v2/servicerequestupdates.json").json()
    assert {u["service_request_id"] for u in updates if u["media_url"] == url} == set(wo.member_ids)
    row = auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.done"))[0]
    assert row["after"]["media_url"] == url


def test_a_photo_that_is_not_an_image_is_refused_clearly(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, wp, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    token = csrf_of(crew.get("/crew").text)
    form = {
        "csrf_token": token,
        "key": "k-photo-bad001",
        "plan_id": str(plan_id),
        "crew_id": "A",
        "job_id": "wo-p",
        "action": "done",
        "note": "Pothole filled.",
    }
    fake = {"photo": ("photo.jpg", b"%PDF-1.4 not a photo", "image/jpeg")}
    page = crew.post("/crew/actions", data=form, files=fake)  # the plain form: an error page
    assert page.status_code == 400
    assert "photo: the file is not a JPEG, PNG or WebP image" in page.text
    script = crew.post(
        "/crew/actions", data=form, files=fake, headers={"Accept": "application/json"}
    )
    assert script.status_code == 400
    assert script.json()["error"].startswith("photo: the file is not a JPEG, PNG or WebP image")
    assert (
        work_order_repo.get_work_order(web_store, wp).status == "open"
    )  # nothing closed, the key is free
    cant = {**form, "action": "cant", "reason": "no_access", "key": "k-photo-cant01"}
    photo = {"photo": ("IMG.jpg", jpeg_with_gps(), "image/jpeg")}
    refused = crew.post("/crew/actions", data=cant, files=photo)
    assert (
        refused.status_code == 400
        and "photo: only a stop marked done takes a photo" in refused.text
    )
    empty = {"photo": ("", b"", "application/octet-stream")}  # the form's empty file field
    done = crew.post("/crew/actions", data=form, files=empty, follow_redirects=False)
    assert done.status_code == 303
    assert work_order_repo.get_work_order(web_store, wp).status == "fixed"
    assert all(
        not u["media_url"]
        for u in update_log.request_updates_of(web_store, wo_member(web_store, wp))
    )


def wo_member(store: Store, work_order_id: int) -> str:
    return work_order_repo.get_work_order(store, work_order_id).member_ids[0]


def test_a_refused_action_keeps_no_photo(
    browser, web_store: Store, catalogue: Catalogue, tmp_path: Path
) -> None:
    plan_id, _, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    headers = {"X-CSRF-Token": csrf_of(crew.get("/crew").text), "Accept": "application/json"}
    form = {"plan_id": str(plan_id), "crew_id": "A", "action": "done", "note": "Filled."}
    media = tmp_path / "media"
    wrong = {**form, "key": "k-photo-wrong1", "job_id": "wo-nope"}
    photo = {"photo": ("IMG_1.jpg", jpeg_with_gps((300, 200)), "image/jpeg")}
    refused = crew.post("/crew/actions", data=wrong, files=photo, headers=headers)
    assert refused.status_code == 404, refused.text
    assert list(media.glob("*.jpg")) == []  # stored for the action, removed when refused
    done = {**form, "key": "k-photo-right1", "job_id": "wo-p"}
    first = crew.post("/crew/actions", data=done, files=photo, headers=headers)
    assert first.json() == {"ok": True, "state": "done", "duplicate": False}
    kept = list(media.glob("*.jpg"))
    assert len(kept) == 1
    other = {"photo": ("IMG_2.jpg", jpeg_with_gps((200, 300)), "image/jpeg")}
    again = crew.post("/crew/actions", data=done, files=other, headers=headers)
    assert again.json() == {"ok": True, "state": "done", "duplicate": True}
    assert list(media.glob("*.jpg")) == kept  # the re-sent action's other photo is not kept


def test_a_crew_takes_back_its_own_cant_do_within_the_window_only(
    browser, web_store: Store, catalogue: Catalogue
) -> None:
    plan_id, wp, _ = _plan(web_store, catalogue)
    crew = browser("crewa")
    headers = {"X-CSRF-Token": csrf_of(crew.get("/crew").text)}
    base = {"plan_id": plan_id, "crew_id": "A", "job_id": "wo-p"}
    cant = {**base, "key": "k-cant-000001", "action": "cant", "reason": "no_access"}
    assert crew.post("/crew/actions", json=cant, headers=headers).json()["state"] == "cant_do"
    page = crew.get("/crew").text
    assert 'class="undo-cant" data-offline>' in page  # offered: not hidden
    undo = {**base, "key": "k-undo-000001", "action": "undo"}
    done_too = {**base, "key": "k-done-000001", "action": "done"}
    # finishing a stop given up is refused: one final state per stop
    assert crew.post("/crew/actions", json=done_too, headers=headers).status_code == 409
    back = crew.post("/crew/actions", json=undo, headers=headers)
    assert back.status_code == 200, back.text
    assert back.json()["state"] == "arrived"
    assert [
        r["actor"]
        for r in auth_store.audit_rows(web_store, auth_store.AuditFilter(action="stop.undo"))
    ] == ["crewa"]
    assert (
        work_order_repo.get_work_order(web_store, wp).status == "open"
    )  # a can't-do never touched it
    assert crew.post("/crew/actions", json=done_too, headers=headers).json()["state"] == "done"
    # a done is not taken back by the crew (it closed the work order)
    again = crew.post("/crew/actions", json={**undo, "key": "k-undo-000002"}, headers=headers)
    assert again.status_code == 409 and again.json()["state"] == "done"
    # the dispatcher has reopen, not undo
    desk = browser("dina")
    desk_headers = {"X-CSRF-Token": csrf_of(desk.get("/crew/A").text)}
    refused = desk.post(
        "/crew/actions", json={**undo, "key": "k-undo-000003"}, headers=desk_headers
    )
    assert refused.status_code == 403
