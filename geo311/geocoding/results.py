"""What a geocoder answers: a located address with its match type and stated error."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    pass

__all__ = [
    "CORNER_ERROR_M",
    "EXTRAPOLATED_ERROR_M",
    "GeocodeResult",
    "INTERPOLATED_ERROR_M",
    "MATCH_TYPES",
    "NoMatch",
    "POINT_ERROR_M",
    "ReverseResult",
    "SCORES",
    "SETBACK_M",
    "UNBRACKETED_ERROR_M",
    "none_result",
    "result_dict",
    "results_frame",
]


MATCH_TYPES = ("address_point", "interpolated", "intersection", "street", "none")


SCORES = {"address_point": 1.0, "interpolated": 0.85, "intersection": 0.9, "grid": 0.6}


# Stated errors (metres): an address point (a building's centroid), a number between two
# known ones of its side, and what an extrapolation of quality 0 adds.
POINT_ERROR_M = 15.0


INTERPOLATED_ERROR_M = 30.0


EXTRAPOLATED_ERROR_M = 250.0


# A number not enclosed by two known numbers of its side (walked past the last one, or put
# between the other side's): measured on Boston with 5 % of its points kept, about one in ten
# such answers is over 100 m off, at any walk length (bench/geocode_bench.py --city).
UNBRACKETED_ERROR_M = 110.0


# An intersection's point: the corner's size, plus the spread of the places the streets meet.
CORNER_ERROR_M = 20.0


# A house stands this far off its street's line (a street-level answer's error adds it).
SETBACK_M = 20.0


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
    failure
        For ``none``: the kind of failure, one of :class:`NoMatch` (counted in summaries; the
        ``reason`` carries the specifics), else ``""``.
    """

    query: str
    lat: float | None
    lon: float | None
    match_type: str
    score: float
    matched_address: str = ""
    reason: str = ""
    error_m: float | None = None
    failure: str = ""

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


class NoMatch(StrEnum):
    """The kinds of "no match": what a summary counts (the reason says the specifics)."""

    EMPTY = "no address"
    NO_STREET = "no street in the address"
    ZIP_OUTSIDE = "ZIP outside the extract"
    STREET_UNKNOWN = "street not in the extract"
    SAME_STREET = "one street named twice"
    NO_GEOMETRY = "street without geometry"
    STREETS_APART = "streets do not meet"
    NUMBER_UNPLACEABLE = "house number not placeable"


def none_result(query: str, failure: NoMatch, reason: str) -> GeocodeResult:
    """Return the answer "no match": its kind and the specific reason."""
    return GeocodeResult(query, None, None, "none", 0.0, "", reason, failure=str(failure))


def result_dict(result: GeocodeResult) -> dict[str, Any]:
    """Return a geocoding result as a plain dict (for JSON)."""
    return asdict(result)


def results_frame(addresses: Sequence[str], results: Sequence[GeocodeResult]) -> pd.DataFrame:
    """Return answers as a table, one row per address, in order.

    Columns: ``address, lat, lon, match_type, score, matched_address, reason, error_m, failure``.
    """

    def floats(values: Iterable[float | None]) -> np.ndarray:
        return np.array([v if v is not None else np.nan for v in values], dtype=float)

    return pd.DataFrame(
        {
            "address": list(addresses),
            "lat": floats(r.lat for r in results),
            "lon": floats(r.lon for r in results),
            "match_type": [r.match_type for r in results],
            "score": floats(r.score for r in results),
            "matched_address": [r.matched_address for r in results],
            "reason": [r.reason for r in results],
            "error_m": floats(r.error_m for r in results),
            "failure": [r.failure for r in results],
        }
    )
