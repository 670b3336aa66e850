"""Offline geocoding from a city's OpenStreetMap extracts.

Forward geocoding turns 311 address text into a point with a match type
(``address_point``, ``interpolated``, ``intersection``, ``street`` or ``none``), a score in
0..1 and the matched, normalised address; a ``none`` answer carries the reason and no point.
A ``street`` answer is street-level (the street's middle): house number 0 ("somewhere on
this street"), a street written alone, or a number that cannot be placed; its reason says
which. Reverse geocoding returns the nearest street segment and the nearest address point.

Sources: every named ``highway`` way of the city's streets extract (drivable or not: service
roads, alleys and footways are indexed by name even when the routing graph is drive-only;
names in other languages such as ``name:sv`` are aliases) and, when the city has them,
features tagged ``addr:housenumber``/``addr:street`` (nodes, buildings by their centroid;
XML or PBF) and the city's other address files (OpenAddresses, TIGER/Line ranges, its own
CSV: :mod:`geo311.geocoding.sources`). Which files make a city's geocoder, and the ZIP codes
they cover, is data: ``data/osm/extracts.toml``. Metric work is done in the extract's UTM
zone; answers are EPSG:4326. Each answer states its expected error in metres (``error_m``).
Addresses may be written number first (US) or in European order (``Kaivokatu 1, 00100
Helsinki``).

House numbers without an address point are ``interpolated`` along the street's centreline
between known numbers of the same side (see :mod:`geo311.geocoding.house`). Known numbers come
from OSM and, where the extract names them (``known_addresses`` in ``extracts.toml``), from
the city's own located reports: its 311 export's address text with the point the city's
system gave it. The embedded city has them on by default (its export is the City's open
data); ``Geocoder.from_data_dir(..., known_addresses=False)`` is OSM only, and ``geo311 city
init --located-reports FILE.csv`` names a new city's. A number that the street's own known numbers
cannot place is put on the city's block-number grid learned from all known numbers
(:mod:`geo311.geocoding.grid`; an ``interpolated`` answer whose reason says so) where the grid
fits; else, on a street where nothing is known, it is a ``street`` answer (the street's middle)
whose reason says how far off it can be;
on a street that goes on outside the extract, only when the mapped part is short and long
enough to hold the number (else ``none``: the house is most likely outside). Number 0 goes
where the city's earlier reports of number 0 on that street (and ZIP code) were put.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import tomllib
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from geo311.city.profile import default_city, load_city
from geo311.errors import ConfigurationError, InputError
from geo311.geocoding.address import ParsedAddress, parse_address
from geo311.geocoding.grid import AddressGrid
from geo311.geocoding.house import MAX_NUMBER_GAP, low_rate, place_number
from geo311.geocoding.index import (
    GeocoderIndex,
    Street,
    default_cache_dir,
    load_index,
    with_known_points,
)
from geo311.geocoding.known import (
    KnownAddresses,
    guess_columns,
    known_addresses_entry,
    read_known_addresses,
)
from geo311.geocoding.names import StreetMatcher
from geo311.geocoding.sources import AddressFile, address_file_entries
from geo311.requests import repo as request_repo

if TYPE_CHECKING:
    from geo311.db.store import Store
    from geo311.settings import Settings

MATCH_TYPES = ("address_point", "interpolated", "intersection", "street", "none")
EXTRACTS_FILE = "extracts.toml"

_SCORES = {"address_point": 1.0, "interpolated": 0.85, "intersection": 0.9, "grid": 0.6}
# Stated errors (metres): an address point (a building's centroid), a number between two
# known ones of its side, and what an extrapolation of quality 0 adds.
_POINT_ERROR_M = 15.0
_INTERPOLATED_ERROR_M = 30.0
_EXTRAPOLATED_ERROR_M = 250.0
# A number not enclosed by two known numbers of its side (walked past the last one, or put
# between the other side's): measured on Boston with 5 % of its points kept, about one in ten
# such answers is over 100 m off, at any walk length (bench/geocode_bench.py --city).
_UNBRACKETED_ERROR_M = 110.0
# An intersection's point: the corner's size, plus the spread of the places the streets meet.
_CORNER_ERROR_M = 20.0
# A house stands this far off its street's line (a street-level answer's error adds it).
_SETBACK_M = 20.0
_INTERSECTION_CLUSTER_M = 90.0
_REPORTED_NOTE = "the point of an earlier located report at this address (not in OSM)"
_NEAR_MISS_M = 35.0
# A street-level answer (the street's middle) says how far off it can be when a place on the
# street is farther than this from the middle.
_STREET_NEAR_M = 100.0
# A street that goes on outside the extract and has no known house number gets a
# street-level answer only when its mapped part is this short (from its middle) ...
_UNNUMBERED_REACH_M = 150.0
# ... and long enough to hold the number at a low rate of metres per number: this share of
# the city's streets (with known numbers) have fewer metres per number.
_LOW_RATE_QUANTILE = 0.1
_DEFAULT_LOW_RATE_M = 2.5
# A located report of a house-number range at most this wide gives both ends a point.
_KNOWN_RANGE_MAX = 20


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """The answer to one forward geocoding query.

    Attributes
    ----------
    query
        The address as given.
    lat, lon
        The point (EPSG:4326); ``None`` for ``match_type == "none"``.
    match_type
        ``address_point``, ``interpolated``, ``intersection``, ``street`` or ``none``.
    score
        Confidence in 0..1 (0 for ``none``).
    matched_address
        The normalised address that was matched (OSM spelling), ``""`` for ``none``.
    reason
        Why there is no match (``none``), or a note on a weak match (a ``street`` answer
        says why it is street-level: house number 0, or a number it could not place);
        else ``""``.
    error_m
        How far from the true place the point may be, in metres (an estimate from how it
        was found: a known point, an interpolation and its distance from the known numbers,
        the block-number grid's spread, the street's length for a street-level answer);
        ``None`` for ``none``.
    """

    query: str
    lat: float | None
    lon: float | None
    match_type: str
    score: float
    matched_address: str = ""
    reason: str = ""
    error_m: float | None = None

    @property
    def matched(self) -> bool:
        """Whether a point was found."""
        return self.match_type != "none"


@dataclass(frozen=True, slots=True)
class ReverseResult:
    """The answer to one reverse geocoding query.

    Attributes
    ----------
    street
        Name of the nearest street segment (``""`` if the segment has no name).
    street_distance_m
        Distance to that segment in metres.
    address
        Nearest address point (``"145 Ipswich Street"``), ``""`` when there is none.
    address_distance_m
        Distance to it in metres.
    address_lat, address_lon
        The address point (EPSG:4326).
    """

    street: str
    street_distance_m: float
    address: str
    address_distance_m: float | None
    address_lat: float | None
    address_lon: float | None


def _none(query: str, reason: str) -> GeocodeResult:
    return GeocodeResult(query, None, None, "none", 0.0, "", reason)


@dataclass(frozen=True, slots=True)
class Extract:
    """One city's geocoder extract, as listed in ``data/osm/extracts.toml``.

    Attributes
    ----------
    name
        The table's name (``boston_backbay``).
    streets
        The streets extract (every named ``highway`` way is indexed).
    addresses
        The address points extract, ``None`` for a city without address points.
    zip_codes
        ZIP codes whose area overlaps the extract (empty: any ZIP is accepted).
    known_addresses
        The city's own located reports (a CSV and its columns) whose house numbers the
        geocoder knows by default, ``None`` for none.
    address_files
        The city's other address files (OpenAddresses, TIGER/Line ranges, its own CSV; see
        :mod:`geo311.geocoding.sources`): ``[[<name>.address_files]]`` items.
    """

    name: str
    streets: Path
    addresses: Path | None
    zip_codes: frozenset[str]
    known_addresses: KnownAddresses | None = None
    address_files: tuple[AddressFile, ...] = ()


def load_extract(data_dir: Path | str, name: str | None = None) -> Extract:
    """Read one extract's entry of ``<data_dir>/osm/extracts.toml``.

    Parameters
    ----------
    data_dir
        The data folder (``Settings.data_dir``).
    name
        The extract's table name; default the file's ``default`` entry.

    Returns
    -------
    Extract
        File paths (inside ``<data_dir>/osm``) and ZIP codes.

    Raises
    ------
    ConfigurationError
        If the file or the entry is missing or malformed; the message names the fix.
    """
    where = Path(data_dir) / "osm" / EXTRACTS_FILE
    try:
        raw = tomllib.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"{where} does not exist; list the city's OSM extracts there", field="data_dir"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{where} is not valid TOML: {exc}", field="data_dir") from None
    key = name if name is not None else str(raw.get("default", ""))
    entry = raw.get(key)
    if not isinstance(entry, dict) or "streets" not in entry:
        known = sorted(k for k, v in raw.items() if isinstance(v, dict) and "streets" in v)
        raise ConfigurationError(
            f"extract {key!r} is not in {where} (with a 'streets' file); choose one of {known}",
            field="extract",
        )
    folder = where.parent
    return Extract(
        name=key,
        streets=folder / str(entry["streets"]),
        addresses=folder / str(entry["addresses"]) if entry.get("addresses") else None,
        zip_codes=frozenset(str(z).zfill(5) for z in entry.get("zip_codes", [])),
        known_addresses=known_addresses_entry(entry.get("known_addresses"), folder, where),
        address_files=address_file_entries(entry.get("address_files"), folder, where),
    )


class Geocoder:
    """Offline geocoder over a city's OSM streets (all named ways) and address points.

    Build it with :meth:`from_data_dir` or :meth:`from_files`.

    Parameters
    ----------
    index
        The prepared index (see :func:`geo311.geocoding.index.load_index`).
    zip_codes
        ZIP codes the extract covers. An address whose ZIP is not among them is answered
        ``none``; empty accepts any ZIP. Default: the postcodes of the address points only.
    interpolate
        Place house numbers between and past the street's known numbers (``interpolated``
        answers); False answers only known address points (the bench's baseline).
    grid
        Place the numbers that the street's own known numbers cannot by the city's learned
        block-number grid (:mod:`geo311.geocoding.grid`); False keeps the rules without it
        (the bench's baseline).
    """

    def __init__(
        self,
        index: GeocoderIndex,
        *,
        zip_codes: Collection[str] | None = None,
        interpolate: bool = True,
        grid: bool = True,
    ) -> None:
        self.index = index
        self.zip_codes = frozenset(zip_codes) if zip_codes is not None else index.zip_codes
        self.interpolate = interpolate
        self.use_grid = grid
        self._to_metric = Transformer.from_crs("EPSG:4326", index.crs, always_xy=True)
        self._to_wgs = Transformer.from_crs(index.crs, "EPSG:4326", always_xy=True)
        self._matcher = StreetMatcher(index.streets)
        self._result_cache: dict[str, GeocodeResult] = {}
        self._edge_tree: Any = None
        self._addr_tree: Any = None
        self._rate: float | None = None
        self._grid: AddressGrid | None = None

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_files(
        cls,
        drive_osm: Path | str,
        addresses_osm: Path | str | None = None,
        *,
        cache_dir: Path | str | None = None,
        use_cache: bool = True,
        zip_codes: Collection[str] | None = None,
        address_files: Sequence[AddressFile] = (),
    ) -> Geocoder:
        """Build a geocoder from a city's OSM extracts (and its other address files).

        Parameters
        ----------
        drive_osm
            The city's streets (``.osm`` / ``.osm.bz2`` / ``.osm.pbf``): a drivable extract
            or all ``highway`` ways; every named way is indexed.
        addresses_osm
            Features with ``addr:housenumber`` (buildings and points); ``None`` for a city
            without address points (intersections and street-level matches still work).
        cache_dir
            Where to cache the built index (default ``$GEO311_CACHE_DIR`` or
            ``~/.cache/geo311``); the cache is keyed by the files' size and mtime.
        use_cache
            False builds from scratch and writes no cache.
        zip_codes
            ZIP codes the extract covers (default: the address points' postcodes).
        address_files
            More address points: OpenAddresses, TIGER/Line ranges, a city's CSV (see
            :mod:`geo311.geocoding.sources`).

        Returns
        -------
        Geocoder
            The geocoder.
        """
        folder = (
            (Path(cache_dir) if cache_dir is not None else default_cache_dir())
            if use_cache
            else None
        )
        addresses = Path(addresses_osm) if addresses_osm is not None else None
        index = load_index(
            Path(drive_osm), addresses, cache_dir=folder, address_files=address_files
        )
        return cls(index, zip_codes=zip_codes)

    @classmethod
    def from_data_dir(
        cls,
        data_dir: Path | str,
        *,
        extract: str | None = None,
        cache_dir: Path | str | None = None,
        use_cache: bool = True,
        known_addresses: bool = True,
    ) -> Geocoder:
        """Build the geocoder of a data folder's extract (``<data_dir>/osm/extracts.toml``).

        Parameters
        ----------
        data_dir
            The data folder (``Settings.data_dir``).
        extract
            The extract's name in ``extracts.toml``; default its ``default`` entry (the
            default city's).
        cache_dir
            Index cache folder (see :meth:`from_files`).
        use_cache
            False builds from scratch and writes no cache.
        known_addresses
            Also know the house numbers of the city's own located reports when the extract
            names them (``known_addresses`` in ``extracts.toml``; see
            :meth:`with_known_addresses`). False: OSM only.

        Returns
        -------
        Geocoder
            The geocoder; ZIP codes are the extract's list plus the address points' own, or
            none (any ZIP accepted) when the extract lists none.
        """
        entry = load_extract(data_dir, extract)
        geocoder = cls.from_files(
            entry.streets,
            entry.addresses,
            cache_dir=cache_dir,
            use_cache=use_cache,
            address_files=entry.address_files,
        )
        # ZIP codes restrict answers only where the extract lists them: the postcodes that
        # some address points carry are no list of the ZIP codes a city's extract covers.
        geocoder.zip_codes = (
            geocoder.index.zip_codes | entry.zip_codes if entry.zip_codes else frozenset()
        )
        if known_addresses and entry.known_addresses is not None:
            own = Path(data_dir) / "city.toml"
            city = load_city(own) if own.is_file() else default_city()
            texts, lats, lons = read_known_addresses(
                entry.known_addresses, is_placeholder=city.is_placeholder
            )
            geocoder = geocoder.with_known_addresses(texts, lats, lons)
        return geocoder

    def with_known_addresses(
        self, addresses: Sequence[Any], lats: Sequence[float], lons: Sequence[float]
    ) -> Geocoder:
        """Return a geocoder that also knows the house numbers of located reports.

        The city's own reports that came with coordinates (from the city's source, not
        from this geocoder) say where their house numbers are: single numbers (and both
        ends of a narrow range such as ``135-137``, one building) on a street of the index
        (exact name, a ZIP the extract covers) become address points where OSM has none,
        and interpolation uses them. OSM address points keep precedence. Reports of number
        0 give the point a street-level answer for number 0 uses (where the city's own
        system put them), still flagged ``street``.

        Parameters
        ----------
        addresses
            The reports' address text.
        lats, lons
            Their coordinates in degrees (EPSG:4326), in the same order; placeholders such
            as the city's "no location" point must be left out by the caller.

        Returns
        -------
        Geocoder
            A new geocoder (this one is unchanged).
        """
        if not len(addresses) == len(lats) == len(lons):
            raise InputError(
                f"addresses, lats and lons have {len(addresses)}, {len(lats)} and "
                f"{len(lons)} items; pass one coordinate pair per address",
                field="lats",
            )
        xs, ys = self._to_metric.transform(np.asarray(lons, float), np.asarray(lats, float))
        points: list[tuple[str, int, float, float, str]] = []
        for text, x, y in zip(addresses, np.atleast_1d(xs), np.atleast_1d(ys), strict=True):
            parsed = parse_address(text) if isinstance(text, str) else None
            if parsed is None or parsed.kind != "address" or not np.isfinite(x + y):
                continue
            low = parsed.number_low
            high = parsed.number_high if parsed.number_high is not None else low
            if low is None or high is None or high - low > _KNOWN_RANGE_MAX:
                continue
            if parsed.zipcode and self.zip_codes and parsed.zipcode not in self.zip_codes:
                continue
            found = self._street(parsed.street)
            if found is not None and found[1] == 1.0:
                # A range ("135-137") is one building: its point is both ends' point.
                zipcode = parsed.zipcode or ""
                points += [(found[0].key, n, float(x), float(y), zipcode) for n in {low, high}]
        return Geocoder(
            with_known_points(self.index, points),
            zip_codes=self.zip_codes,
            interpolate=self.interpolate,
            grid=self.use_grid,
        )

    # -- helpers --------------------------------------------------------------------
    def _wgs(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._to_wgs.transform(x, y)
        return round(float(lat), 7), round(float(lon), 7)

    def _answer(
        self,
        query: str,
        xy: tuple[float, float],
        match_type: str,
        score: float,
        *,
        error_m: float,
        **kw: str,
    ) -> GeocodeResult:
        lat, lon = self._wgs(*xy)
        error = round(float(error_m), 1)
        return GeocodeResult(query, lat, lon, match_type, round(score, 3), **kw, error_m=error)

    def grid(self) -> AddressGrid:
        """Return the city's block-number grid, learned from the known numbers (cached)."""
        if self._grid is None:
            self._grid = AddressGrid(self.index.streets)
        return self._grid

    def match_street(self, name: str) -> tuple[str, float] | None:
        """Return the OSM name of the street a written name means, and the name score.

        Parameters
        ----------
        name
            Street name as written (``W Newton St``, ``Mass Ave``).

        Returns
        -------
        (str, float) or None
            OSM street name and a 0..1 similarity; ``None`` when no street is close enough.
        """
        found = self._street(name)
        return (found[0].name, found[1]) if found else None

    def _street(self, name: str) -> tuple[Street, float] | None:
        return self._matcher.match(name)

    # -- forward --------------------------------------------------------------------
    def geocode(self, address: str) -> GeocodeResult:
        """Geocode one address.

        Parameters
        ----------
        address
            ``145-151 Ipswich St  Boston  MA  02215``, ``INTERSECTION of Commonwealth Ave &
            Fairfield St  Boston  MA``, ``16TH ST &VALENCIA ST, San Francisco, CA 94103``,
            ``0 Boylston St``, ``Newbury Street`` ...

        Returns
        -------
        GeocodeResult
            The match; ``match_type == "none"`` with a reason when nothing fits.
        """
        if not isinstance(address, str):
            address = (
                ""
                if address is None or (isinstance(address, float) and math.isnan(address))
                else str(address)
            )
        cached = self._result_cache.get(address)
        if cached is not None:
            return cached
        result = self._geocode(address)
        if len(self._result_cache) < 500_000:
            self._result_cache[address] = result
        return result

    def _geocode(self, query: str) -> GeocodeResult:
        if not query.strip():
            return _none(query, "empty address")
        parsed = parse_address(query)
        if parsed.kind == "unparsed":
            return _none(query, f"could not find a street in {query.strip()!r}")
        if parsed.zipcode and self.zip_codes and parsed.zipcode not in self.zip_codes:
            return _none(query, f"ZIP {parsed.zipcode} is outside the embedded OSM extract")
        if parsed.kind == "intersection":
            return self._intersection(query, parsed)
        parsed = self._whole_name(parsed)
        found = self._street(parsed.street)
        if found is None:
            return _none(query, f"street {parsed.street!r} is not in the embedded OSM extract")
        street, name_score = found
        if parsed.kind == "street" or parsed.number_low is None:
            return self._street_result(query, street, name_score, parsed)
        if parsed.number_low == 0 and not parsed.number_high:
            note = f"house number 0: somewhere on {street.name}; street-level answer"
            return self._street_result(query, street, name_score, parsed, note=note)
        return self._house(query, parsed, street, name_score)

    def _whole_name(self, parsed: ParsedAddress) -> ParsedAddress:
        """``Public Alley 434`` or ``Route 9`` read as a street's whole name when it is one.

        A number written after the street (European order) is part of the name when the
        index has a street of that whole name (exactly, or when the street alone is unknown).
        """
        if not parsed.number_after or parsed.number_low != parsed.number_high:
            return parsed
        whole = f"{parsed.street} {parsed.number_low}"
        found = self._street(whole)
        if found is None or (found[1] < 1.0 and self._street(parsed.street) is not None):
            return parsed
        return dataclasses.replace(
            parsed, kind="street", street=whole, number_low=None, number_high=None
        )

    def _street_result(
        self, query: str, street: Street, name_score: float, parsed: ParsedAddress, note: str = ""
    ) -> GeocodeResult:
        score = (0.2 if street.leaves_extract else 0.35) * name_score
        label = self._label(street.name, parsed)
        point, where = _street_point(street, parsed)
        if where:
            note = f"{note}, {where}" if note else where
        reach = _reach(street, point)
        if reach > _STREET_NEAR_M:
            far = f"up to {reach:,.0f} m from a place on the street"
            note = f"{note}; {far}" if note else far
        error = reach + _SETBACK_M if street.geom is not None else 2 * _STREET_NEAR_M
        if street.leaves_extract:
            error = max(error, 2 * _STREET_NEAR_M)
        return self._answer(
            query, point, "street", score, matched_address=label, reason=note, error_m=error
        )

    def _fits_mapped_part(self, street: Street, n: int) -> bool:
        """Whether a number on a street without known numbers may lie on its mapped part.

        The street goes on outside the extract. Numbers start at one end, so a number that
        needs more street than is mapped (at a low rate of metres per number) is most likely
        outside; a small one on a short mapped part gets the street-level answer.
        """
        if street.exact or street.geom is None:
            return False
        if _reach(street, street.middle) > _UNNUMBERED_REACH_M:
            return False
        return n * self._low_rate() <= float(street.geom.length)

    def _low_rate(self) -> float:
        """Return a low metres-per-number rate of this city's streets (cached)."""
        if self._rate is None:
            self._rate = low_rate(self.index, _LOW_RATE_QUANTILE) or _DEFAULT_LOW_RATE_M
        return self._rate

    @staticmethod
    def _label(street: str, parsed: ParsedAddress, number: str = "") -> str:
        text = f"{number} {street}".strip()
        if parsed.zipcode:
            text += f", {parsed.zipcode}"
        return text

    def _house(
        self, query: str, parsed: ParsedAddress, street: Street, name_score: float
    ) -> GeocodeResult:
        low = int(parsed.number_low or 0)
        high = int(parsed.number_high or low)
        number = str(low) if low == high else f"{low}-{high}"
        label = self._label(street.name, parsed, number)
        # An address point for one of the range's numbers (same side first).
        wanted = [n for n in range(low, high + 1, 2)] + [n for n in range(low + 1, high + 1, 2)]
        for n in wanted[:200]:
            hit = street.exact.get(n)
            if hit is not None:
                score = _SCORES["address_point"] * name_score
                note = _REPORTED_NOTE if n in street.reported else ""
                return self._answer(
                    query,
                    hit[:2],
                    "address_point",
                    score,
                    matched_address=label,
                    reason=note,
                    error_m=_POINT_ERROR_M + (high - low) * 2.0,
                )
        target = low if low == high else low + 2 * ((high - low) // 4)
        point = place_number(street, target) if target > 0 and self.interpolate else None
        if point is not None:
            score = _SCORES["interpolated"] * point[2] * name_score
            error = _INTERPOLATED_ERROR_M + (1.0 - point[2]) * _EXTRAPOLATED_ERROR_M
            if not _bracketed(street, target):
                error = max(error, _UNBRACKETED_ERROR_M)
            return self._answer(
                query, point[:2], "interpolated", score, matched_address=label, error_m=error
            )
        gridded = target > 0 and self.interpolate and self.use_grid
        placed = self.grid().place(street, target) if gridded else None
        if placed is not None:
            score = _SCORES["grid"] * name_score * (1.0 if placed.error_m <= 100 else 0.6)
            note = f"placed on the city's block-number grid from {placed.how}"
            return self._answer(
                query,
                (placed.x, placed.y),
                "interpolated",
                score,
                matched_address=label,
                reason=note,
                error_m=placed.error_m,
            )
        if street.leaves_extract and not self._fits_mapped_part(street, target):
            return _none(
                query,
                f"house number {number} cannot be placed on {street.name}: no nearby numbered "
                "address in the embedded OSM extract and the street continues outside it",
            )
        why = "no nearby numbered address" if street.exact else "no house number known"
        where = ", which continues outside the extract" if street.leaves_extract else ""
        note = (
            f"house number {number} not placed: {why} on {street.name}{where}; street-level answer"
        )
        return self._street_result(query, street, name_score, parsed, note=note)

    def _intersection(self, query: str, parsed: ParsedAddress) -> GeocodeResult:
        first = self._street(parsed.street)
        second = self._street(parsed.street2)
        missing = [s for s, f in ((parsed.street, first), (parsed.street2, second)) if f is None]
        if missing:
            names = " and ".join(repr(m) for m in missing)
            verb = "is" if len(missing) == 1 else "are"
            return _none(query, f"street {names} {verb} not in the embedded OSM extract")
        assert first is not None and second is not None
        (a, sa), (b, sb) = first, second
        label = f"{a.name} & {b.name}"
        if a.key == b.key:
            return _none(query, f"both streets of the intersection are {a.name}")
        name_score = min(sa, sb)
        pair = (a.key, b.key) if a.key < b.key else (b.key, a.key)
        pts = self.index.intersections.get(pair)
        if pts is not None and len(pts):
            clusters = _cluster(pts, _INTERSECTION_CLUSTER_M)
            best = max(clusters, key=len)
            x, y = pts[best].mean(axis=0)
            score = _SCORES["intersection"] * (1.0 if len(clusters) == 1 else 0.7) * name_score
            note = "" if len(clusters) == 1 else f"the streets meet at {len(clusters)} places"
            far = float(np.hypot(pts[:, 0] - x, pts[:, 1] - y).max())
            return self._answer(
                query,
                (float(x), float(y)),
                "intersection",
                score,
                matched_address=label,
                reason=note,
                error_m=_CORNER_ERROR_M + far,
            )
        return self._crossing(query, a, b, name_score, label)

    def _crossing(
        self, query: str, a: Street, b: Street, name_score: float, label: str
    ) -> GeocodeResult:
        """Streets that share no node: where their lines cross, or nearly touch."""
        if a.geom is None or b.geom is None:
            return _none(query, f"{label}: one of the streets has no geometry in the extract")
        crossing = a.geom.intersection(b.geom)
        if not crossing.is_empty:
            c = crossing.centroid
            far = float(crossing.hausdorff_distance(c))
            return self._answer(
                query,
                (float(c.x), float(c.y)),
                "intersection",
                0.8 * name_score,
                matched_address=label,
                error_m=_CORNER_ERROR_M + far,
            )
        from shapely.ops import nearest_points

        pa, pb = nearest_points(a.geom, b.geom)
        gap = float(pa.distance(pb))
        if gap <= _NEAR_MISS_M:
            note = f"the streets come within {gap:.0f} m but share no node"
            xy = ((pa.x + pb.x) / 2, (pa.y + pb.y) / 2)
            return self._answer(
                query,
                xy,
                "intersection",
                0.7 * name_score,
                matched_address=label,
                reason=note,
                error_m=_CORNER_ERROR_M + gap,
            )
        return _none(query, f"{label} do not meet in the embedded OSM extract ({gap:.0f} m apart)")

    def geocode_many(self, addresses: Iterable[Any]) -> pd.DataFrame:
        """Geocode many addresses (each distinct string once).

        Parameters
        ----------
        addresses
            Address strings (``None``/NaN give ``none`` with reason ``empty address``).

        Returns
        -------
        pandas.DataFrame
            One row per input, in order: ``address, lat, lon, match_type, score,
            matched_address, reason, error_m``.
        """
        values = ["" if not isinstance(a, str) else a for a in addresses]
        uniques = list(dict.fromkeys(values))
        answers = {u: self.geocode(u) for u in uniques}
        rows = [answers[v] for v in values]
        return pd.DataFrame(
            {
                "address": values,
                "lat": np.array(
                    [r.lat if r.lat is not None else np.nan for r in rows], dtype=float
                ),
                "lon": np.array(
                    [r.lon if r.lon is not None else np.nan for r in rows], dtype=float
                ),
                "match_type": [r.match_type for r in rows],
                "score": np.array([r.score for r in rows], dtype=float),
                "matched_address": [r.matched_address for r in rows],
                "reason": [r.reason for r in rows],
                "error_m": np.array(
                    [r.error_m if r.error_m is not None else np.nan for r in rows], dtype=float
                ),
            }
        )

    # -- reverse --------------------------------------------------------------------
    def reverse(self, lat: float, lon: float) -> ReverseResult:
        """Return the nearest street segment and the nearest address point of a point.

        Parameters
        ----------
        lat, lon
            The point in degrees (EPSG:4326).

        Returns
        -------
        ReverseResult
            Street name and distance, nearest address and distance (metres).
        """
        if not (-90.0 <= lat <= 90.0) or not (-180.0 <= lon <= 180.0):
            raise InputError(
                f"lat/lon ({lat}, {lon}) is not a point in degrees; pass lat in -90..90 and "
                "lon in -180..180",
                field="lat",
            )
        import shapely
        from scipy.spatial import cKDTree

        if self._edge_tree is None:
            self._edge_tree = shapely.STRtree(self.index.edge_geoms)
        if self._addr_tree is None and len(self.index.addr_xy):
            self._addr_tree = cKDTree(self.index.addr_xy)
        x, y = self._to_metric.transform(lon, lat)
        point = shapely.Point(x, y)
        hits, dists = self._edge_tree.query_nearest(point, return_distance=True, all_matches=True)
        named = [int(h) for h in hits if self.index.edge_names[int(h)]] or [int(h) for h in hits]
        street = self.index.edge_names[named[0]]
        street_d = round(float(dists[0]), 2)
        if self._addr_tree is None:
            return ReverseResult(street, street_d, "", None, None, None)
        d, i = self._addr_tree.query([x, y])
        ax, ay = self.index.addr_xy[int(i)]
        alat, alon = self._wgs(float(ax), float(ay))
        label = self.index.addr_labels[int(i)]
        return ReverseResult(street, street_d, label, round(float(d), 2), alat, alon)


def _bracketed(street: Street, n: int) -> bool:
    """Whether two known numbers of ``n``'s side, at most ``MAX_NUMBER_GAP`` apart, enclose it."""
    nums = street.numbers.nums.get(n % 2)
    if nums is None or not len(nums):
        return False
    i = int(np.searchsorted(nums, n))
    return 0 < i < len(nums) and int(nums[i]) - int(nums[i - 1]) <= MAX_NUMBER_GAP


def _street_point(street: Street, parsed: ParsedAddress) -> tuple[tuple[float, float], str]:
    """Where a street-level answer goes, and how that point was chosen.

    Number 0 goes where the city's earlier reports of number 0 on the street were put (those
    of the same ZIP code first); anything else, and number 0 on a street without such
    reports, to the street's middle.
    """
    zipcode = parsed.zipcode or ""
    if parsed.number_low == 0 and not parsed.number_high:
        if zipcode in street.zip_zero:
            where = f"at the point of the city's earlier reports of number 0 on it in {zipcode}"
            return street.zip_zero[zipcode], where
        if street.zero is not None:
            return street.zero, "at the point of the city's earlier reports of number 0 on it"
    return street.middle, "the street's middle"


def _reach(street: Street, point: tuple[float, float]) -> float:
    """How far a point is from the street's farthest point (metres)."""
    if street.geom is None:
        return 0.0
    import shapely

    xy = shapely.get_coordinates(street.geom)
    return float(np.hypot(xy[:, 0] - point[0], xy[:, 1] - point[1]).max())


def _cluster(points: np.ndarray, radius: float) -> list[list[int]]:
    """Greedy single-link clusters of a few points."""
    clusters: list[list[int]] = []
    for i, p in enumerate(points):
        for c in clusters:
            if any(np.hypot(*(points[j] - p)) <= radius for j in c):
                c.append(i)
                break
        else:
            clusters.append([i])
    return clusters


def summarise(match_types: Iterable[str]) -> str:
    """Return ``"N geocoded: a address_point, b interpolated, ...; c none"``."""
    counts = Counter(match_types)
    total = sum(counts.values())
    parts = [f"{counts[t]} {t}" for t in MATCH_TYPES if counts.get(t)]
    return f"{total} geocoded: " + (", ".join(parts) if parts else "nothing to do")


def geocode_pending_requests(
    store: Store,
    *,
    settings: Settings,
    geocoder: Geocoder | None = None,
    min_score: float = 0.0,
    known_addresses: bool = False,
) -> str:
    """Geocode the stored requests flagged ``needs_geocoding`` and write the answers.

    Matched rows get lat/lon, match type and score and ``needs_geocoding = False``; rows
    without a match (or below ``min_score``) keep ``needs_geocoding = True`` with match
    type ``none``.

    Parameters
    ----------
    store
        The store.
    settings
        Application settings (its ``data_dir`` holds the OSM extracts).
    geocoder
        A ready geocoder (default: built from ``settings.data_dir``).
    min_score
        Answers scoring below this are not used.
    known_addresses
        Also place house numbers from the stored requests that came with coordinates from
        their source (see :meth:`Geocoder.with_known_addresses`).

    Returns
    -------
    str
        One line: ``geocoding: N requests: a address_point, ..., c none``.
    """
    pending = request_repo.query_requests(store, needs_geocoding=True)
    if not pending:
        return "geocoding: no requests need geocoding"
    if geocoder is None:
        geocoder = Geocoder.from_data_dir(settings.data_dir)
    if known_addresses:
        geocoder = _with_located_requests(geocoder, store)
    frame = geocoder.geocode_many([_request_address(r.address, r.zipcode) for r in pending])
    rows: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    for req, answer in zip(pending, frame.itertuples(index=False), strict=True):
        row = _geocode_row(req.service_request_id, answer, min_score)
        if row["needs_geocoding"]:
            reason = str(answer.reason)
            if answer.match_type != "none":
                reason = f"score {answer.score:.2f} below {min_score:.2f}"
            reasons[_reason_kind(reason)] += 1
        rows.append(row)
    request_repo.set_geocodes(store, rows)
    types = [str(r["geocode_match_type"]) for r in rows]
    line = "geocoding: " + summarise(types).replace(" geocoded:", " requests:")
    if reasons:
        line += " (none: " + ", ".join(f"{n} {k}" for k, n in reasons.most_common(3)) + ")"
    return line


def _with_located_requests(geocoder: Geocoder, store: Store) -> Geocoder:
    """Return the geocoder plus the house numbers of the requests located by their source."""
    located = [
        r
        for r in request_repo.query_requests(store, needs_geocoding=False)
        if r.lat is not None and r.long is not None and not r.geocode_match_type and r.address
    ]
    return geocoder.with_known_addresses(
        [_request_address(r.address, r.zipcode) for r in located],
        [float(r.lat) for r in located if r.lat is not None],
        [float(r.long) for r in located if r.long is not None],
    )


def _geocode_row(request_id: str, answer: Any, min_score: float) -> dict[str, Any]:
    """Return the store update of one request from its row of ``Geocoder.geocode_many``."""
    ok = answer.match_type != "none" and float(answer.score) >= min_score
    return {
        "service_request_id": request_id,
        "lat": float(answer.lat) if ok else None,
        "lon": float(answer.lon) if ok else None,
        "geocode_match_type": answer.match_type if ok else "none",
        "geocode_score": float(answer.score) if ok else 0.0,
        "needs_geocoding": not ok,
    }


def _request_address(address: str, zipcode: str) -> str:
    if zipcode and zipcode not in address and not address.upper().startswith("INTERSECTION"):
        return f"{address} {zipcode}"
    return address


def _reason_kind(reason: str) -> str:
    if "ZIP" in reason:
        return "ZIP outside the extract"
    if "not in the embedded" in reason:
        return "street not in the extract"
    if "empty" in reason:
        return "no address"
    if "do not meet" in reason:
        return "streets do not meet"
    if "cannot be placed" in reason:
        return "house number not placeable"
    return "other"


def geocode_csv(
    in_path: Path | str,
    out_path: Path | str,
    *,
    address_column: str,
    geocoder: Geocoder,
) -> Counter[str]:
    """Add ``lat, lon, match_type, score, matched_address, error_m`` columns to a CSV file.

    Parameters
    ----------
    in_path
        Input CSV (``.csv`` or ``.csv.gz``) with a header row.
    out_path
        Output CSV; the input columns come first, unchanged.
    address_column
        Name of the column holding the address text.
    geocoder
        The geocoder to use.

    Returns
    -------
    collections.Counter
        Rows per match type.
    """
    in_path = Path(in_path)
    if not in_path.is_file():
        raise InputError(
            f"input CSV {str(in_path)!r} does not exist; pass an existing file", field="in_path"
        )
    frame = pd.read_csv(in_path, dtype=str, keep_default_na=False)
    if address_column not in frame.columns:
        raise InputError(
            f"--address-column {address_column!r} is not a column of {in_path.name}; "
            f"choose one of {', '.join(map(str, frame.columns))}",
            field="address_column",
        )
    result = geocoder.geocode_many(frame[address_column].tolist())
    out = frame.copy()
    for col in ("lat", "lon", "match_type", "score", "matched_address", "error_m"):
        out[col] = result[col].to_numpy()
    out.to_csv(out_path, index=False, quoting=csv.QUOTE_MINIMAL)
    return Counter(result["match_type"])


def located_report_columns(path: Path | str) -> tuple[str, str, str]:
    """Return the address, latitude and longitude columns of a city's located-reports CSV.

    The file can then be named as an extract's ``known_addresses`` (``file``, ``address``,
    ``lat``, ``lon``) in ``osm/extracts.toml``; ``geo311 city init --located-reports`` does.

    Parameters
    ----------
    path
        The CSV (``.csv`` or ``.csv.gz``) with a header row.

    Returns
    -------
    (str, str, str)
        The column names as written (``address``/``location``, ``lat``/``latitude``,
        ``lon``/``long``/``longitude``, matched without regard to case).

    Raises
    ------
    InputError
        When a column is missing; the message lists the file's columns.
    """
    return guess_columns(path)


def result_dict(result: GeocodeResult) -> dict[str, Any]:
    """Return a geocoding result as a plain dict (for JSON)."""
    return asdict(result)


__all__ = [
    "MATCH_TYPES",
    "Extract",
    "GeocodeResult",
    "KnownAddresses",
    "Geocoder",
    "ReverseResult",
    "geocode_csv",
    "geocode_pending_requests",
    "load_extract",
    "located_report_columns",
    "result_dict",
    "summarise",
]
