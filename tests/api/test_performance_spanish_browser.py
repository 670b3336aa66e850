"""/performance in Spanish in Chromium, network blocked: words, numbers and dates the
es_US way, the city's service names in Spanish, axe-clean on a phone and a desktop."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests._browser import Watch, block_network, record_errors

from .test_performance_browser import AXE, SIZES, site

__all__ = ["site"]  # the demo data served, shared

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("size", list(SIZES))
def test_the_service_record_in_spanish(chromium: Any, site: str, size: str) -> None:  # noqa: F811
    context = chromium.new_context(viewport=SIZES[size], is_mobile=size == "phone")
    watch = Watch()
    block_network(context, watch)
    page = context.new_page()
    record_errors(page, watch)
    page.goto(f"{site}/performance?from=2015-09-01&to=2015-11-30&lang=es", wait_until="load")
    page.wait_for_function("document.getElementById('map').getAttribute('data-drawn') !== null")
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("h1") == "Cómo va Boston 311"
    main = page.inner_text("main")
    assert "Solicitudes recibidas del 1 de septiembre de 2015 al 30 de noviembre de 2015" in main
    assert "Farola apagada" in main and "Street light outage" not in main
    assert "Semana a semana" in main and "Cómo se calculan estas cifras" in main
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= SIZES[size]["width"], f"the page scrolls sideways: {width} px"
    shots = Path(os.environ.get("GEO311_SCREENSHOT_DIR") or tempfile.gettempdir())
    page.screenshot(path=str(shots / f"performance_es_{size}.png"), full_page=True)
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
