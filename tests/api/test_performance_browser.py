"""/performance in Chromium, network blocked: charts and map drawn, axe-clean, phone-sized."""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from geo311.city.catalogue import load_catalogue
from geo311.db.store import Store
from geo311.ingest.importer import ImportOptions, import_file
from geo311.settings import get_settings
from maps.assets import vendor_file
from tests._browser import Watch, block_network, record_errors

from .conftest import make_settings

pytestmark = pytest.mark.browser
AXE = vendor_file("axe-core", "axe.min.js")
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 360, "height": 740}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The demo data served by uvicorn on a free port."""
    import uvicorn

    tmp = tmp_path_factory.mktemp("performance")
    settings = make_settings(f"sqlite:///{tmp / 'site.db'}", media_dir=tmp / "media")
    store = Store(settings.database_url)
    sample = get_settings().city.file("sample_requests")
    assert sample is not None
    import_file(store, sample, load_catalogue(), ImportOptions(rejects_path=tmp / "rejects.csv"))
    app = create_app(settings, store=store)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_performance_page_draws_offline_and_passes_axe(chromium: Any, site: str, size: str) -> None:
    context = chromium.new_context(viewport=SIZES[size], is_mobile=size == "phone")
    watch = Watch()
    block_network(context, watch)
    page = context.new_page()
    record_errors(page, watch)
    page.goto(f"{site}/performance?from=2015-09-01&to=2015-11-30", wait_until="load")
    page.wait_for_function("document.getElementById('map').getAttribute('data-drawn') !== null")
    drawn = int(page.get_attribute("#map", "data-drawn") or 0)
    assert drawn > 100, "the map drew no points"
    assert page.locator("svg.chart").count() >= 4  # days, target, weeks, backlog
    assert "Street light outage" in page.inner_text("main")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], f"the page scrolls sideways: {width} px"
    shots = Path(os.environ.get("GEO311_SCREENSHOT_DIR") or tempfile.gettempdir())
    page.screenshot(path=str(shots / f"performance_{size}.png"), full_page=True)
    # served as if from the site (a test-only URL), so the page's CSP (script-src 'self') holds
    page.route(f"{site}/__test__/axe.min.js", lambda route: route.fulfill(path=str(AXE)))
    page.add_script_tag(url=f"{site}/__test__/axe.min.js")
    result = page.evaluate("async () => await axe.run(document)")
    serious = [
        f"{v['id']}: {v['help']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert result["passes"] and not serious, serious
    watch.assert_clean()
    context.close()
