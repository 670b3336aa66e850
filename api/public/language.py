"""The citizen's language on the public pages: asked for, remembered, or the browser's.

``?lang=es`` picks a language the city offers and is remembered in the ``geo311_lang``
cookie; without it, the cookie; else the best of ``Accept-Language`` among the offered
languages; else the city's own (the first of ``languages`` in ``city.toml``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from starlette.responses import Response

from geo311.city.profile import City
from geo311.i18n import Localizer, language_name, negotiate, parse_accept_language

LANG_COOKIE = "geo311_lang"
"""The cookie that remembers a citizen's language (a year; no personal data)."""
LANG_QUERY = "lang"


def city_localizer(city: City, language: str | None = None) -> Localizer:
    """Return the :class:`Localizer` of a language in the city (default: the city's own)."""
    return city.words(language)


def request_language(request: Request, city: City) -> str:
    """Return the language a request gets among the city's ``languages``."""
    header = parse_accept_language(request.headers.get("accept-language", ""))
    return negotiate(
        city.languages,
        request.query_params.get(LANG_QUERY),
        request.cookies.get(LANG_COOKIE),
        *header,
        default=city.language,
    )


def _switch_url(request: Request, language: str, query: dict[str, str] | None) -> str:
    kept = query if query is not None else dict(request.query_params)
    values = {k: v for k, v in kept.items() if k != LANG_QUERY}
    values[LANG_QUERY] = language
    return f"{request.url.path}?{urlencode(values)}"


def language_context(
    request: Request, city: City, *, query: dict[str, str] | None = None
) -> dict[str, Any]:
    """Return a public page's ``i18n`` (its :class:`Localizer`) and its language switch.

    Parameters
    ----------
    request
        The page's request.
    city
        The city profile (its ``languages``, ``locale``, ``timezone``, ``units``).
    query
        The query the switch's links keep (default the request's own).

    Returns
    -------
    dict
        ``i18n`` and ``languages`` (one ``{code, name, url, current}`` per offered language;
        the switch is shown when there are two or more).
    """
    chosen = request_language(request, city)
    switch = [
        {
            "code": code,
            "name": language_name(code),
            "url": _switch_url(request, code, query),
            "current": code == chosen,
        }
        for code in city.languages
    ]
    return {"i18n": city_localizer(city, chosen), "languages": switch}


def remember_language(request: Request, response: Response, city: City) -> Response:
    """Keep a ``?lang=`` choice in the cookie (only a language the city offers)."""
    asked = request.query_params.get(LANG_QUERY, "")
    if asked in city.languages and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(
            LANG_COOKIE, asked, max_age=365 * 86400, httponly=True, samesite="lax", path="/"
        )
    return response
