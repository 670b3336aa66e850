"""A reporter who writes in Spanish hears back in Spanish, through a real SMTP server.

The report's language comes from ``Accept-Language`` (GeoReport v2 has no language field) or
the report page's ``?lang=`` / cookie; it is kept with the contact (``contacts.language``) and
every e-mail of the report (the confirmation, the acknowledgement) is written in it.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient

from geo311.db.notify_schema import contacts
from geo311.db.store import Store
from geo311.notify.confirm import confirm_address

from .test_open311_notify import SECRET, _Box, _deliver, smtp, text_of

__all__ = ["smtp"]  # the SMTP server fixture, shared

FORM = {"service_code": "pothole", "lat": "42.3505", "long": "-71.0760", "description": "bache",
        "email": "ana@example.org", "first_name": "Ana"}  # fmt: skip


def _language_of(store: Store, rid: str) -> str:
    with store.engine.connect() as conn:
        row = conn.execute(
            sa.select(contacts.c.language).where(contacts.c.service_request_id == rid)
        )
        return str(row.scalar_one())


def test_a_spanish_speaking_reporter_gets_spanish_e_mails(
    api_store: Store, store_url: str, api_key: str, smtp: tuple[_Box, int]
) -> None:
    from api.app import create_app
    from tests.api.conftest import make_settings

    box, port = smtp
    settings = make_settings(store_url, notify_secret=SECRET, smtp_port=port)
    spanish = {"Accept-Language": "es-US,es;q=0.9,en;q=0.5"}
    post = "/open311/v2/requests.json"
    with TestClient(create_app(settings, store=api_store)) as client:
        first = client.post(post, data={**FORM, "api_key": api_key}, headers=spanish)
        assert first.status_code == 200, first.text
        rid = first.json()[0]["service_request_id"]
        _deliver(api_store, settings, port)
        with api_store.begin() as conn:
            confirm_address(conn, "ana@example.org")
        second = client.post(post, data={**FORM, "api_key": api_key}, headers=spanish)
        rid2 = second.json()[0]["service_request_id"]
        english = client.post(post, data={**FORM, "api_key": api_key, "email": "bo@example.org"})
        _deliver(api_store, settings, port)
    assert _language_of(api_store, rid) == "es" and _language_of(api_store, rid2) == "es"
    assert _language_of(api_store, english.json()[0]["service_request_id"]) == "en"
    ana = [m for rcpt, m in box.messages if "ana@example.org" in rcpt]
    assert [str(m["Subject"]).split(" ")[0] for m in ana] == ["Confirme", "Recibimos", "Ya"]
    asked, received, merged = ana
    assert asked["Subject"] == "Confirme su correo electrónico para Boston 311"
    assert "Si fue usted, confirme" in text_of(asked) and 'lang="es"' in text_of(asked)
    # the service's name is the city's own text, in Spanish too ([translations.es])
    assert received["Subject"] == f"Recibimos su aviso {rid2}: Reparación de baches"
    said = text_of(received)
    assert "Hola, Ana:" in said and f"Su número de solicitud es {rid2}" in said
    assert "Dejar de recibir estos correos" in said and "We received" not in said
    # the second report joined the first's work order: "already reported", in Spanish
    assert merged["Subject"] == "Ya informado: Reparación de baches"
    assert f"Añadimos su aviso ({rid2}) al mismo trabajo" in text_of(merged)
    assert f"/requests/{rid2}?lang=es" in said  # the status page opens in Spanish
    assert str(received["List-Unsubscribe"]).endswith("?lang=es>")
    [other] = [m for rcpt, m in box.messages if "bo@example.org" in rcpt]
    assert other["Subject"] == "Confirm your e-mail address for Boston 311"


def test_the_confirm_and_unsubscribe_pages_speak_the_links_language(
    api_store: Store, store_url: str
) -> None:
    from api.app import create_app
    from geo311.notify.confirm import confirm_path
    from geo311.notify.unsubscribe import unsubscribe_path
    from tests.api.conftest import make_settings

    settings = make_settings(store_url, notify_secret=SECRET)
    with TestClient(create_app(settings, store=api_store)) as client:
        asked = client.get(confirm_path("101", secret=SECRET) + "?lang=es")
        assert '<html lang="es">' in asked.text and "Confirme su correo electrónico" in asked.text
        assert "?lang=es" in asked.text.split("<form")[1]  # the button keeps the language
        stop = client.get(unsubscribe_path("101", secret=SECRET) + "?lang=es")
        assert "Dejar de recibir" in stop.text or "Darse de baja" in stop.text
        forged = client.post("/notify/unsubscribe/AAAA.BBBB?lang=es")
        assert forged.status_code == 400 and "Enlace no válido" in forged.text
        english = client.get(confirm_path("101", secret=SECRET))
        assert '<html lang="en">' in english.text and "Confirm your e-mail address" in english.text
