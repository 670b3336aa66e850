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

import dataclasses
import math
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from geo311.city.profile import default_city, load_city
from geo311.errors import InputError
from geo311.geocoding.address import ParsedAddress, parse_address
from geo311.geocoding.extracts import load_extract
from geo311.geocoding.grid import AddressGrid
from geo311.geocoding.house import low_rate, place_number
from geo311.geocoding.index import (
    GeocoderIndex,
    Street,
    default_cache_dir,
    load_index,
    with_known_points,
)
from geo311.geocoding.intersections import IntersectionRules
from geo311.geocoding.known import (
    read_known_addresses,
)
from geo311.geocoding.names import StreetMatcher
from geo311.geocoding.results import (
    EXTRAPOLATED_ERROR_M,
    INTERPOLATED_ERROR_M,
    POINT_ERROR_M,
    SCORES,
    SETBACK_M,
    UNBRACKETED_ERROR_M,
    GeocodeResult,
    NoMatch,
    ReverseResult,
    none_result,
    results_frame,
)
from geo311.geocoding.sources import AddressFile
from geo311.geocoding.streets import (
    DEFAULT_LOW_RATE_M,
    KNOWN_RANGE_MAX,
    LOW_RATE_QUANTILE,
    REPORTED_NOTE,
    STREET_NEAR_M,
    UNNUMBERED_REACH_M,
    bracketed,
    street_point,
    street_reach,
)

if TYPE_CHECKING:
    pass


class Geocoder(IntersectionRules):
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
            if low is None or high is None or high - low > KNOWN_RANGE_MAX:
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
            return none_result(query, NoMatch.EMPTY, "empty address")
        parsed = parse_address(query)
        if parsed.kind == "unparsed":
            return none_result(
                query, NoMatch.NO_STREET, f"could not find a street in {query.strip()!r}"
            )
        if parsed.zipcode and self.zip_codes and parsed.zipcode not in self.zip_codes:
            return none_result(
                query,
                NoMatch.ZIP_OUTSIDE,
                f"ZIP {parsed.zipcode} is outside the embedded OSM extract",
            )
        if parsed.kind == "intersection":
            return self._intersection(query, parsed)
        parsed = self._whole_name(parsed)
        found = self._street(parsed.street)
        if found is None:
            return none_result(
                query,
                NoMatch.STREET_UNKNOWN,
                f"street {parsed.street!r} is not in the embedded OSM extract",
            )
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
        point, where = street_point(street, parsed)
        if where:
            note = f"{note}, {where}" if note else where
        reach = street_reach(street, point)
        if reach > STREET_NEAR_M:
            far = f"up to {reach:,.0f} m from a place on the street"
            note = f"{note}; {far}" if note else far
        error = reach + SETBACK_M if street.geom is not None else 2 * STREET_NEAR_M
        if street.leaves_extract:
            error = max(error, 2 * STREET_NEAR_M)
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
        if street_reach(street, street.middle) > UNNUMBERED_REACH_M:
            return False
        return n * self._low_rate() <= float(street.geom.length)

    def _low_rate(self) -> float:
        """Return a low metres-per-number rate of this city's streets (cached)."""
        if self._rate is None:
            self._rate = low_rate(self.index, LOW_RATE_QUANTILE) or DEFAULT_LOW_RATE_M
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
                score = SCORES["address_point"] * name_score
                note = REPORTED_NOTE if n in street.reported else ""
                return self._answer(
                    query,
                    hit[:2],
                    "address_point",
                    score,
                    matched_address=label,
                    reason=note,
                    error_m=POINT_ERROR_M + (high - low) * 2.0,
                )
        target = low if low == high else low + 2 * ((high - low) // 4)
        point = place_number(street, target) if target > 0 and self.interpolate else None
        if point is not None:
            score = SCORES["interpolated"] * point[2] * name_score
            error = INTERPOLATED_ERROR_M + (1.0 - point[2]) * EXTRAPOLATED_ERROR_M
            if not bracketed(street, target):
                error = max(error, UNBRACKETED_ERROR_M)
            return self._answer(
                query, point[:2], "interpolated", score, matched_address=label, error_m=error
            )
        gridded = target > 0 and self.interpolate and self.use_grid
        placed = self.grid().place(street, target) if gridded else None
        if placed is not None:
            score = SCORES["grid"] * name_score * (1.0 if placed.error_m <= 100 else 0.6)
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
            return none_result(
                query,
                NoMatch.NUMBER_UNPLACEABLE,
                f"house number {number} cannot be placed on {street.name}: no nearby numbered "
                "address in the embedded OSM extract and the street continues outside it",
            )
        why = "no nearby numbered address" if street.exact else "no house number known"
        where = ", which continues outside the extract" if street.leaves_extract else ""
        note = (
            f"house number {number} not placed: {why} on {street.name}{where}; street-level answer"
        )
        return self._street_result(query, street, name_score, parsed, note=note)

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
        return results_frame(values, [answers[v] for v in values])

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


__all__ = ["Geocoder"]
