"""Offline geocoding from the embedded OpenStreetMap extracts.

Forward geocoding turns Boston 311 address text into a point with a match type
(``address_point``, ``interpolated``, ``intersection``, ``street`` or ``none``), a score in
0..1 and the matched, normalised address; a ``none`` answer carries the reason and no point.
Reverse geocoding returns the nearest street segment and the nearest address point.

Sources: building centroids and points tagged ``addr:housenumber``/``addr:street`` and the
street names on the drivable street graph (``osmnx.graph_from_xml``). Metric work is done
in EPSG:26986; answers are EPSG:4326.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from geo311._address import ParsedAddress, parse_address, split_suffix, street_key
from geo311._geocode_index import (
    METRIC_CRS,
    GeocoderIndex,
    Street,
    default_cache_dir,
    load_index,
)
from geo311.errors import InputError

if TYPE_CHECKING:
    from geo311.settings import Settings
    from geo311.store import Store

MATCH_TYPES = ("address_point", "interpolated", "intersection", "street", "none")

# USPS ZIP codes whose area overlaps the embedded Back Bay extract's box
# (lat 42.3344..42.3678, lon -71.1067..-71.0626): Beacon Hill, Back Bay, Bay Village,
# Chinatown edge, South End, Fenway/Kenmore, Mission Hill edge, Prudential; Kendall/MIT.
EMBEDDED_EXTRACT_ZIP_CODES = frozenset(
    {"02108", "02111", "02114", "02115", "02116", "02118", "02120", "02199", "02215"}
    | {"02139", "02141", "02142"}
)

_SCORES = {"address_point": 1.0, "interpolated": 0.85, "intersection": 0.9}
# Straight-line interpolation between known numbers farther apart than this is refused.
_MAX_NUMBER_GAP = 120
_MAX_EXTRAPOLATION_M = 400.0
_INTERSECTION_CLUSTER_M = 90.0
_NEAR_MISS_M = 35.0
_NAME_CUTOFF = 86.0


@dataclass(frozen=True, slots=True)
class GeocodeResult:
    """The answer to one forward geocoding query.

    Attributes
    ----------
    query : str
        The address as given.
    lat, lon : float or None
        The point (EPSG:4326); ``None`` for ``match_type == "none"``.
    match_type : str
        ``address_point``, ``interpolated``, ``intersection``, ``street`` or ``none``.
    score : float
        Confidence in 0..1 (0 for ``none``).
    matched_address : str
        The normalised address that was matched (OSM spelling), ``""`` for ``none``.
    reason : str
        Why there is no match (``none``), or a note on a weak match; else ``""``.
    """

    query: str
    lat: float | None
    lon: float | None
    match_type: str
    score: float
    matched_address: str = ""
    reason: str = ""

    @property
    def matched(self) -> bool:
        """Whether a point was found."""
        return self.match_type != "none"


@dataclass(frozen=True, slots=True)
class ReverseResult:
    """The answer to one reverse geocoding query.

    Attributes
    ----------
    street : str
        Name of the nearest street segment (``""`` if the segment has no name).
    street_distance_m : float
        Distance to that segment in metres.
    address : str
        Nearest address point (``"145 Ipswich Street"``), ``""`` when there is none.
    address_distance_m : float or None
        Distance to it in metres.
    address_lat, address_lon : float or None
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


