"""A citizen reports in Spanish in Chromium (360 px phone, network blocked but 127.0.0.1).

The citizen opens /report in English, switches to Spanish with the page's language links,
sends the form without a place, reads the Spanish error next to the address, fixes it and
lands on the Spanish status page; axe-core finds no serious or critical violation in Spanish.
The report's contact keeps the language, so its e-mails are written in Spanish.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from geo311.db.notify_schema import contacts
from geo311.db.store import Store
from geo311.settings import Settings

from .test_public_pages import Phone, _shot, axe_serious, browser, phone, site

__all__ = ["browser", "phone", "site"]  # the fixtures, shared with the English story


@pytest.mark.browser
def test_a_citizen_switches_to_spanish_and_fixes_a_missing_field(  # noqa: PLR0915 - one user story
    site: tuple[str, Store, Settings], phone: Phone
) -> None:
    base, store, _settings = site
    page = phone.page
    page.goto(f"{base}/report", wait_until="domcontentloaded")  # street tiles may come later
    assert page.get_attribute("html", "lang") == "en"
    page.click("nav.languages a[lang='es']")
    page.wait_for_url(f"{base}/report?lang=es")
    assert page.get_attribute("html", "lang") == "es"
    assert page.inner_text("h1") == "Informar de un problema"
    assert page.get_attribute("nav.languages a[lang='es']", "aria-current") == "true"
    page.select_option("#service_code", "pothole")
    # the city's own texts (service, questions) come from its [translations.es]
    assert page.inner_text("#service_code option:checked") == "Reparación de baches"
    assert page.is_visible("label:has-text('¿Qué tamaño tiene el bache?')")
    page.select_option("select[name='attribute[size]']", "medium")
    page.fill("#description", "Bache hondo junto a la acera")
    page.fill("#email", "ana@example.org")

    page.click("#submit")  # no place given
    page.wait_for_selector("#location-error:not([hidden])")
    said = page.inner_text("#location-error")
    assert said.startswith("Díganos dónde está el problema"), said
    assert page.get_attribute("#address_string", "aria-invalid") == "true"
    _shot(page, "report_es_error_phone.png")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"horizontal scroll on a 360 px phone: {width} px"
    assert axe_serious(page) == []

    page.fill("#address_string", "145 Ipswich St")
    assert page.is_hidden("#location-error")  # cleared as soon as the field changes
    page.click("#submit")
    page.wait_for_url(f"{base}/requests/*")
    rid = page.url.rsplit("/", 1)[1]
    assert page.get_attribute("html", "lang") == "es"  # the cookie keeps the choice
    assert page.inner_text("h1") == "Reparación de baches"
    assert page.inner_text("#status") == "Abierto"
    shown = page.inner_text("#reported")
    assert "Lo que se informó" in shown
    assert "¿Qué tamaño tiene el bache?\nHasta el tamaño de una rueda de coche" in shown
    assert "Aviso recibido" in page.inner_text("#timeline")
    assert page.inner_text("a[href='/report']:not(header a)") == "Informar de otro problema"
    _shot(page, "request_status_es_phone.png")
    assert axe_serious(page) == []
    with store.engine.connect() as conn:
        language = conn.execute(
            sa.select(contacts.c.language).where(contacts.c.service_request_id == rid)
        ).scalar_one()
    assert language == "es"  # its e-mails go out in Spanish

    page.set_viewport_size({"width": 1366, "height": 900})
    _shot(page, "request_status_es_1366.png")
    page.goto(f"{base}/report", wait_until="domcontentloaded")
    assert page.get_attribute("html", "lang") == "es"
    page.select_option("#service_code", "pothole")
    _shot(page, "report_es_1366.png")
    assert axe_serious(page) == []
    assert phone.errors == [] and all("tile.openstreetmap.org" in u for u in phone.blocked)
