"""The city profile: the constants that belong to the city, read once from ``city.toml``.

Protocol and planning code take the city's name, jurisdiction, agency, time zone, units,
service area, placeholder points and Open311 attribute definitions from a :class:`City`
instead of literals. The city in use is the folder named by ``GEO311_CITY_DIR`` (``geo311 --city
DIR``), else the embedded profile in ``data/city.toml``. A profile folder also names its files
(streets, addresses, districts, services, crews) in ``city.toml``; :meth:`City.file` resolves them.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from babel import Locale, UnknownLocaleError
from numpy.typing import ArrayLike

from geo311.embedded import EMBEDDED_DATA_DIR
from geo311.errors import ConfigurationError
from geo311.i18n.catalogues import SOURCE_LANGUAGE, available_languages
from geo311.i18n.localizer import Localizer, localizer

__all__ = ["CITY_DIR_ENV", "City", "Placeholder", "default_city", "load_city", "selected_city_dir"]

_DEFAULT_FILE = EMBEDDED_DATA_DIR / "city.toml"
UNITS = ("imperial", "metric")
CITY_DIR_ENV = "GEO311_CITY_DIR"
"""Environment variable naming the city profile folder in use (``geo311 --city DIR`` sets it)."""

# What the public open-data export carries beyond the fields every request shows: free text
# (descriptions, status notes) may name people, so a city opts in; photo links are public in
# Open311 already.
OPEN_DATA_DEFAULTS = {"descriptions": False, "photos": True}

# The file names a profile folder uses unless its city.toml names others ([files] / [osm]).
DEFAULT_FILES = {
    "services": "services.toml",
    "crews": "crews.toml",
    "districts": "districts.geojson",
    "streets": "osm/streets.osm.bz2",
    "addresses": "",
    "sample_requests": "",
}


@dataclass(frozen=True, slots=True)
class Placeholder:
    """A point a city's exports use instead of a real location (e.g. City Hall)."""

    name: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class City:
    """One city's profile.

    Attributes
    ----------
    name
        The city's name, as people say it.
    jurisdiction_id
        The Open311 ``jurisdiction_id`` served.
    agency
        The agency responsible (Open311 ``agency_responsible``).
    timezone
        IANA time zone name of local time.
    units
        ``"imperial"`` (feet / miles) or ``"metric"`` (metres / km) for maps and itineraries.
    service_area
        ``(min_lon, min_lat, max_lon, max_lat)`` outside which a reported point is refused.
    placeholders
        Points that stand for "no location".
    open311
        Open311 discovery details (``contact``, ``key_service``, ``changeset``).
    attributes
        GeoReport v2 attribute definitions per service group.
    files
        The profile's files (``services``, ``crews``, ``districts``, ``streets``,
        ``addresses``, ``sample_requests``), relative to :attr:`folder`; ``""`` for none.
    folder
        The folder of ``city.toml`` (where :attr:`files` are resolved).
    metric_crs
        Projected CRS in metres for the city's street graph (e.g. its UTM zone).
    demo_at
        The default morning of ``geo311 demo`` (local ISO time), ``""`` for none.
    open_data
        What the public open-data export may carry besides the Open311 fields every request
        shows: ``descriptions`` (the reporters' and crews' free text) and ``photos`` (the
        reporters' photo links); see :data:`OPEN_DATA_DEFAULTS`.
    locale
        The city's locale (``en_US``, ``fi_FI``): how dates and numbers are written.
    languages
        The interface languages offered to citizens, the default (the staff's) first; each
        has a catalogue in ``geo311/i18n/locales`` (English is the source language).
    translations
        The city's own texts (service names, states, questions and answers, as written in its
        files) in other languages: ``{"es": {"Pothole repair": "Reparación de baches"}}``,
        from the ``[translations.LANG]`` tables of ``city.toml``.
    """

    name: str
    jurisdiction_id: str
    agency: str
    timezone: str
    units: str = "imperial"
    service_area: tuple[float, float, float, float] = (-180.0, -90.0, 180.0, 90.0)
    placeholders: tuple[Placeholder, ...] = ()
    open311: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FILES))
    folder: Path = _DEFAULT_FILE.parent
    metric_crs: str = ""
    demo_at: str = ""
    open_data: dict[str, bool] = field(default_factory=lambda: dict(OPEN_DATA_DEFAULTS))
    locale: str = "en_US"
    languages: tuple[str, ...] = (SOURCE_LANGUAGE,)
    translations: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def language(self) -> str:
        """The city's default language (the first of :attr:`languages`)."""
        return self.languages[0]

    def words(self, language: str | None = None) -> Localizer:
        """Return the :class:`~geo311.i18n.Localizer` of one of the city's languages.

        Parameters
        ----------
        language
            A language the city offers; another (or None) gives the city's own.

        Returns
        -------
        Localizer
            The language's catalogue and the city's texts in it, with the city's locale
            (``es`` in an ``en_US`` city writes ``es_US``), time zone and units.
        """
        chosen = language if language in self.languages else self.language
        return localizer(
            chosen,
            city_locale=self.locale,
            timezone=self.timezone,
            units=self.units,
            city_texts=self.translations.get(chosen, {}),
        )

    def file(self, key: str) -> Path | None:
        """Return the path of one of the profile's files, or None when it names none.

        Parameters
        ----------
        key
            ``services``, ``crews``, ``districts``, ``streets``, ``addresses`` or
            ``sample_requests``.

        Returns
        -------
        Path or None
            ``folder / files[key]`` (an absolute name is kept as is).

        Raises
        ------
        ConfigurationError
            When ``key`` is not one of the profile's files.
        """
        if key not in DEFAULT_FILES:
            raise ConfigurationError(
                f"{key!r} is not a file of a city profile; use one of {sorted(DEFAULT_FILES)}",
                field="key",
            )
        name = self.files.get(key, DEFAULT_FILES[key])
        return self.folder / name if name else None

    @property
    def tz(self) -> ZoneInfo:
        """The city's time zone."""
        return ZoneInfo(self.timezone)

    def is_placeholder(self, lat: float | None, lon: float | None) -> bool:
        """Return whether a point is one of the city's "no location" placeholders.

        Parameters
        ----------
        lat, lon
            The point, in degrees; ``None`` is never a placeholder.

        Returns
        -------
        bool
            True when the point equals a placeholder to 4 decimals.
        """
        if lat is None or lon is None:
            return False
        la, lo = round(lat, 4), round(lon, 4)
        return any(la == round(p.lat, 4) and lo == round(p.lon, 4) for p in self.placeholders)

    def placeholder_mask(self, lat: ArrayLike, lon: ArrayLike) -> np.ndarray:
        """Return, per point, whether it is a placeholder (vectorised :meth:`is_placeholder`).

        Parameters
        ----------
        lat, lon
            Points in degrees (arrays or Series of one length); NaN is never a placeholder.

        Returns
        -------
        ndarray of bool
            True where the point equals a placeholder to 4 decimals.
        """
        la = np.round(np.asarray(lat, dtype=np.float64), 4)
        lo = np.round(np.asarray(lon, dtype=np.float64), 4)
        mask = np.zeros(la.shape, dtype=bool)
        for p in self.placeholders:
            mask |= (la == round(p.lat, 4)) & (lo == round(p.lon, 4))
        return mask


