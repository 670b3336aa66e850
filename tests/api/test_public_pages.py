"""The citizen's pages in Chromium on a phone (360x740), network blocked except 127.0.0.1:
/report (map or address, service, nearby open reports, errors next to the field) and the
public timeline /requests/{id}; axe-core finds no serious or critical violation."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geo311.db.store import Store
from geo311.requests import repo as request_repo
from geo311.settings import Settings
from maps.assets import vendor_file

from .conftest import make_settings

AXE = vendor_file("axe-core", "axe.min.js")
CHROMIUM = Path("/usr/bin/chromium")
PHONE = {"width": 360, "height": 740}


@dataclass
class Located:
    lat: float
    lon: float
    match_type: str = "address_point"
    score: float | None = 1.0
    reason: str = ""


class KnownAddresses:
    """A geocoder that knows two addresses (the offline one is tested in tests/geo311)."""

    PLACES = {
        "145 ipswich st": Located(42.3505, -71.0810),
        "1 dalton st": Located(42.3466, -71.0851),
    }

    def geocode(self, address: str) -> Located | None:
        return self.PLACES.get(address.strip().lower(), Located(None, None, reason="unknown"))  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[tuple[str, Store, Settings]]:
    yield from _serve(tmp_path)


@pytest.fixture()
def limited_site(tmp_path: Path) -> Iterator[tuple[str, Store, Settings]]:
    """The site taking one report an hour from a client address."""
    yield from _serve(tmp_path, report_limit_per_ip=1)


def _serve(tmp_path: Path, **extra: object) -> Iterator[tuple[str, Store, Settings]]:
    import uvicorn

    settings = make_settings(
        f"sqlite:///{tmp_path / 'site.db'}", media_dir=tmp_path / "media", **extra
    )
    store = Store(settings.database_url)
    app = create_app(settings, store=store, geocoder_factory=lambda _s: KnownAddresses())
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", store, settings
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing; install it with apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


@dataclass
class Phone:
    page: Any
    errors: list[str]
    blocked: list[str]


@pytest.fixture()
def phone(browser: Any) -> Iterator[Phone]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    result = Phone(page, [], [])
    page.on("pageerror", lambda exc: result.errors.append(str(exc)))

    def route(r: Any) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            result.blocked.append(r.request.url)
            r.abort("internetdisconnected")

    page.route("**/*", route)
    yield result
    context.close()


def axe_serious(page: Any) -> list[str]:
    # served as if from the site (a test-only URL), so the page's CSP (script-src 'self') holds
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    url = f"{origin}/__test__/axe.min.js"
    page.route(url, lambda route: route.fulfill(path=str(AXE)))
    page.add_script_tag(url=url)
    result = page.evaluate("async () => await axe.run(document)")
    assert result["passes"], "axe-core ran no check"
    return [
        f"{v['id']}: {v['help']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _seed_report(base: str, settings: Settings, store: Store) -> str:
    # An earlier pothole report at 145 Ipswich St, sent through Open311 by an app.
    app = create_app(settings, store=store, geocoder_factory=lambda _s: KnownAddresses())
    with TestClient(app) as client:
        data = {
            "api_key": settings.api_keys[0],
            "service_code": "pothole",
            "lat": "42.3505",
            "long": "-71.0810",
            "address_string": "145 Ipswich St",
            "email": "first@example.org",
            "first_name": "Grace",
            "last_name": "Hopper",
        }
        resp = client.post("/open311/v2/requests.json", data=data)
        assert resp.status_code == 200, resp.text
        return str(resp.json()[0]["service_request_id"])


@pytest.mark.browser
def test_report_page_on_a_phone(site: tuple[str, Store, Settings], phone: Phone) -> None:
    base, store, settings = site
    earlier = _seed_report(base, settings, store)
    page = phone.page
    page.goto(f"{base}/report", wait_until="domcontentloaded")  # street tiles may come later
    assert page.evaluate(
        "() => !!document.querySelector('#map .leaflet-container, #map.leaflet-container')"
    )
    assert axe_serious(page) == []

    # Nothing chosen: a plain-words message is shown next to the service field.
    page.fill("#description", "Deep hole by the curb")
    page.click("#submit")
    page.wait_for_selector("#service_code-error:not([hidden])")
    assert page.inner_text("#service_code-error") == "Choose what the problem is from the list."
    assert page.input_value("#description") == "Deep hole by the curb"

    # An address the geocoder cannot place: the error sits by the address, the text stays.
    page.select_option("#service_code", "pothole")
    page.fill("#address_string", "99 Nowhere Rd")
    page.click("#find")
    page.wait_for_selector("#location-error:not([hidden])")
    assert "could not find this address" in page.inner_text("#location-error")
    assert page.input_value("#description") == "Deep hole by the curb"

    # The address is found: the earlier report nearby is offered.
    page.fill("#address_string", "145 Ipswich St")
    page.click("#find")
    page.wait_for_selector("#nearby:not([hidden]) li")
    assert "145 Ipswich St" in page.inner_text("#nearby-list")
    assert page.get_attribute("#nearby-list a", "href") == f"/requests/{earlier}"
    assert axe_serious(page) == []
    page.click("#nearby-list button")
    page.click("#submit")
    page.wait_for_url(f"{base}/requests/*")
    rid = page.url.rsplit("/", 1)[1]
    assert (
        rid != earlier
        and request_repo.get_request(store, rid).work_order_id
        == request_repo.get_request(store, earlier).work_order_id
    )
    assert request_repo.get_request(store, rid).description == "Deep hole by the curb"
    assert "Merged: 1 neighbour reported it too" in page.inner_text("#timeline")
    assert axe_serious(page) == []
    assert phone.errors == [] and all("tile.openstreetmap.org" in u for u in phone.blocked)


TILE_ZOOMS = """() => [...document.querySelectorAll('#map img.leaflet-tile')]
  .filter((i) => i.src.includes('/tiles/streets/') && i.complete && i.naturalWidth > 0)
  .map((i) => Number(i.src.split('/tiles/streets/')[1].split('/')[0]))"""


@pytest.mark.browser
def test_the_report_map_opens_on_the_citys_streets_and_the_whole_city_is_one_click_away(
    site: tuple[str, Store, Settings], phone: Phone
) -> None:
    base, _store, _settings = site
    page = phone.page
    page.goto(f"{base}/report")
    # the densest part of the street graph (Back Bay), not the whole service area (zoom ~10)
    page.wait_for_function(f"() => ({TILE_ZOOMS})().some((z) => z >= 14)")
    if os.environ.get("GEO311_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["GEO311_SCREENSHOT_DIR"]) / "report_phone.png"))
    page.click("text=Whole city")
    page.wait_for_function(f"() => ({TILE_ZOOMS})().some((z) => z <= 11)")
    assert page.locator("text=My location").count() == 1
    assert axe_serious(page) == []
    assert phone.errors == [] and all("tile.openstreetmap.org" in u for u in phone.blocked)


@pytest.mark.browser
def test_report_page_says_in_plain_words_when_too_many_reports_came_from_the_phone(
    limited_site: tuple[str, Store, Settings], phone: Phone
) -> None:
    base, store, _settings = limited_site
    page = phone.page
    for attempt in range(2):
        page.goto(f"{base}/report", wait_until="domcontentloaded")  # street tiles may come later
        page.select_option("#service_code", "pothole")
        page.fill("#address_string", "145 Ipswich St")
        page.click("#find")
        page.wait_for_selector("#placed:has-text('Placed')")
        page.fill("#description", f"Deep hole number {attempt}")
        page.click("#submit")
        if attempt == 0:
            page.wait_for_url(f"{base}/requests/*")
    page.wait_for_selector("#form-error:not([hidden])")
    shown = page.inner_text("#form-error")
    assert shown.startswith("Too many reports were sent from your connection (at most 1 an hour)")
    assert "please try again in about" in shown
    # The message sits above the form: it takes the focus, so a phone scrolls to it.
    assert page.evaluate("() => document.activeElement.id") == "form-error"
    assert page.input_value("#description") == "Deep hole number 1"  # nothing typed is lost
    assert request_repo.count_requests(store) == 1
    assert axe_serious(page) == []
    assert phone.errors == []


@pytest.mark.browser
def test_timeline_shows_schedule_and_fix_without_personal_details(
    site: tuple[str, Store, Settings], phone: Phone
) -> None:
    from tests.api.test_request_status import save_plan  # type: ignore[import-not-found]

    base, store, settings = site
    rid = _seed_report(base, settings, store)
    wo = request_repo.get_request(store, rid).work_order_id
    assert wo is not None
    app = create_app(settings, store=store)
    with TestClient(app) as client:
        plan = save_plan(store, [("A", wo, 600)])
        assert (
            client.post(
                f"/plans/{plan}/publish", headers={"Authorization": "Bearer disp-token"}
            ).status_code
            == 200
        )
        page = phone.page
        page.goto(f"{base}/requests/{rid}", wait_until="load")
        assert "A crew is expected around" in page.inner_text("#expected")
        assert "Scheduled" in page.inner_text("#timeline")
        resp = client.post(
            f"/workorders/{wo}/status",
            json={"status": "fixed", "note": "Filled by crew A"},
            headers={"Authorization": "Bearer disp-token"},
        )
        assert resp.status_code == 200, resp.text
    page.goto(f"{base}/requests/{rid}", wait_until="load")
    text = page.inner_text("body")
    assert "Filled by crew A" in text and page.inner_text("#status") == "Fixed"
    assert page.query_selector("#expected") is None
    for private in ("Grace", "Hopper", "first@example.org"):
        assert private not in page.content()
    assert axe_serious(page) == []
    page.goto(f"{base}/requests/nope", wait_until="load")
    assert "Report not found" in page.inner_text("h1")
    assert phone.errors == []


def _shot(page: Any, name: str) -> None:
    import os

    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


@pytest.mark.browser
def test_the_citizen_fixes_a_missing_field_without_retyping_anything(  # noqa: PLR0915 - one user story
    site: tuple[str, Store, Settings], phone: Phone
) -> None:
    from tests.api.test_media import jpeg_with_gps

    base, store, _settings = site
    page = phone.page
    page.goto(f"{base}/report", wait_until="domcontentloaded")  # street tiles may come later
    assert page.locator("fieldset.questions:visible").count() == 0  # no service yet
    page.select_option("#service_code", "pothole")
    # the service's own questions (services.json attributes), in plain words
    assert page.is_visible("label:has-text('How large is the pothole?')")
    page.select_option("select[name='attribute[size]']", "medium")
    page.fill("#description", "Deep hole by the curb")
    page.set_input_files(
        "#media", files=[{"name": "hole.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}]
    )
    page.fill("#email", "ada@example.org")
    page.fill("#phone", "617 555 0100")
    _shot(page, "report_filled_phone.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"horizontal scroll on a 360 px phone: {width} px"

    # no place given: the message sits by the address, in plain words, and nothing is lost
    page.click("#submit")
    page.wait_for_selector("#location-error:not([hidden])")
    assert page.inner_text("#location-error").startswith("Tell us where the problem is")
    assert page.get_attribute("#address_string", "aria-invalid") == "true"
    # an address the city's map does not know: the server's refusal, in plain words
    page.fill("#address_string", "99 Nowhere Rd")
    assert page.is_hidden("#location-error")  # cleared as soon as the field changes
    page.click("#submit")
    page.wait_for_selector("#location-error:not([hidden])")
    said = page.inner_text("#location-error")
    assert said.startswith("We could not find this address on the city's map"), said
    assert "address_string" not in said and "lat" not in said.split()
    _shot(page, "report_error_phone.png")
    assert axe_serious(page) == []
    for field, value in {
        "#description": "Deep hole by the curb",
        "#email": "ada@example.org",
        "#phone": "617 555 0100",
        "select[name='attribute[size]']": "medium",
        "#service_code": "pothole",
    }.items():
        assert page.input_value(field) == value, field  # kept: nothing to type again
    assert page.evaluate("document.getElementById('media').files.length") == 1

    # fixing only the address sends the whole report
    page.fill("#address_string", "145 Ipswich St")
    assert page.is_hidden("#location-error")
    page.click("#submit")
    page.wait_for_url(f"{base}/requests/*")
    rid = page.url.rsplit("/", 1)[1]
    req = request_repo.get_request(store, rid)
    assert req.description.startswith("Deep hole by the curb") and "size: medium" in req.description
    assert req.media_url
    # the status page shows what was reported (description and photo), not the contact
    shown = page.inner_text("#reported")
    assert "Deep hole by the curb" in shown and "size:" not in shown
    assert "How large is the pothole?\nUp to a car tyre" in shown
    page.wait_for_function("document.querySelector('#reported img').naturalWidth > 0")
    for private in ("ada@example.org", "617 555 0100"):
        assert private not in page.content()
    _shot(page, "request_status_phone.png")
    assert axe_serious(page) == []
    page.set_viewport_size({"width": 1366, "height": 900})
    _shot(page, "request_status_1366.png")
    page.goto(f"{base}/report", wait_until="domcontentloaded")  # street tiles may come later
    page.select_option("#service_code", "pothole")
    _shot(page, "report_1366.png")
    assert axe_serious(page) == []
    assert phone.errors == [] and all("tile.openstreetmap.org" in u for u in phone.blocked)


def test_the_reported_text_and_the_answers_are_told_apart() -> None:
    from api.public.service import reported
    from geo311.city.profile import default_city

    questions = default_city().attributes["potholes"]
    text, answers = reported("Deep hole\nnear the bus stop\nsize: large\nfoo: bar", questions)
    assert text == "Deep hole\nnear the bus stop\nfoo: bar"  # not a question: the citizen's
    assert answers == [("How large is the pothole?", "Larger than a car tyre")]
    assert reported("", questions) == ("", [])
