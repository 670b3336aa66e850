"""The shipped message catalogues: one ``.po`` per language, compiled in memory when first used.

The ``.po`` files in ``geo311/i18n/locales/LANG/LC_MESSAGES/messages.po`` are the only source:
they are compiled to gettext's binary form in memory (``babel.messages.pofile.read_po`` then
``mofile.write_mo``) the first time a language is asked for, so no compiled ``.mo`` can drift
from its ``.po`` and nothing binary is committed. ``make messages`` extracts the ``.pot`` from
the templates and the code and updates every ``.po`` (see the README's "Languages").
"""

from __future__ import annotations

import io
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

__all__ = [
    "DOMAIN",
    "N_",
    "LOCALES_DIR",
    "SOURCE_LANGUAGE",
    "available_languages",
    "catalogue_path",
    "language_name",
    "translations",
]

DOMAIN = "messages"
SOURCE_LANGUAGE = "en"
"""The language the messages are written in: it needs no catalogue."""

LOCALES_DIR = Path(str(files("geo311.i18n").joinpath("locales")))
"""The folder of the catalogues (package data; ``messages.pot`` is the extracted template)."""


def N_(message: str) -> str:
    """Mark a message for ``make messages`` and return it untranslated.

    For constants (a reason list, preset notes) translated later, where they are shown
    (``_(text)`` in a template, :meth:`~geo311.i18n.Localizer.gettext`).
    """
    return message


def catalogue_path(language: str) -> Path:
    """Return the ``.po`` file of a language (it may not exist)."""
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=1)
def available_languages() -> tuple[str, ...]:
    """Return the languages geo311 speaks: English and every language with a catalogue.

    Returns
    -------
    tuple of str
        Language codes (``"en"``, ``"es"`` ...), English first, then sorted.
    """
    found = sorted(p.parent.parent.name for p in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return (SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE))


@lru_cache(maxsize=16)
def translations(language: str) -> NullTranslations:
    """Return the translations of a language, compiled from its ``.po`` once per process.

    Parameters
    ----------
    language
        A language code (``"es"``); English, or a language without a catalogue, gives the
        messages as written.

    Returns
    -------
    NullTranslations
        A :class:`babel.support.Translations` for a catalogued language.
    """
    path = catalogue_path(language)
    if language == SOURCE_LANGUAGE or not path.is_file():
        return NullTranslations()
    with path.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def language_name(language: str) -> str:
    """Return a language's name in that language, capitalised (``"Español"``)."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]
