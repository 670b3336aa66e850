"""Jinja2 templates of the staff pages and the one helper that links vendored assets."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from geo311.i18n import install as install_i18n
from maps.assets import vendor_url

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


@lru_cache(maxsize=64)
def vendor(package: str, file: str) -> str:
    """Return the URL of a vendored asset, e.g. ``vendor('htmx.org', 'dist/htmx.min.js')``.

    The assets are the ones ``maps/static/vendor.toml`` pins (:func:`maps.assets.vendor_url`),
    served by the app's ``/static`` mount.
    """
    return vendor_url(package, file)


def static(file: str) -> str:
    """Return the URL of one of the staff app's own assets (``api/static/``)."""
    return f"/static/staff/{file}"


# Scripts only from this site (no inline script runs; JSON data blocks are not scripts);
# map tiles are the one outside load. Leaflet and htmx set inline styles. The citizens' pages
# and their photos (api.public.router) send the same.
BROWSER_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: https://*.tile.openstreetmap.org https://tile.openstreetmap.org; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
SECURITY_HEADERS = {**BROWSER_SECURITY_HEADERS, "Cache-Control": "no-store"}

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals.update(vendor=vendor, static=static)
install_i18n(templates.env)  # {% trans %} and _() in the context's `i18n` language


def staff_i18n(request: Request) -> Any:
    """Return the staff pages' :class:`~geo311.i18n.Localizer`: the city's default language."""
    return request.app.state.city.words()


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a template with the signed-in user and the CSRF token in its context.

    Parameters
    ----------
    request : Request
        The request (its ``state.web_session`` gives the user and token when signed in).
    name : str
        Template file under ``api/templates/``.
    context : dict, optional
        Values for the template.
    status_code : int, keyword-only
        HTTP status.
    headers : dict, keyword-only, optional
        Extra response headers.

    Returns
    -------
    Response
        The HTML page with :data:`SECURITY_HEADERS` (never cached: it carries a CSRF token).
    """
    session = getattr(request.state, "web_session", None)
    values: dict[str, Any] = {
        "user": session.user if session else None,
        "csrf_token": session.csrf_token if session else "",
        "i18n": staff_i18n(request),
    }
    values.update(context or {})
    response = templates.TemplateResponse(
        request, name, values, status_code=status_code, headers=headers
    )
    response.headers.update(SECURITY_HEADERS)
    return response
