"""Dates, times, numbers, distances and durations in the reader's locale and the city's time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from geo311.errors import ConfigurationError
from geo311.i18n import locale_for, localizer, negotiate, parse_accept_language

# 11:05 UTC: 07:05 in Boston (EDT), 14:05 in Helsinki (EEST)
MOMENT = datetime(2015, 10, 6, 11, 5, tzinfo=UTC)


def test_us_english_in_boston() -> None:
    en = localizer("en", city_locale="en_US", timezone="America/New_York", units="imperial")
    assert en.locale == "en_US"
    assert en.date(MOMENT) == "October 6, 2015"
    assert en.time(MOMENT) == "7:05\u202fAM"
    assert en.weekday(MOMENT) == "Tuesday, October 6"
    assert en.number(1234.5, 1) == "1,234.5"
    assert en.distance(120) == "394 ft" and en.distance(2000) == "1.2 mi"
    assert en.duration(3900) == "1h 5 min" and en.duration(2700) == "45 min"


def test_spanish_in_boston_is_written_the_us_spanish_way() -> None:
    es = localizer("es", city_locale="en_US", timezone="America/New_York", units="imperial")
    assert es.locale == "es_US"
    assert es.date(MOMENT) == "6 de octubre de 2015"
    assert es.time(MOMENT) == "7:05\u202fa.m."
    assert es.weekday(MOMENT) == "martes, 6 de octubre"
    assert es.number(1234.5, 1) == "1,234.5"  # es_US groups with a comma
    assert es.gettext("Send report") == "Enviar aviso"


def test_finnish_formats_in_helsinki_time() -> None:
    fi = localizer("en", city_locale="fi_FI", timezone="Europe/Helsinki", units="metric")
    assert fi.locale == "en_FI"  # the interface in English, written the Finnish way
    assert fi.time(MOMENT) == "14.05"
    own = localizer("fi", city_locale="fi_FI", timezone="Europe/Helsinki", units="metric")
    assert own.locale == "fi_FI"
    assert own.date(MOMENT) == "6. lokakuuta 2015"
    assert own.date(MOMENT, "short") == "6.10.2015"
    assert own.datetime(MOMENT, "short") == "6.10.2015 14.05"
    assert own.weekday(MOMENT) == "tiistai, 6. lokakuuta"
    assert own.number(1234.5, 1) == "1\u00a0234,5"
    assert own.distance(1234) == "1,2 km" and own.distance(340) == "340 m"
    # a day's end in Helsinki is already the next day
    late = datetime(2015, 10, 6, 22, 30, tzinfo=UTC)
    assert own.date(late, "short") == "7.10.2015"
    assert own.ago(timedelta(days=3)) == "3 päivää"


def test_locale_of_a_language_in_a_city() -> None:
    assert locale_for("es", "en_US") == "es_US"
    assert locale_for("en", "en_US") == "en_US"
    assert locale_for("sv", "fi_FI") == "sv_FI"
    assert locale_for("es", "en") == "es"
    with pytest.raises(ConfigurationError, match="locale 'xx_YY'"):
        localizer("en", city_locale="xx_YY", timezone="UTC", units="metric")


def test_accept_language_and_the_choice_of_language() -> None:
    assert parse_accept_language("en;q=0.5, es-US, es;q=0.9, fr;q=0") == ["es-us", "es", "en"]
    assert parse_accept_language("") == [] and parse_accept_language("de;q=x") == []
    offered = ("en", "es")
    assert negotiate(offered, None, None, "es-mx", "en", default="en") == "es"
    assert negotiate(offered, "en", "es", "es", default="en") == "en"  # ?lang= first
    assert negotiate(offered, "fr", None, "de", default="en") == "en"  # none offered
    assert negotiate(offered, "es_US", default="en") == "es"
