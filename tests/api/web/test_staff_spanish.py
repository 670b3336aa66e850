"""A city whose own language is Spanish: the staff pages (console, plan, work order...) in it."""

from __future__ import annotations

import dataclasses
import re

from geo311.city.catalogue import Catalogue
from geo311.db.store import Store
from tests.routing._dispatch_data import fill

from .test_crew import _plan

AT = "2015-10-06T07:00"


def _spanish(web_app) -> None:
    web_app.state.city = dataclasses.replace(web_app.state.city, languages=("es", "en"))


def _visible(html: str) -> str:
    """The page's text between the tags (scripts and JSON blocks left out)."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_console_in_the_citys_spanish(
    web_app, browser, web_store: Store, catalogue: Catalogue
) -> None:
    _spanish(web_app)
    fill(web_store, catalogue)
    page = browser("dina").get(f"/dispatch?at={AT}").text
    assert '<html lang="es">' in page
    text = _visible(page)
    assert "Trabajo abierto" in text and "Planificar el día" in text
    assert "7 órdenes de trabajo abiertas" in text and "1 vencida" in text
    assert "Buscar una orden de trabajo (número o dirección)" in text
    assert "todos los servicios" in text and "a tiempo" in text  # SLA_STATES, translated
    assert "Antigüedad (días)" in text and "Cuadrillas del 2015-10-06" in text
    for english in ("Open work", "Plan the day", "open work orders", "Find a work order"):
        assert english not in text, english


def test_a_plan_in_the_citys_spanish(
    web_app, browser, web_store: Store, catalogue: Catalogue
) -> None:
    _spanish(web_app)
    plan_id, _, _ = _plan(web_store, catalogue)
    text = _visible(browser("dina").get(f"/dispatch/plans/{plan_id}").text)
    assert f"Plan n.º {plan_id} para el 2015-10-06" in text
    assert "1 parada" in text and "Hoja de ruta" in text and "Rutas" in text
    assert "Publicado por dina: las cuadrillas ven estas rutas." in text
    assert "Replanificar ahora (a mitad del día)" in text
    for english in ("Routes", "Run sheet", "Re-plan now", "Published by"):
        assert english not in text, english


def test_a_work_order_in_the_citys_spanish(
    web_app, browser, web_store: Store, catalogue: Catalogue
) -> None:
    _spanish(web_app)
    _, wp, _ = _plan(web_store, catalogue)
    text = _visible(browser("dina").get(f"/dispatch/workorders/{wp}").text)
    assert f"Orden de trabajo wo-{wp}" in text and "2 avisos" in text
    assert "Cerrar con esta nota" in text and "Nota para los vecinos" in text
    assert "Cronología" in text and "Orden de trabajo abierta" in text
    assert "Aviso " in text and " recibido" in text  # the timeline's events
    assert "Estado: " in text and "Abierta el " in text
    for english in ("Work order opened", "Close with this note", "Timeline", "Status:"):
        assert english not in text, english


def test_the_horizon_in_the_citys_spanish(web_app, browser) -> None:
    _spanish(web_app)
    text = _visible(browser("dina").get("/dispatch/horizon").text)
    assert "El horizonte de la semana" in text
    assert "Todavía no se ha hecho ningún plan con el horizonte." in text
    assert "Días laborables del horizonte (hoy incluido)" in text


def test_the_admin_pages_in_the_citys_spanish(web_app, browser) -> None:
    _spanish(web_app)
    admin = browser("ada")
    users = _visible(admin.get("/admin/users").text)
    assert "Añadir un usuario" in users and "Nombre visible" in users
    assert "planifica el día y gestiona las órdenes de trabajo" in users  # a role, described
    assert "Contraseña (al menos 10 caracteres)" in users
    assert "Restablecer la contraseña de dina" in _visible(admin.get("/admin/users/dina").text)
    audit = _visible(admin.get("/admin/audit").text)
    assert "Registro de auditoría" in audit
    assert "cualquier acción" in audit and "El objeto empieza por" in audit
    assert "Lo más reciente primero, página 1" in audit
    password = _visible(admin.get("/account/password").text)
    assert "Contraseña actual" in password and "Repita la contraseña nueva" in password
    for english in ("Add a user", "Current password", "Newest first"):
        assert english not in users + audit + password, english


def test_the_planner_in_the_citys_spanish(
    web_app, browser, web_store: Store, catalogue: Catalogue
) -> None:
    _spanish(web_app)
    fill(web_store, catalogue)
    text = _visible(browser("pete").get("/planner").text)
    assert "Panel de planificación" in text and "Ejecutar la simulación" in text
    assert "Cuadrillas que probar (p. ej., 1..6 o 1,2,4)" in text
    assert "mediana de días hasta el cierre" in text and "solicitudes" in text  # table heads
    assert "Planner dashboard" not in text and "Run the what-if" not in text
