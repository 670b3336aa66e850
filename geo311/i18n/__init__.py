"""The interface in the city's language: gettext catalogues and locale-aware formats (issue 24).

English is the source language (every message is written in English in the templates and the
code); each other language is a ``.po`` catalogue shipped in ``geo311/i18n/locales/``
(:mod:`geo311.i18n.catalogues`). :class:`Localizer` (:mod:`geo311.i18n.localizer`) binds one
language's translations to the city's locale, time zone and units for the formats of dates,
numbers, distances and durations; :func:`install` (:mod:`geo311.i18n.jinja`) gives a Jinja2
environment ``{% trans %}`` and ``_()``; :func:`negotiate` picks a language among the offered.
"""

from __future__ import annotations

from geo311.i18n.catalogues import (
    LOCALES_DIR,
    N_,
    SOURCE_LANGUAGE,
    available_languages,
    language_name,
    translations,
)
from geo311.i18n.jinja import install
from geo311.i18n.localizer import Localizer, locale_for, localizer
from geo311.i18n.negotiate import negotiate, parse_accept_language

__all__ = [
    "LOCALES_DIR",
    "N_",
    "SOURCE_LANGUAGE",
    "Localizer",
    "available_languages",
    "install",
    "language_name",
    "locale_for",
    "localizer",
    "negotiate",
    "parse_accept_language",
    "translations",
]
