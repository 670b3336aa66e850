"""In headless Chromium, network blocked: a dispatcher of a Spanish-speaking city.

The city's own language is Spanish (``languages = ["es", "en"]``): the console and a work
order's page are in Spanish, on a desktop and on a 360 px phone, and pass axe-core.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    open_session,
    server,
)
from tests.api.web.test_crew_day_browser import publish_two_stops
from tests.api.web.test_crew_spanish_browser import spanish_city  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CONSOLE = "/dispatch?at=2015-10-06T07:00"


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_a_dispatcher_reads_the_console_and_a_work_order_in_spanish(
    spanish_city: Path,  # noqa: F811
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    disp = open_session("dina")
    page = disp.page
    page.set_viewport_size({"width": 1366, "height": 900})
    disp.go(CONSOLE)
    assert page.get_attribute("html", "lang") == "es"
    assert page.locator("h1").inner_text().startswith("Trabajo abierto")
    assert page.locator("#plan").inner_text() == "Planificar el día"
    assert (
        page.locator("label[for=q]").inner_text()
        == "Buscar una orden de trabajo (número o dirección)"
    )
    assert "órdenes de trabajo abiertas" in page.locator("ul.counts").inner_text()
    assert page.locator("#work-table th").first.inner_text() == "Orden de trabajo"
    assert "Despacho" in page.locator("header nav").inner_text()
    # the map script's words (maps.js) come from the page, in its language
    page.wait_for_selector("#progress:has-text('Todavía no hay ningún plan publicado')")
    assert "Street light outage" not in page.locator("#work-table").inner_text()  # the city's
    assert "Farola apagada" in page.locator("#work-table").inner_text()  # [translations.es]
    _shot(page, "console_es.png")
    disp.axe()
    page.locator("#work-table tbody a").first.click()
    page.wait_for_url("**/dispatch/workorders/*")
    assert page.locator("h1").inner_text().startswith("Orden de trabajo wo-")
    assert page.locator("#wo-actions").inner_text() == "Acciones"
    assert page.locator("button.danger").inner_text() == "Cerrar con esta nota"
    timeline = page.locator("ol.timeline").inner_text()
    assert "Orden de trabajo abierta" in timeline and "recibido" in timeline
    _shot(page, "workorder_es.png")
    disp.axe()
    plan_id = publish_two_stops(server.store, "pothole-1")
    disp.go(f"/dispatch/plans/{plan_id}")
    assert page.locator("h1").inner_text().startswith(f"Plan n.º {plan_id} para el 2015-10-06")
    assert "Hoja de ruta" in page.locator(".route").first.inner_text()
    _shot(page, "plan_es.png")
    disp.axe()
    disp.watch.assert_clean()


def test_the_spanish_console_fits_a_phone(
    spanish_city: Path,  # noqa: F811
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    disp = open_session("dina", phone=True)
    page = disp.page
    disp.go(CONSOLE)
    assert page.locator("h1").inner_text().startswith("Trabajo abierto")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"horizontal scroll on a 360 px phone: {width} px"
    _shot(page, "console_es_360.png")
    disp.axe()
    disp.watch.assert_clean()