def _required(raw: dict[str, Any], key: str, where: Path) -> Any:
    if key not in raw:
        raise ConfigurationError(f"{where}: missing key {key!r}; add it to the city profile")
    return raw[key]


def _timezone(name: str, where: Path) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"{where}: timezone {name!r} is not an IANA time zone; use e.g. 'Europe/Paris'"
        ) from None
    return name


def _service_area(raw: Any, where: Path) -> tuple[float, float, float, float]:
    if raw is None:
        return (-180.0, -90.0, 180.0, 90.0)
    box = tuple(float(v) for v in raw)
    if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
        raise ConfigurationError(
            f"{where}: service_area must be [min_lon, min_lat, max_lon, max_lat], got {raw!r}"
        )
    return (box[0], box[1], box[2], box[3])


def load_city(path: str | Path | None = None) -> City:
    """Load and validate a city profile (``city.toml``).

    Parameters
    ----------
    path
        The ``city.toml`` file, or a folder holding one; default the embedded profile.

    Returns
    -------
    City
        The validated profile.

    Raises
    ------
    ConfigurationError
        If the file is missing or malformed; the message names the key and the fix.
    """
    where = Path(path) if path is not None else _DEFAULT_FILE
    if where.is_dir():
        where = where / "city.toml"
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"city profile {where} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"city profile {where} is not valid TOML: {exc}") from None
    units = str(raw.get("units", "imperial"))
    if units not in UNITS:
        raise ConfigurationError(f"{where}: units {units!r} must be one of {UNITS}")
    files = dict(DEFAULT_FILES)
    files.update({k: str(v) for k, v in raw.get("files", {}).items() if k in DEFAULT_FILES})
    osm = raw.get("osm", {})
    files.update({k: str(osm[k]) for k in ("streets", "addresses") if k in osm})
    placeholders = tuple(
        Placeholder(str(p.get("name", "placeholder")), float(p["lat"]), float(p["lon"]))
        for p in raw.get("placeholders", [])
    )
    return City(
        name=str(_required(raw, "name", where)),
        jurisdiction_id=str(_required(raw, "jurisdiction_id", where)),
        agency=str(_required(raw, "agency", where)),
        timezone=_timezone(str(_required(raw, "timezone", where)), where),
        units=units,
        service_area=_service_area(raw.get("service_area"), where),
        placeholders=placeholders,
        open311={k: str(v) for k, v in raw.get("open311", {}).items()},
        attributes={k: list(v) for k, v in raw.get("attributes", {}).items()},
        files=files,
        folder=where.resolve().parent,
        metric_crs=str(osm.get("metric_crs", "")),
        demo_at=str(raw.get("demo", {}).get("at", "")),
        open_data=_open_data(raw.get("open_data", {}), where),
        **(languages := _language_settings(raw, where)),
        **_city_texts(raw, languages["languages"], where),
    )


