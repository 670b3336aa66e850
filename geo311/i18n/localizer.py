"""One reader's language bound to the city's locale, time zone and units.

A :class:`Localizer` translates messages (``gettext`` / ``ngettext``) and formats dates, times,
numbers, distances and durations the way the reader's locale writes them, in the city's local
time. :func:`localizer` builds one from a city's ``locale`` and a language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_skeleton, format_time
from babel.dates import format_timedelta as babel_timedelta
from babel.numbers import format_decimal
from babel.support import NullTranslations
from babel.units import format_unit

from geo311.errors import ConfigurationError
from geo311.i18n.catalogues import translations

__all__ = ["Localizer", "locale_for", "localizer"]

_FEET_PER_METRE = 3.28084
_METRES_PER_MILE = 1609.344


def locale_for(language: str, city_locale: str) -> str:
    """Return the locale a language is formatted in for a city (``es`` in ``en_US``: ``es_US``).

    Parameters
    ----------
    language
        The reader's language.
    city_locale
        The city's locale (``en_US``, ``fi_FI``).

    Returns
    -------
    str
        The city's locale when it is of that language; else the language in the city's
        territory when the CLDR knows it (``es_US``); else the language alone.
    """
    city = Locale.parse(city_locale)
    if city.language == language:
        return str(city)
    if city.territory:
        try:
            return str(Locale.parse(f"{language}_{city.territory}"))
        except UnknownLocaleError:
            pass
    return language


@dataclass(frozen=True)
class Localizer:
    """Messages and formats for one reader.

    Attributes
    ----------
    language
        The language code (``"es"``), as in ``<html lang>``.
    locale
        The formatting locale (``"es_US"``).
    timezone
        The city's IANA time zone: aware datetimes are shown in it.
    units
        ``"imperial"`` or ``"metric"`` for distances.
    catalogue
        The language's translations.
    city_texts
        The city's own texts (service names, states, questions) in this language, from the
        ``[translations.LANG]`` table of ``city.toml``: :meth:`city` looks them up.
    """

    language: str
    locale: str
    timezone: str
    units: str = "metric"
    catalogue: NullTranslations = field(default_factory=NullTranslations, repr=False)
    city_texts: Mapping[str, str] = field(default_factory=dict, repr=False)

    def gettext(self, message: str) -> str:
        """Return a message in the reader's language."""
        return self.catalogue.gettext(message)

    def city(self, text: str) -> str:
        """Return one of the city's own texts in the reader's language (as written if none)."""
        return self.city_texts.get(text, text)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """Return the singular or plural message for ``n`` in the reader's language."""
        return self.catalogue.ngettext(singular, plural, n)

    def _local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(ZoneInfo(self.timezone)) if moment.tzinfo else moment

    def date(self, day: dt.date | dt.datetime, form: str = "long") -> str:
        """Return a date (``"October 6, 2015"``, ``"6 de octubre de 2015"``)."""
        shown = self._local(day) if isinstance(day, dt.datetime) else day
        return format_date(shown, format=form, locale=self.locale)

    def time(self, moment: dt.datetime, form: str = "short") -> str:
        """Return a local time of day (``"9:00 AM"``, ``"9:00"``)."""
        return format_time(self._local(moment), format=form, locale=self.locale)

    def datetime(self, moment: dt.datetime, form: str = "medium") -> str:
        """Return a local date and time."""
        return format_datetime(self._local(moment), format=form, locale=self.locale)

    def weekday(self, moment: dt.datetime) -> str:
        """Return a local day with its weekday (``"Tuesday, October 6"``, ``"martes, 6 de octubre"``)."""
        local = self._local(moment)
        name = format_date(local, "cccc", locale=self.locale)
        return f"{name}, {format_skeleton('MMMMd', local, locale=self.locale)}"

    def number(self, value: float, digits: int = 0) -> str:
        """Return a number with the locale's separators, at most ``digits`` decimals."""
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def distance(self, metres: float) -> str:
        """Return a distance in the city's units (``"0.4 mi"``, ``"350 ft"``, ``"1,2 km"``)."""
        if self.units == "imperial":
            if metres < 0.2 * _METRES_PER_MILE:
                return self._unit(round(metres * _FEET_PER_METRE), "length-foot")
            return self._unit(round(metres / _METRES_PER_MILE, 1), "length-mile")
        if metres < 1000:
            return self._unit(round(metres), "length-meter")
        return self._unit(round(metres / 1000, 1), "length-kilometer")

    def _unit(self, value: float, unit: str) -> str:
        return format_unit(value, unit, length="short", locale=self.locale)

    def duration(self, seconds: float) -> str:
        """Return a duration in hours and minutes (``"1h 5 min"``, ``"45 min"``)."""
        minutes = round(seconds / 60)
        hours, rest = divmod(minutes, 60)
        # Hours in the narrow form ("1h"): CLDR's short Spanish one says "1 horas".
        hour = format_unit(hours, "duration-hour", length="narrow", locale=self.locale)
        if not hours:
            return self._unit(rest, "duration-minute")
        if not rest:
            return hour
        return f"{hour} {self._unit(rest, 'duration-minute')}"

    def ago(self, delta: dt.timedelta) -> str:
        """Return a rough duration in words (``"3 days"``, ``"3 días"``)."""
        return babel_timedelta(delta, locale=self.locale)


def localizer(
    language: str,
    *,
    city_locale: str,
    timezone: str,
    units: str,
    city_texts: Mapping[str, str] | None = None,
) -> Localizer:
    """Return the :class:`Localizer` of a language in a city.

    Parameters
    ----------
    language
        The reader's language (one the city offers).
    city_locale, timezone, units
        The city profile's ``locale``, ``timezone`` and ``units``.
    city_texts
        The city's own texts in this language (``[translations.LANG]`` of ``city.toml``).

    Returns
    -------
    Localizer
        Its translations are compiled once per process and language.

    Raises
    ------
    ConfigurationError
        If the locale is not one the CLDR knows.
    """
    try:
        locale = locale_for(language, city_locale)
    except (UnknownLocaleError, ValueError):
        raise ConfigurationError(
            f"locale {city_locale!r} is not a known locale; use e.g. 'en_US' or 'fi_FI'",
            field="locale",
        ) from None
    texts = dict(city_texts or {})
    return Localizer(language, locale, timezone, units, translations(language), texts)
