"""End to end in headless Chromium, network blocked except 127.0.0.1: dispatcher and crew.

Every page is checked by axe-core (no serious or critical violation) and for JavaScript
errors. The axe-core script is the test-only copy under ``tests/vendor``.
"""

from __future__ import annotations

import io
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from api.app import create_app
from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from geo311.plans import jobs_store
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log
from geo311.staff import store as auth_store
from geo311.staff import users
from geo311.workorders import repo as work_order_repo
from tests._browser import Watch, block_network, record_errors
from tests.api.conftest import make_settings
from tests.api.test_media import jpeg_with_gps
from tests.api.web.conftest import PASSWORD, ROLES
from tests.routing._dispatch_data import fill

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


def axe_script() -> Path:
    # the test-only copy of axe-core (tests/vendor), pinned in maps/static/vendor.toml
    from maps.assets import vendor_file

    return vendor_file("axe-core", "axe.min.js")


@dataclass
class Server:
    url: str
    store: Store
    hits: dict[str, int]  # requests the server answered, by path


@pytest.fixture()
def server(tmp_path: Path, catalogue: Catalogue) -> Iterator[Server]:
    import uvicorn

    url = f"sqlite:///{tmp_path / 'e2e.db'}"
    store = Store(url)
    for name, role in {**ROLES, "pat": "crew:pothole-1"}.items():
        users.create_user(store, name, role=role, password=PASSWORD)
    fill(store, catalogue)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(make_settings(url, media_dir=tmp_path / "media"), store=store)
    hits: dict[str, int] = {}

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            hits[scope["path"]] = hits.get(scope["path"], 0) + 1
        await app(scope, receive, send)

    config = uvicorn.Config(counting, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", store, hits)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        store.close()


@dataclass
class Session:
    context: Any
    page: Any
    base: str
    watch: Watch = field(default_factory=Watch)

    @property
    def errors(self) -> list[str]:
        return self.watch.errors

    @property
    def blocked(self) -> list[str]:
        return self.watch.blocked

    def go(self, path: str) -> None:
        self.page.goto(self.base + path, wait_until="load")

    def axe(self) -> None:
        """Fail on serious or critical axe-core violations and on JavaScript errors."""
        # served as if from the site (a test-only route), so the pages' CSP (script-src 'self')
        # holds while axe runs
        script = axe_script()
        url = f"{self.base}/__test__/axe.min.js"
        self.page.route(url, lambda route: route.fulfill(path=str(script)))
        self.page.add_script_tag(url=url)
        found = self.page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .map(v => ({id: v.id, impact: v.impact, help: v.help,
                             where: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
        )
        bad = [v for v in found if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{self.page.url}: {bad}"
        assert self.errors == [], f"{self.page.url}: JavaScript errors {self.errors}"


@pytest.fixture()
def open_session(chromium: Any, server: Server) -> Iterator[Any]:
    contexts: list[Any] = []

    def make(username: str, *, phone: bool = False) -> Session:
        viewport = {"width": 360, "height": 740} if phone else {"width": 1280, "height": 900}
        context = chromium.new_context(
            viewport=viewport,
            service_workers="allow" if phone else "block",
            is_mobile=phone,
            has_touch=phone,
        )
        contexts.append(context)
        page = context.new_page()
        session = Session(context, page, server.url)
        # only this server; the phone goes offline on purpose, so a failed load is no error
        block_network(context, session.watch, allow=lambda url: url.startswith(server.url + "/"))
        record_errors(page, session.watch, failed_loads=False)
        session.go("/login")
        session.axe()
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        return session

    yield make
    for context in contexts:
        context.close()


STREET_COLOURS = {(255, 255, 255), (252, 214, 164), (247, 250, 191), (176, 170, 160)}


def street_pixels(page: Any) -> float:
    """Return the share of the map's pixels drawn in the street tiles' street colours."""
    page.wait_for_function(
        "[...document.querySelectorAll('#map img.leaflet-tile')].some("
        "i => i.src.includes('/tiles/streets/') && i.complete && i.naturalWidth > 0)"
    )
    page.wait_for_timeout(300)  # the tiles fade in
    png = page.locator("#map").screenshot()
    if os.environ.get("GEO311_SCREENSHOT_DIR"):
        (Path(os.environ["GEO311_SCREENSHOT_DIR"]) / "console_map_offline.png").write_bytes(png)
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(shot.get_flattened_data())
    return sum(p in STREET_COLOURS for p in pixels) / len(pixels)


def test_dispatcher_plans_and_publishes_then_crew_closes_a_stop_offline(  # noqa: PLR0915 - one user story
    open_session: Any, server: Server
) -> None:
    disp = open_session("dina")
    page = disp.page
    assert page.url.endswith("/dispatch")
    disp.axe()
    disp.go("/dispatch?at=2015-10-06T07:00")
    assert page.locator("#work tbody tr").count() == 7
    assert page.locator("#map path.leaflet-interactive").count() == 7  # markers drew offline
    assert page.get_attribute("#map", "data-drawn") == "7"
    assert street_pixels(page) > 0.01, "the console map shows no streets offline"
    page.click("#work th:nth-child(5) button")  # sort by reports
    assert page.locator("#work th:nth-child(5)").get_attribute("aria-sort") == "ascending"
    disp.axe()

    # streetlight-2 is off today (htmx form, CSRF header)
    page.uncheck("#duty-streetlight-2")
    page.click("form[action='/dispatch/crews/streetlight-2'] button[type=submit]")
    page.wait_for_selector("text=Saved for 2015-10-06")
    day = auth_store.crew_day_rows(server.store, "2015-10-06")
    assert day["streetlight-2"]["on_duty"] is False

    page.fill("#plan-limit", "1")
    page.click("form[action='/dispatch/plan'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/dispatch/plans/\d+$"), timeout=120_000)
    plan_id = int(page.url.rsplit("/", 1)[1])
    assert "streetlight-2" not in [
        r["crew_id"] for r in plan_repo.get_plan(server.store, plan_id)["routes"]
    ]
    assert page.locator("section.card").count() >= 1
    assert page.locator("#map path.leaflet-interactive").count() >= 2
    disp.axe()

    # move a pothole stop by hand to the front of pothole-1's route: checked, then saved
    planned = plan_repo.get_plan(server.store, plan_id)
    jobs = {
        r["crew_id"]: [s["job_id"] for s in r["steps"] if s["type"] == "job"]
        for r in planned["routes"]
    }
    job = (jobs.get("pothole-2") or jobs["pothole-1"][-1:])[0]
    page.click(f"#stop-{job} summary")
    page.select_option(f"#to-{job}", "pothole-1")
    page.fill(f"#pos-{job}", "1")
    page.click(f"#stop-{job} form:has(select) button[type=submit]")
    page.wait_for_selector("text=Check the change")
    assert page.locator("#hard").count() == 0
    disp.axe()
    if page.locator("#accept").count():
        page.check("#accept")
    page.click("text=Save as a new plan")
    page.wait_for_url(re.compile(rf".*/dispatch/plans/(?!{plan_id}$)\d+$"))
    plan_id = int(page.url.rsplit("/", 1)[1])
    edited = plan_repo.get_plan(server.store, plan_id)
    assert edited["kind"] == "edited"
    route = next(r for r in edited["routes"] if r["crew_id"] == "pothole-1")
    assert next(s for s in route["steps"] if s["type"] == "job")["job_id"] == job
    assert len(auth_store.audit_rows(server.store, auth_store.AuditFilter(action="plan.edit"))) == 1
    disp.axe()
    page.click("text=Publish to the crews")
    page.wait_for_selector("text=the crews see these routes")
    disp.axe()

    doc = plan_repo.get_plan(server.store, plan_id)
    route = next(r for r in doc["routes"] if r["crew_id"] == "pothole-1")
    first = next(s for s in route["steps"] if s["type"] == "job")
    wo_id = int(first["ref"])

    crew = open_session("pat", phone=True)
    cpage = crew.page
    assert cpage.url.endswith("/crew")
    width = cpage.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"horizontal scroll on a 360 px phone: {width} px"

    # in a dead spot the phone still opens the day's stops: the service worker's copy
    cpage.wait_for_selector("html[data-offline-ready=yes]")
    cpage.wait_for_function(
        "async () => (await (await caches.open('geo311-crew-v3')).keys()).length >= 4"
    )
    crew.axe()  # after the page's own assets are cached (axe is a test-only script)
    crew.context.set_offline(True)
    served = server.hits.get("/crew", 0)
    response = cpage.reload()
    assert response is not None and response.from_service_worker
    assert server.hits.get("/crew", 0) == served  # not from the server
    assert cpage.locator("#stop-" + first["job_id"]).is_visible()
    cpage.click("#stop-" + first["job_id"] + " summary.primary")
    # a photo of the finished work goes with the queued action (shrunk, as a data URL)
    photo = {"name": "fixed.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps((2400, 1800))}
    cpage.set_input_files(f"#photo-{first['job_id']}", files=[photo])
    cpage.click("#stop-" + first["job_id"] + " form button.primary")
    cpage.wait_for_selector("#queue:has-text('1 action waiting to sync')")
    queued = cpage.evaluate("JSON.parse(localStorage.getItem('geo311.crew.queue'))[0].photo")
    assert queued.startswith("data:image/jpeg;base64,") and len(queued) <= 1_500_000
    assert work_order_repo.get_work_order(server.store, wo_id).status == "open"
    crew.context.set_offline(False)
    cpage.wait_for_selector("#queue", state="hidden", timeout=20_000)
    assert work_order_repo.get_work_order(server.store, wo_id).status == "fixed"
    assert len(auth_store.audit_rows(server.store, auth_store.AuditFilter(action="stop.done"))) == 1
    assert server.hits.get("/crew/actions", 0) == 1  # sent once, with its photo
    members = work_order_repo.get_work_order(server.store, wo_id).member_ids
    photos = {
        u["media_url"]
        for rid in members
        for u in update_log.request_updates_of(server.store, rid)
        if u["kind"] == "status"
    }
    [url] = photos
    # no GEO311_PUBLIC_URL in the test settings: a site-relative URL (never the Host's)
    assert url.startswith("/media/") and url.endswith(".jpg")
    with Image.open(io.BytesIO(cpage.request.get(server.url + url).body())) as shown:
        assert max(shown.size) == 1600  # shrunk on the phone, longest side 1,600 px
    cpage.reload()
    assert cpage.locator(f"#stop-{first['job_id']}.done").count() == 1
    assert (
        len(auth_store.audit_rows(server.store, auth_store.AuditFilter(action="stop.done"))) == 1
    )  # synced once
    crew.axe()
    assert [u for u in disp.blocked + crew.blocked if "openstreetmap" not in u] == []


def test_planner_and_admin_pages_pass_axe(open_session: Any, server: Server) -> None:
    planner = open_session("pete")
    assert planner.page.url.endswith("/planner")
    planner.axe()
    assert "No request has been closed yet" in planner.page.content()
    request_repo.update_request_fields(
        server.store,  # one closed request: the days-to-close charts draw
        "r-berkeley",
        status="fixed",
        closure_category="Case Resolved",
        closed_datetime=datetime(2015, 10, 5, 15, 0, tzinfo=UTC),
    )
    planner.go("/planner?at=2015-10-06T07:00")  # the charts: metrics and the backlog of then
    assert planner.page.locator("figure svg[role=img]").count() == 4  # and the trend by week
    assert planner.page.locator("#chart-backlog rect").count() >= 4
    if os.environ.get("GEO311_SCREENSHOT_DIR"):
        shots = Path(os.environ["GEO311_SCREENSHOT_DIR"])
        planner.page.screenshot(path=str(shots / "planner_charts.png"), full_page=True)
    planner.axe()
    admin = open_session("ada")
    assert admin.page.url.endswith("/admin/users")
    admin.axe()
    admin.page.fill("#new-username", "newcrew")
    admin.page.select_option("#new-role", "crew")
    admin.page.select_option("#new-crew", "pothole-2")
    admin.page.fill("#new-password", "short")
    admin.page.click("form[action='/admin/users'] button[type=submit]")
    admin.page.wait_for_selector("text=password: too short")
    assert admin.page.input_value("#new-crew") == "pothole-2"
    admin.axe()
    admin.go("/admin/audit")
    admin.axe()
    admin.go("/dispatch")  # not an admin page: the error page
    admin.axe()


def _shot(session: Any, name: str) -> None:
    if os.environ.get("GEO311_SCREENSHOT_DIR"):
        if not name.endswith("_360.png"):
            session.page.set_viewport_size({"width": 1366, "height": 900})
        shots = Path(os.environ["GEO311_SCREENSHOT_DIR"])
        session.page.screenshot(path=str(shots / name), full_page=True)


def test_planner_runs_a_what_if_and_sees_its_result_without_a_reload(
    open_session: Any, server: Server
) -> None:
    planner = open_session("pete")
    planner.page.fill("#wf-start", "2015-09-14")
    planner.page.fill("#wf-end", "2015-10-06")
    planner.page.select_option("#wf-service", "streetlights")
    planner.page.fill("#wf-sweep", "1,2")
    planner.page.click("form[action='/planner/whatif'] button[type=submit]")
    planner.page.wait_for_url("**/planner/whatif/*")
    path = "/" + planner.page.url.split("/", 3)[3]
    planner.page.evaluate("window.geo311SamePage = true")  # gone if the page reloads
    planner.page.wait_for_selector("#whatif-result table", timeout=300_000)
    assert planner.page.evaluate("window.geo311SamePage === true")
    assert server.hits[path] == 1 and server.hits[path + "/progress.json"] >= 1
    assert "State: done" in planner.page.inner_text("#whatif-state")
    # the result: a chart of days to repair per crew count and the same numbers as a table
    chart = planner.page.locator("#whatif-result figure svg[role=img]")
    assert chart.count() == 1 and chart.locator("rect").count() >= 3
    rows = planner.page.locator("#whatif-result table tbody th[scope=row]").all_inner_texts()
    assert rows == ["City (actual)", "1", "2"]
    assert "Target: median of" in planner.page.inner_text("#whatif-result")
    planner.axe()
    _shot(planner, "whatif_result_1366.png")
    start = auth_store.audit_rows(server.store, auth_store.AuditFilter(action="simulation.start"))[
        0
    ]
    assert start["actor"] == "pete"
    phone = open_session("pete", phone=True)  # the finished page, read on a phone
    phone.go(path)
    assert phone.page.locator("#whatif-result table").count() == 1
    phone.axe()
    _shot(phone, "whatif_result_360.png")


def _map_street_share(page: Any, selector: str) -> float:
    """Return the share of a map's pixels drawn in the street tiles' street colours."""
    page.wait_for_function(
        f"[...document.querySelectorAll('{selector} img.leaflet-tile')].some("
        "i => i.src.includes('/tiles/streets/') && i.complete && i.naturalWidth > 0)"
    )
    page.wait_for_timeout(300)  # the tiles fade in
    shot = Image.open(io.BytesIO(page.locator(selector).screenshot())).convert("RGB")
    pixels = list(shot.get_flattened_data())
    streets = STREET_COLOURS - {(255, 255, 255)}  # white is also the map's controls
    return sum(p in streets for p in pixels) / len(pixels)


def test_planner_dashboard_filters_and_maps_inside_the_page_offline(
    open_session: Any, server: Server
) -> None:
    for phone in (False, True):
        planner = open_session("pete", phone=phone)
        planner.go("/planner?from=2015-09-01&to=2015-10-31")
        planner.page.select_option("#filter-service", label="Street light outage")
        planner.page.click("form.planner-filters button[type=submit]")
        planner.page.wait_for_load_state("load")
        assert "service=streetlight_outage" in planner.page.url
        title = planner.page.inner_text("#by-service")
        assert "received 2015-09-01 to 2015-10-31, Street light outage" in title
        assert planner.page.locator("#chart-weeks path").count() == 2  # received, closed
        for selector in ("#planner-work-map", "#planner-hotspot-map"):
            assert _map_street_share(planner.page, selector) > 0.005, selector
        drawn = planner.page.get_attribute("#planner-work-map", "data-drawn")
        assert drawn is not None and int(drawn) >= 1
        planner.axe()
        _shot(planner, f"planner_dashboard_{360 if phone else 1366}.png")
        assert [u for u in planner.blocked if "openstreetmap" not in u] == []


def test_a_run_held_by_another_process_and_a_failed_run_pass_axe(
    open_session: Any, server: Server
) -> None:
    with server.store.begin():  # held by a worker elsewhere from the start: this one never runs it
        running = jobs_store.submit(server.store, "plan", {"time_limit_s": 10}, created_by="dina")
        assert jobs_store.claim(server.store, owner="elsewhere", lease_s=600)
    failed = jobs_store.submit(  # a worker here fails it: the plan does not exist
        server.store, "replan", {"plan_id": 999999, "time_limit_s": 1}, created_by="dina"
    )
    for phone in (False, True):
        disp = open_session("dina", phone=phone)
        disp.go(f"/dispatch/plan-jobs/{running}")
        assert "Solver running (time limit 10 s)" in disp.page.inner_text("main")
        disp.axe()
        disp.go(f"/dispatch/plan-jobs/{failed}")
        disp.page.wait_for_selector("text=The plan could not be made", timeout=60_000)
        assert "plan 999999 does not exist" in disp.page.inner_text("[role=alert]")
        loads = server.hits[f"/dispatch/plan-jobs/{failed}"]
        time.sleep(2)  # a failed run's page stays put: it does not poll and reload
        assert server.hits[f"/dispatch/plan-jobs/{failed}"] == loads
        disp.axe()


def _publish_one_stop(store: Store, crew_id: str) -> int:
    """Publish a plan with one stop for the crew (a work order of the filled store)."""
    wo = next(w for w in work_order_repo.query_work_orders(store) if w.service_group == "potholes")
    start = "2015-10-06T11:00:00+00:00"
    step = {"type": "job", "job_id": "wo-1", "ref": str(wo.work_order_id), "arrival": start}
    doc = {
        "origin": start,
        "plan_date": "2015-10-06",
        "timezone": "America/New_York",
        "routes": [
            {
                "crew_id": crew_id,
                "steps": [
                    {"type": "start", "arrival": start},
                    {**step, "lat": wo.lat, "lon": wo.lon},
                    {"type": "end", "arrival": "2015-10-06T13:00:00+00:00"},
                ],
            }
        ],
        "unassigned": [],
        "jobs": {"wo-1": {"service_name": "Pothole repair"}},
        "crews": [{"id": crew_id, "label": "Pothole crew 1"}],
    }
    plan_id = plan_repo.save_plan(store, doc, plan_date="2015-10-06")
    auth_store.insert_publication(
        store,
        plan_id=plan_id,
        plan_date="2015-10-06",
        published_at=datetime(2015, 10, 6, 11, 0, tzinfo=UTC),
        published_by="dina",
    )
    return plan_id


def test_crew_map_shows_you_are_here_when_the_phone_gives_a_position(
    open_session: Any, server: Server
) -> None:
    _publish_one_stop(server.store, "pothole-1")
    here = {"latitude": 42.3489, "longitude": -71.0752, "accuracy": 35}
    crew = open_session("pat", phone=True)
    crew.context.grant_permissions(["geolocation"])
    crew.context.set_geolocation(here)
    crew.go("/crew")
    page = crew.page
    page.wait_for_selector("#map[data-here]")
    assert page.get_attribute("#map", "data-here") == "42.348900,-71.075200,35"
    assert page.locator("#map path.here-marker").count() == 1
    assert page.locator("#map path.here-accuracy").count() == 1
    crew.context.set_geolocation({**here, "latitude": 42.3500})  # walking: the marker follows
    page.wait_for_function(
        "() => document.getElementById('map').dataset.here.startsWith('42.350000,')"
    )
    assert page.locator("#map path.here-marker").count() == 1
    page.click("#stop-wo-1 summary.primary")  # the done form with its photo field
    assert page.locator("#photo-wo-1[type=file][capture=environment]").is_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"horizontal scroll on a 360 px phone with the form open: {width} px"
    if os.environ.get("GEO311_SCREENSHOT_DIR"):
        shots = Path(os.environ["GEO311_SCREENSHOT_DIR"])
        page.screenshot(path=str(shots / "crew_here_photo.png"), full_page=True)
    crew.axe()

    refused = open_session("pat", phone=True)  # no permission
    refused.go("/crew")
    page = refused.page
    assert page.get_attribute("#map", "data-drawn") == "1"
    page.wait_for_timeout(500)
    assert page.get_attribute("#map", "data-here") is None
    assert page.locator("#map path.here-marker").count() == 0
    refused.axe()  # no JavaScript error either


def test_a_district_dispatchers_console_plans_only_its_district(
    open_session: Any, server: Server
) -> None:
    district = "Back Bay / South End"
    users.create_user(server.store, "dora", role="dispatcher", password=PASSWORD, district=district)
    shots = os.environ.get("GEO311_SCREENSHOT_DIR")
    for phone in (False, True):
        dora = open_session("dora", phone=phone)
        if not phone:
            dora.page.set_viewport_size({"width": 1366, "height": 900})
        dora.go("/dispatch?at=2015-10-06T07:00&districts=all")  # she may look at every district
        assert "All districts" in dora.page.inner_text("#district-scope")
        plan_form = dora.page.locator("form[action='/dispatch/plan']")
        assert f"{district} (yours)" in plan_form.inner_text()
        assert plan_form.locator("input[name=districts]").get_attribute("value") == "mine"
        dora.axe()
        if shots:
            name = "phone_360" if phone else "desktop_1366"
            dora.page.screenshot(
                path=str(Path(shots) / f"dispatch_district_{name}.png"), full_page=True
            )
    dora.page.fill("#plan-limit", "1")
    plan_form.locator("button[type=submit]").click()
    dora.page.wait_for_url(re.compile(r".*/dispatch/plans/\d+$"), timeout=120_000)
    plan_id = int(dora.page.url.rsplit("/", 1)[1])
    assert (
        plan_repo.get_plan(server.store, plan_id)["district"] == district
    )  # her district, not the city
    dora.axe()
