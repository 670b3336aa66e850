"""A city's ``locale`` and ``languages`` in ``city.toml``: checked, defaulted, written by init."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from geo311.city.profile import load_city
from geo311.embedded import EMBEDDED_DATA_DIR
from geo311.errors import ConfigurationError
from geo311.i18n import localizer
from routing.city_init import InitOptions, default_locale, init_city

WITH_TEXTS = (EMBEDDED_DATA_DIR / "city.toml").read_text(encoding="utf-8")
BOSTON = WITH_TEXTS.split("\n# The city's own texts")[0]  # without [translations.es]
HELSINKI_PBF = Path("/work/shared/data/osm/helsinki_center.osm.pbf")


def _profile(tmp_path: Path, text: str) -> Path:
    (tmp_path / "city.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_boston_offers_english_then_spanish() -> None:
    city = load_city()
    assert city.locale == "en_US" and city.languages == ("en", "es") and city.language == "en"
    # its own texts (services.toml, the questions) in Spanish
    assert city.words("es").city("Pothole repair") == "Reparación de baches"
    assert city.words("es").city("Open") == "Abierto"
    assert city.words("en").city("Open") == "Open" and city.words("xx").language == "en"


def test_city_texts_only_for_offered_languages(tmp_path: Path) -> None:
    text = WITH_TEXTS.replace('languages = ["en", "es"]', 'languages = ["en"]')
    with pytest.raises(ConfigurationError, match=r"\[translations.es\]") as err:
        load_city(_profile(tmp_path, text))
    assert err.value.field == "translations"


def test_a_language_without_a_catalogue_is_refused_naming_the_field(tmp_path: Path) -> None:
    text = BOSTON.replace('languages = ["en", "es"]', 'languages = ["en", "xx"]')
    with pytest.raises(ConfigurationError, match=r"languages .*\['xx'\] has no catalogue") as err:
        load_city(_profile(tmp_path, text))
    assert err.value.field == "languages"
    with pytest.raises(ConfigurationError, match="locale 'zz_QQ' is not a known locale"):
        load_city(_profile(tmp_path, BOSTON.replace('locale = "en_US"', 'locale = "zz_QQ"')))


def test_without_languages_the_locales_own_else_english(tmp_path: Path) -> None:
    text = BOSTON.replace('languages = ["en", "es"]\n', "")
    mexico = load_city(_profile(tmp_path, text.replace('locale = "en_US"', 'locale = "es_MX"')))
    assert mexico.languages == ("es",)  # geo311 speaks Spanish
    helsinki = text.replace('locale = "en_US"', 'locale = "fi_FI"').replace(
        "America/New_York", "Europe/Helsinki"
    )
    city = load_city(_profile(tmp_path, helsinki))
    assert city.locale == "fi_FI" and city.languages == ("en",)  # no Finnish catalogue yet


def test_helsinki_dates_are_written_the_finnish_way(tmp_path: Path) -> None:
    text = BOSTON.replace('locale = "en_US"', 'locale = "fi_FI"').replace(
        'languages = ["en", "es"]', 'languages = ["en"]'
    )
    city = load_city(_profile(tmp_path, text.replace("America/New_York", "Europe/Helsinki")))
    shown = localizer(
        city.language, city_locale=city.locale, timezone=city.timezone, units=city.units
    )
    moment = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 07:00 in Helsinki
    assert shown.locale == "en_FI"
    assert shown.date(moment, "short") == "24/11/2026" and shown.time(moment) == "7.00"
    finnish = localizer("fi", city_locale="fi_FI", timezone=city.timezone, units="metric")
    assert finnish.datetime(moment, "short") == "24.11.2026 7.00"
    assert finnish.date(moment) == "24. marraskuuta 2026"


def test_city_init_takes_the_locale_from_the_time_zone() -> None:
    assert default_locale("Europe/Helsinki") == "fi_FI"
    assert default_locale("America/Chicago") == "en_US"
    assert default_locale("America/Mexico_City") == "es_MX"
    assert default_locale("Etc/Unknown") == "en_US"


@pytest.mark.slow
def test_city_init_writes_helsinkis_locale(tmp_path: Path) -> None:
    if not HELSINKI_PBF.is_file():
        pytest.skip("the shared Helsinki extract is absent")
    done = init_city(
        tmp_path / "city",
        name="Helsinki",
        osm=HELSINKI_PBF,
        timezone="Europe/Helsinki",
        options=InitOptions(build_geocoder=False),
    )
    city = load_city(done.folder)
    assert city.locale == "fi_FI" and city.languages == ("en",)
    asked = init_city(
        tmp_path / "city2",
        name="Helsinki",
        osm=HELSINKI_PBF,
        timezone="Europe/Helsinki",
        options=InitOptions(build_geocoder=False, locale="sv_FI"),
    )
    assert load_city(asked.folder).locale == "sv_FI"
