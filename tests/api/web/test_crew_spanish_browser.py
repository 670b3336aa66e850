"""In headless Chromium, network blocked: a crew of a Spanish-speaking city on a 360 px phone.

The city's own language is Spanish (``languages = ["es", "en"]``): the crew's page, its
scripts' words (the next-stop card, the held "done" and its sync) and axe-core, in Spanish.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from geo311.embedded import EMBEDDED_DATA_DIR
from tests.api.web.test_browser import (  # noqa: F401 - the fixtures of the browser tests
    Server,
    open_session,
    server,
)
from tests.api.web.test_crew_day_browser import publish_two_stops

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def spanish_city(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Boston's profile with Spanish first (its files named by absolute path)."""
    text = (EMBEDDED_DATA_DIR / "city.toml").read_text(encoding="utf-8")
    text = text.replace('languages = ["en", "es"]', 'languages = ["es", "en"]')
    for name in ("services.toml", "crews.toml", "districts.geojson", "osm/", "boston311/"):
        text = text.replace(f'"{name}', f'"{EMBEDDED_DATA_DIR.as_posix()}/{name}')
    folder = tmp_path / "city"
    folder.mkdir()
    (folder / "city.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("GEO311_CITY_FILE", str(folder / "city.toml"))
    return folder


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("GEO311_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def test_a_crew_works_its_day_in_spanish(
    spanish_city: Path,
    open_session: Any,  # noqa: F811
    server: Server,  # noqa: F811
) -> None:
    publish_two_stops(server.store, "pothole-1")
    crew = open_session("pat", phone=True)
    page = crew.page
    crew.go("/crew")
    assert page.get_attribute("html", "lang") == "es"
    card = page.locator("#next")
    assert card.locator("h2").inner_text().startswith("Próxima parada: 1.")
    assert page.locator("#progress").inner_text() == "0 de 2 terminadas"
    _shot(page, "crew_day_es_phone.png")
    crew.axe()
    page.click("#stop-wo-1 summary.primary")
    page.click("#stop-wo-1 form button.primary")
    held = page.locator("#stop-wo-1 .state").inner_text()
    assert held == "Hecho: se envía en 10 segundos. Deshaga si fue un error.", held
    page.wait_for_selector("#stop-wo-1 .state:has-text('Hecho (sincronizado).')", timeout=30_000)
    assert card.locator("h2").inner_text().startswith("Próxima parada: 2.")
    assert page.locator("#progress").inner_text() == "1 de 2 terminadas"
    _shot(page, "crew_day_es_done_phone.png")
    crew.axe()
    crew.watch.assert_clean()
