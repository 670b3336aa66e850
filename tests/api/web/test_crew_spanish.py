"""A city whose own language is Spanish: the crew's page and its scripts' words."""

from __future__ import annotations

import dataclasses
import json
import re

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store

from .test_crew import _plan


def test_the_crews_page_in_the_citys_spanish(
    web_app, browser, web_store: Store, catalogue: Catalogue
) -> None:
    web_app.state.city = dataclasses.replace(web_app.state.city, languages=("es", "en"))
    crew = browser("crewa")
    assert "Todavía no hay paradas" in crew.get("/crew").text
    _plan(web_store, catalogue)
    page = crew.get("/crew").text
    assert '<html lang="es">' in page
    assert "Crew A: 1 parada " in page and "Próxima parada: 1. 07:30" in page
    assert "Marcar la parada 1 como hecha" in page and "Nota para el despachador" in page
    assert "sin acceso (coches aparcados, puerta cerrada)" in page  # a can't-do reason
    assert 'value="Reparado."' in page  # the preset closing note, in the crew's language
    assert "Mis paradas" in page and "Cerrar sesión" in page
    block = re.search(r'id="crew-messages">(.*?)</script>', page)
    assert block is not None
    words = json.loads(block.group(1))
    assert words["held_done"] == "Hecho: se envía en 10 segundos. Deshaga si fue un error."
    assert words["progress"] == "{done} de {total} terminadas"