def _open_data(table: Any, where: Path) -> dict[str, bool]:
    out = dict(OPEN_DATA_DEFAULTS)
    for key, value in dict(table).items():
        if key not in OPEN_DATA_DEFAULTS or not isinstance(value, bool):
            raise ConfigurationError(
                f"{where}: [open_data] {key} = {value!r}; use true or false for "
                f"{', '.join(OPEN_DATA_DEFAULTS)}"
            )
        out[key] = value
    return out


def _language_settings(raw: dict[str, Any], where: Path) -> dict[str, Any]:
    """Return ``locale`` and ``languages``, checked (every language needs a catalogue)."""
    name = str(raw.get("locale", "en_US"))
    try:
        locale = Locale.parse(name)
    except (UnknownLocaleError, ValueError):
        raise ConfigurationError(
            f"{where}: locale {name!r} is not a known locale; use e.g. 'en_US' or 'fi_FI'",
            field="locale",
        ) from None
    shipped = available_languages()
    given = raw.get("languages")
    if given is None:  # the locale's language when geo311 speaks it, else English
        return {"locale": str(locale), "languages": (_own_language(locale.language, shipped),)}
    languages = tuple(str(v).strip().lower() for v in given)
    missing = [lang for lang in languages if lang not in shipped]
    if not languages or missing:
        raise ConfigurationError(
            f"{where}: languages {list(languages)!r}: {missing or 'none given'} has no "
            f"catalogue; use some of {list(shipped)} or add one (README, 'Languages')",
            field="languages",
        )
    return {"locale": str(locale), "languages": tuple(dict.fromkeys(languages))}


def _city_texts(raw: dict[str, Any], languages: tuple[str, ...], where: Path) -> dict[str, Any]:
    """Return ``[translations.LANG]``: the city's texts per offered language, all strings."""
    tables = raw.get("translations", {})
    out: dict[str, dict[str, str]] = {}
    for language, table in dict(tables).items():
        if language not in languages or not isinstance(table, dict):
            raise ConfigurationError(
                f"{where}: [translations.{language}] is not a table of one of the languages "
                f"offered {list(languages)}; add the language to `languages` or remove it",
                field="translations",
            )
        out[language] = {str(k): str(v) for k, v in table.items()}
    return {"translations": out}


def _own_language(language: str, shipped: tuple[str, ...]) -> str:
    return language if language in shipped else SOURCE_LANGUAGE


def selected_city_dir() -> Path | None:
    """Return the city profile folder selected by ``GEO311_CITY_DIR`` (None: the embedded one)."""
    value = os.environ.get(CITY_DIR_ENV, "").strip()
    return Path(value) if value else None


def default_city(path: str | None = None) -> City:
    """Return the city profile (loaded once per process and path).

    Parameters
    ----------
    path
        The profile file or folder; default the folder of ``GEO311_CITY_DIR``, else the
        embedded profile.

    Returns
    -------
    City
        The profile.
    """
    if path is None:
        selected = selected_city_dir()
        path = str(selected) if selected is not None else None
    return _cached_city(path)


@lru_cache(maxsize=8)
def _cached_city(path: str | None) -> City:
    return load_city(path)