class Geocoder:
    """Offline geocoder over an OSM street graph and OSM address points.

    Build it with :meth:`from_data_dir` or :meth:`from_files`.

    Parameters
    ----------
    index : GeocoderIndex
        The prepared index (see :func:`geo311._geocode_index.load_index`).
    zip_codes : collection of str, optional, keyword-only
        ZIP codes the extract covers. An address whose ZIP is not among them is answered
        ``none``. Default: the postcodes of the address points only.
    """

    def __init__(self, index: GeocoderIndex, *, zip_codes: Collection[str] | None = None) -> None:
        self.index = index
        self.zip_codes = frozenset(zip_codes) if zip_codes is not None else index.zip_codes
        self._to_metric = Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
        self._to_wgs = Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
        self._keys = list(index.streets)
        self._by_base: dict[str, list[str]] = {}
        for key in self._keys:
            self._by_base.setdefault(split_suffix(key)[0], []).append(key)
        self._street_cache: dict[str, tuple[Street, float] | None] = {}
        self._result_cache: dict[str, GeocodeResult] = {}
        self._edge_tree: Any = None
        self._addr_tree: Any = None

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_files(
        cls,
        drive_osm: Path | str,
        addresses_osm: Path | str,
        *,
        cache_dir: Path | str | None = None,
        use_cache: bool = True,
        zip_codes: Collection[str] | None = None,
    ) -> Geocoder:
        """Build a geocoder from two OSM XML extracts.

        Parameters
        ----------
        drive_osm : Path or str
            Drivable street network (``.osm`` / ``.osm.bz2``).
        addresses_osm : Path or str
            Features with ``addr:housenumber`` (buildings and points).
        cache_dir : Path or str, optional
            Where to cache the built index (default ``$GEO311_CACHE_DIR`` or
            ``~/.cache/geo311``); the cache is keyed by the files' size and mtime.
        use_cache : bool
            False builds from scratch and writes no cache.
        zip_codes : collection of str, optional
            ZIP codes the extract covers (default: the address points' postcodes).

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
        index = load_index(Path(drive_osm), Path(addresses_osm), cache_dir=folder)
        return cls(index, zip_codes=zip_codes)

    @classmethod
    def from_data_dir(
        cls,
        data_dir: Path | str,
        *,
        cache_dir: Path | str | None = None,
        use_cache: bool = True,
    ) -> Geocoder:
        """Build the geocoder of the embedded data folder (``data/osm/boston_backbay_*``).

        Parameters
        ----------
        data_dir : Path or str
            The data folder (``Settings.data_dir``).
        cache_dir : Path or str, optional
            Index cache folder (see :meth:`from_files`).
        use_cache : bool
            False builds from scratch and writes no cache.

        Returns
        -------
        Geocoder
            The geocoder; ZIP codes default to those overlapping the embedded extract.
        """
        osm = Path(data_dir) / "osm"
        geocoder = cls.from_files(
            osm / "boston_backbay_drive.osm.bz2",
            osm / "boston_backbay_addresses.osm.bz2",
            cache_dir=cache_dir,
            use_cache=use_cache,
        )
        geocoder.zip_codes = geocoder.index.zip_codes | EMBEDDED_EXTRACT_ZIP_CODES
        return geocoder

    # -- helpers --------------------------------------------------------------------
    def _wgs(self, x: float, y: float) -> tuple[float, float]:
        lon, lat = self._to_wgs.transform(x, y)
        return round(float(lat), 7), round(float(lon), 7)

    def match_street(self, name: str) -> tuple[str, float] | None:
        """Return the OSM name of the street a written name means, and the name score.

        Parameters
        ----------
        name : str
            Street name as written (``W Newton St``, ``Mass Ave``).

        Returns
        -------
        (str, float) or None
            OSM street name and a 0..1 similarity; ``None`` when no street is close enough.
        """
        found = self._street(name)
        return (found[0].name, found[1]) if found else None

    def _street(self, name: str) -> tuple[Street, float] | None:
        if name in self._street_cache:
            return self._street_cache[name]
        key = street_key(name)
        found = self._lookup_key(key) if key else None
        self._street_cache[name] = found
        return found

    def _lookup_key(self, key: str) -> tuple[Street, float] | None:
        from rapidfuzz import fuzz, process

        streets = self.index.streets
        if key in streets:
            return streets[key], 1.0
        base, suffix = split_suffix(key)
        if not suffix:
            # "Fenway", "Charlesgate": a name written without its type.
            cands = self._by_base.get(base, [])
            if len(cands) == 1:
                return streets[cands[0]], 0.95
        best = process.extractOne(key, self._keys, scorer=fuzz.ratio, score_cutoff=_NAME_CUTOFF)
        if best is None:
            return None
        cand_key = best[0]
        cbase, csuffix = split_suffix(cand_key)
        if suffix and csuffix and suffix != csuffix:
            return None  # "Beaver Place" is not "Beaver Street"
        if fuzz.ratio(base, cbase) < _NAME_CUTOFF:
            return None
        dirs = ("NORTH", "SOUTH", "EAST", "WEST")
        first, cfirst = base.split(" ")[0], cbase.split(" ")[0]
        if (first in dirs or cfirst in dirs) and first != cfirst:
            return None  # "West Newton Street" is not "Newton Street"
        return streets[cand_key], round(float(best[1]) / 100.0, 3)

    # -- forward --------------------------------------------------------------------
    def geocode(self, address: str) -> GeocodeResult:
        """Geocode one address.

        Parameters
        ----------
        address : str
            ``145-151 Ipswich St  Boston  MA  02215``, ``INTERSECTION of Commonwealth Ave &
            Fairfield St  Boston  MA``, ``Newbury Street`` ...

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
        found = self._street(parsed.street)
        if found is None:
            return _none(query, f"street {parsed.street!r} is not in the embedded OSM extract")
        street, name_score = found
        if parsed.kind == "street" or not parsed.number_low:
            return self._street_result(query, street, name_score, parsed)
        return self._house(query, parsed, street, name_score)

    def _street_result(
        self, query: str, street: Street, name_score: float, parsed: ParsedAddress, note: str = ""
    ) -> GeocodeResult:
        lat, lon = self._wgs(*street.middle)
        score = (0.2 if street.leaves_extract else 0.35) * name_score
        return GeocodeResult(
            query, lat, lon, "street", round(score, 3), self._label(street.name, parsed), note
        )

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
        # An address point for one of the range's numbers (same side first).
        wanted = [n for n in range(low, high + 1, 2)] + [n for n in range(low + 1, high + 1, 2)]
        for n in wanted[:200]:
            hit = street.exact.get(n)
            if hit is not None:
                lat, lon = self._wgs(hit[0], hit[1])
                number = str(low) if low == high else f"{low}-{high}"
                return GeocodeResult(
                    query,
                    lat,
                    lon,
                    "address_point",
                    round(_SCORES["address_point"] * name_score, 3),
                    self._label(street.name, parsed, number),
                )
        target = low if low == high else low + 2 * ((high - low) // 4)
        number = str(low) if low == high else f"{low}-{high}"
        point = self._interpolate(street, target)
        if point is not None:
            x, y, quality = point
            lat, lon = self._wgs(x, y)
            return GeocodeResult(
                query,
                lat,
                lon,
                "interpolated",
                round(_SCORES["interpolated"] * quality * name_score, 3),
                self._label(street.name, parsed, number),
            )
        if street.leaves_extract:
            return _none(
                query,
                f"house number {number} cannot be placed on {street.name}: no nearby numbered "
                "address in the embedded OSM extract and the street continues outside it",
            )
        return self._street_result(
            query,
            street,
            name_score,
            parsed,
            note=f"house number {number} not placed: no nearby numbered address on {street.name}",
        )

    def _interpolate(self, street: Street, n: int) -> tuple[float, float, float] | None:
        nums_by_parity = street.numbers.nums
        parity = n % 2
        for par, quality in ((parity, 1.0), (1 - parity, 0.9)):
            nums = nums_by_parity.get(par)
            if nums is None or len(nums) == 0:
                continue
            xy = street.numbers.xy[par]
            i = int(np.searchsorted(nums, n))
            if 0 < i < len(nums):
                n0, n1 = int(nums[i - 1]), int(nums[i])
                if n1 - n0 <= _MAX_NUMBER_GAP:
                    t = (n - n0) / (n1 - n0) if n1 != n0 else 0.0
                    p = xy[i - 1] + t * (xy[i] - xy[i - 1])
                    return float(p[0]), float(p[1]), quality
            # Beyond the known numbers (or a too-wide gap): extrapolate from the nearest end.
            result = self._extrapolate(street, nums, xy, n, i)
            if result is not None:
                return result[0], result[1], quality * result[2]
        return None

    def _extrapolate(
        self, street: Street, nums: np.ndarray, xy: np.ndarray, n: int, i: int
    ) -> tuple[float, float, float] | None:
        if i >= len(nums):
            idx = [len(nums) - 1 - k for k in range(len(nums))]
        elif i == 0:
            idx = list(range(len(nums)))
        else:  # inside a too-wide gap: use the closer neighbour
            idx = (
                list(range(i, len(nums)))
                if nums[i] - n < n - nums[i - 1]
                else list(range(i - 1, -1, -1))
            )
        end = idx[0]
        n_end = int(nums[end])
        gap = abs(n - n_end)
        if gap <= 4:
            return float(xy[end][0]), float(xy[end][1]), 0.9
        # Rate (metres per number) and direction from a second known point at least 40 m away.
        other = next(
            (k for k in idx[1:] if nums[k] != n_end and np.hypot(*(xy[k] - xy[end])) >= 40.0), None
        )
        if other is None or street.geom is None:
            return None
        rate = float(np.hypot(*(xy[end] - xy[other]))) / abs(n_end - int(nums[other]))
        dist = rate * gap
        if dist > _MAX_EXTRAPOLATION_M:
            return None
        # Walk along the street line (it may curve) from the last known number onwards.
        part, s_end, off_end = _locate(street.geom, float(xy[end][0]), float(xy[end][1]))
        part2, s_other, off_other = _locate(street.geom, float(xy[other][0]), float(xy[other][1]))
        if part is not part2 or max(off_end, off_other) > 60.0 or s_end == s_other:
            return None
        forward = (n - n_end) * (n_end - int(nums[other])) > 0
        step = 1.0 if (s_end > s_other) == forward else -1.0
        target = s_end + step * dist
        if not -20.0 <= target <= part.length + 20.0:
            return None  # the street does not go on that far inside the extract
        p = part.interpolate(min(max(target, 0.0), part.length))
        return float(p.x), float(p.y), max(0.5, 0.9 - dist / 1000.0)

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
            lat, lon = self._wgs(float(x), float(y))
            return GeocodeResult(query, lat, lon, "intersection", round(score, 3), label, note)
        if a.geom is None or b.geom is None:
            return _none(query, f"{label}: one of the streets has no geometry in the extract")
        crossing = a.geom.intersection(b.geom)
        if not crossing.is_empty:
            c = crossing.centroid
            lat, lon = self._wgs(float(c.x), float(c.y))
            score = 0.8 * name_score
            return GeocodeResult(query, lat, lon, "intersection", round(score, 3), label)
        from shapely.ops import nearest_points

        pa, pb = nearest_points(a.geom, b.geom)
        gap = float(pa.distance(pb))
        if gap <= _NEAR_MISS_M:
            lat, lon = self._wgs((pa.x + pb.x) / 2, (pa.y + pb.y) / 2)
            score = 0.7 * name_score
            note = f"the streets come within {gap:.0f} m but share no node"
            return GeocodeResult(query, lat, lon, "intersection", round(score, 3), label, note)
        return _none(query, f"{label} do not meet in the embedded OSM extract ({gap:.0f} m apart)")

    def geocode_many(self, addresses: Iterable[Any]) -> pd.DataFrame:
        """Geocode many addresses (each distinct string once).

        Parameters
        ----------
        addresses : iterable of str
            Address strings (``None``/NaN give ``none`` with reason ``empty address``).

        Returns
        -------
        pandas.DataFrame
            One row per input, in order: ``address, lat, lon, match_type, score,
            matched_address, reason``.
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
            }
        )

    # -- reverse --------------------------------------------------------------------
    def reverse(self, lat: float, lon: float) -> ReverseResult:
        """Return the nearest street segment and the nearest address point of a point.

        Parameters
        ----------
        lat, lon : float
            The point in degrees (EPSG:4326).

        Returns
        -------
        ReverseResult
            Street name and distance, nearest address and distance (metres, EPSG:26986).
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
        edge = named[0]
        street = self.index.edge_names[edge]
        street_d = float(dists[0])
        if self._addr_tree is None:
            return ReverseResult(street, round(street_d, 2), "", None, None, None)
        d, i = self._addr_tree.query([x, y])
        ax, ay = self.index.addr_xy[int(i)]
        alat, alon = self._wgs(float(ax), float(ay))
        return ReverseResult(
            street,
            round(street_d, 2),
            self.index.addr_labels[int(i)],
            round(float(d), 2),
            alat,
            alon,
        )


def _locate(geom: Any, x: float, y: float) -> tuple[Any, float, float]:
    """Return the part of a (multi)line nearest to (x, y), the position along it, the offset."""
    import shapely

    p = shapely.Point(x, y)
    parts = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    best = min(parts, key=lambda g: g.distance(p))
    return best, float(best.project(p)), float(best.distance(p))


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
) -> str:
    """Geocode the stored requests flagged ``needs_geocoding`` and write the answers.

    Matched rows get lat/lon, match type and score and ``needs_geocoding = False``; rows
    without a match (or below ``min_score``) keep ``needs_geocoding = True`` with match
    type ``none``.

    Parameters
    ----------
    store : Store
        The store.
    settings : Settings
        Application settings (its ``data_dir`` holds the OSM extracts).
    geocoder : Geocoder, optional
        A ready geocoder (default: built from ``settings.data_dir``).
    min_score : float
        Answers scoring below this are not used.

    Returns
    -------
    str
        One line: ``geocoding: N requests: a address_point, ..., c none``.
    """
    pending = store.query_requests(needs_geocoding=True)
    if not pending:
        return "geocoding: no requests need geocoding"
    if geocoder is None:
        geocoder = Geocoder.from_data_dir(settings.data_dir)
    frame = geocoder.geocode_many([_request_address(r.address, r.zipcode) for r in pending])
    rows: list[dict[str, Any]] = []
    types: list[str] = []
    reasons: Counter[str] = Counter()
    for req, lat, lon, mtype, score, reason in zip(
        pending,
        frame["lat"],
        frame["lon"],
        frame["match_type"],
        frame["score"],
        frame["reason"],
        strict=True,
    ):
        ok = mtype != "none" and float(score) >= min_score
        if not ok and mtype != "none":
            reason = f"score {score:.2f} below {min_score:.2f}"
        if not ok:
            reasons[_reason_kind(str(reason))] += 1
        types.append(mtype if ok else "none")
        rows.append(
            {
                "service_request_id": req.service_request_id,
                "lat": float(lat) if ok else None,
                "lon": float(lon) if ok else None,
                "geocode_match_type": mtype if ok else "none",
                "geocode_score": float(score) if ok else 0.0,
                "needs_geocoding": not ok,
            }
        )
    store.set_geocodes(rows)
    line = "geocoding: " + summarise(types).replace(" geocoded:", " requests:")
    if reasons:
        line += " (none: " + ", ".join(f"{n} {k}" for k, n in reasons.most_common(3)) + ")"
    return line


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
    """Add ``lat, lon, match_type, score, matched_address`` columns to a CSV file.

    Parameters
    ----------
    in_path : Path or str
        Input CSV (``.csv`` or ``.csv.gz``) with a header row.
    out_path : Path or str
        Output CSV; the input columns come first, unchanged.
    address_column : str
        Name of the column holding the address text.
    geocoder : Geocoder
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
    for col in ("lat", "lon", "match_type", "score", "matched_address"):
        out[col] = result[col].to_numpy()
    out.to_csv(out_path, index=False, quoting=csv.QUOTE_MINIMAL)
    return Counter(result["match_type"])


def result_dict(result: GeocodeResult) -> dict[str, Any]:
    """Return a geocoding result as a plain dict (for JSON)."""
    return asdict(result)


__all__ = [
    "EMBEDDED_EXTRACT_ZIP_CODES",
    "MATCH_TYPES",
    "GeocodeResult",
    "Geocoder",
    "ReverseResult",
    "geocode_csv",
    "geocode_pending_requests",
    "result_dict",
    "summarise",
]
