"""End to end in headless Chromium, network blocked except 127.0.0.1: dispatcher and crew.

Every page is checked by axe-core (no serious or critical violation) and for JavaScript
errors. The axe-core script is the test-only copy under ``tests/vendor``.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from geo311 import auth_store, users
from geo311.catalogue import Catalogue
from geo311.store import Store
from tests.api.conftest import make_settings
from tests.api.web.conftest import PASSWORD, ROLES
from tests.routing._dispatch_data import fill

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


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
    app = create_app(make_settings(url), store=store)
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


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Session:
    context: Any
    page: Any
    base: str
    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)

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

        def route(r: Any) -> None:
            if r.request.url.startswith(server.url + "/"):
                r.continue_()
            else:
                session.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page.on("pageerror", lambda exc: session.errors.append(str(exc)))
        page.on(
            "console",
            lambda m: (
                session.errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )
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


def test_dispatcher_plans_and_publishes_then_crew_closes_a_stop_offline(
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
    assert "streetlight-2" not in [r["crew_id"] for r in server.store.get_plan(plan_id)["routes"]]
    assert page.locator("section.card").count() >= 1
    assert page.locator("#map path.leaflet-interactive").count() >= 2
    disp.axe()

    # move a pothole stop by hand to the front of pothole-1's route: checked, then saved
    planned = server.store.get_plan(plan_id)
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
    edited = server.store.get_plan(plan_id)
    assert edited["kind"] == "edited"
    route = next(r for r in edited["routes"] if r["crew_id"] == "pothole-1")
    assert next(s for s in route["steps"] if s["type"] == "job")["job_id"] == job
    assert len(auth_store.audit_rows(server.store, action="plan.edit")) == 1
    disp.axe()
    page.click("text=Publish to the crews")
    page.wait_for_selector("text=the crews see these routes")
    disp.axe()

    doc = server.store.get_plan(plan_id)
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
        "async () => (await (await caches.open('geo311-crew-v1')).keys()).length >= 4"
    )
    crew.axe()  # after the page's own assets are cached (axe is a test-only script)
    crew.context.set_offline(True)
    served = server.hits.get("/crew", 0)
    response = cpage.reload()
    assert response is not None and response.from_service_worker
    assert server.hits.get("/crew", 0) == served  # not from the server
    assert cpage.locator("#stop-" + first["job_id"]).is_visible()
    cpage.click("#stop-" + first["job_id"] + " summary.primary")
    cpage.click("#stop-" + first["job_id"] + " form button.primary")
    cpage.wait_for_selector("#queue:has-text('1 action waiting to sync')")
    assert server.store.get_work_order(wo_id).status == "open"
    crew.context.set_offline(False)
    cpage.wait_for_selector("#queue", state="hidden", timeout=20_000)
    assert server.store.get_work_order(wo_id).status == "fixed"
    assert len(auth_store.audit_rows(server.store, action="stop.done")) == 1
    cpage.reload()
    assert cpage.locator(f"#stop-{first['job_id']}.done").count() == 1
    assert len(auth_store.audit_rows(server.store, action="stop.done")) == 1  # synced once
    crew.axe()
    assert [u for u in disp.blocked + crew.blocked if "openstreetmap" not in u] == []


def test_planner_and_admin_pages_pass_axe(open_session: Any) -> None:
    planner = open_session("pete")
    assert planner.page.url.endswith("/planner")
    planner.axe()
    admin = open_session("ada")
    assert admin.page.url.endswith("/admin/users")
    admin.axe()
    admin.page.fill("#new-username", "newcrew")
    admin.page.select_option("#new-role", "crew")
    admin.page.fill("#new-crew", "pothole-2")
    admin.page.fill("#new-password", "short")
    admin.page.click("form[action='/admin/users'] button[type=submit]")
    admin.page.wait_for_selector("text=password: too short")
    assert admin.page.input_value("#new-crew") == "pothole-2"
    admin.axe()
    admin.go("/admin/audit")
    admin.axe()
    admin.go("/dispatch")  # not an admin page: the error page
    admin.axe()
