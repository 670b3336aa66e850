"""The citizen's pages in the city's languages: ``?lang=``, the cookie, ``Accept-Language``.

Boston offers English and Spanish (``languages`` in ``city.toml``); the staff pages are in the
city's own language (the first), whatever the browser asks for.
"""

from __future__ import annotations

import dataclasses
import json
import re

from fastapi.testclient import TestClient

from api.app import create_app
from api.public.language import LANG_COOKIE
from geo311.db.store import Store

SPANISH = {"Accept-Language": "es-MX,es;q=0.9"}


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_report_page_speaks_the_browsers_language_among_the_citys(client: TestClient) -> None:
    english = client.get("/report")
    assert _lang(english.text) == "en" and "<h1>Report a problem</h1>" in english.text
    # the switch names each language in itself, marked with its own lang
    assert '<a href="/report?lang=es" lang="es" hreflang="es">Español</a>' in english.text
    assert 'lang="en" hreflang="en" aria-current="true">English</a>' in english.text
    spanish = client.get("/report", headers=SPANISH)
    assert _lang(spanish.text) == "es" and "<h1>Informar de un problema</h1>" in spanish.text
    assert "Enviar aviso" in spanish.text and "Send report" not in spanish.text
    # the script's words come in the page's language (a JSON block, not a script)
    block = re.search(r'id="report-messages">(.*?)</script>', spanish.text)
    assert block is not None
    assert json.loads(block.group(1))["service_code"] == "Elija en la lista cuál es el problema."
    french = client.get("/report", headers={"Accept-Language": "fr-FR, fr;q=0.9"})
    assert _lang(french.text) == "en"  # not offered: the city's own


def test_a_chosen_language_is_remembered_in_a_cookie(client: TestClient) -> None:
    chosen = client.get("/report?lang=es")
    assert _lang(chosen.text) == "es"
    assert f"{LANG_COOKIE}=es" in chosen.headers["set-cookie"]
    assert "HttpOnly" in chosen.headers["set-cookie"]
    assert _lang(client.get("/report").text) == "es"  # the cookie, no Accept-Language
    # ?lang= beats the cookie and the browser; an unknown language changes nothing
    assert _lang(client.get("/report?lang=en", headers=SPANISH).text) == "en"
    ignored = client.get("/report?lang=xx")
    assert "set-cookie" not in ignored.headers and _lang(ignored.text) == "en"


def test_the_status_and_not_found_pages_in_spanish(client: TestClient, api_key: str) -> None:
    form = {"api_key": api_key, "service_code": "pothole", "lat": "42.3505", "long": "-71.0760"}
    rid = client.post("/open311/v2/requests.json", data=form).json()[0]["service_request_id"]
    page = client.get(f"/requests/{rid}", headers=SPANISH).text
    assert _lang(page) == "es" and "Aviso recibido" in page and "Qué ha pasado" in page
    assert f"Aviso <strong>{rid}</strong>" in page and "Report received" not in page
    # dates in the reader's locale: "3 de diciembre de 2026, 9:41 a.m."
    assert re.search(r"\d{1,2} de [a-z]+ de \d{4}, \d{1,2}:\d\d\s[ap]\.\s?m\.", page), page
    missing = client.get("/requests/nope", headers=SPANISH)
    assert missing.status_code == 404 and "Aviso no encontrado" in missing.text


def test_the_performance_page_in_each_language(client: TestClient) -> None:
    spanish = client.get("/performance?lang=es")
    assert spanish.status_code == 200 and "Cómo va Boston 311" in spanish.text
    assert "Semana a semana" in spanish.text and _lang(spanish.text) == "es"
    english = client.get("/performance?lang=en")  # kept renderings are per language
    assert "How Boston 311 is doing" in english.text and _lang(english.text) == "en"
    assert "?from=" in english.text.split('class="languages"')[1].split("</nav>")[0]


def test_staff_pages_are_in_the_citys_own_language(api_store: Store, store_url: str) -> None:
    from tests.api.conftest import make_settings

    app = create_app(make_settings(store_url), store=api_store)
    with TestClient(app) as client:
        page = client.get("/login", headers=SPANISH)
        assert _lang(page.text) == "en" and "Sign in" in page.text
        app.state.city = dataclasses.replace(app.state.city, languages=("es", "en"))
        page = client.get("/login")
        assert _lang(page.text) == "es" and "Iniciar sesión" in page.text
        assert "Saltar al contenido principal" in page.text
        assert _lang(client.get("/report").text) == "es"  # the city's first language
