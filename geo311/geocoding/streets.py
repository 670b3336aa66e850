"""Where a street answer lies: its reach, a corner cluster, a number's bracket; the rules' limits."""

from __future__ import annotations

import numpy as np

from geo311.geocoding.address import ParsedAddress
from geo311.geocoding.house import MAX_NUMBER_GAP
from geo311.geocoding.index import (
    Street,
)

__all__ = [
    "DEFAULT_LOW_RATE_M",
    "INTERSECTION_CLUSTER_M",
    "KNOWN_RANGE_MAX",
    "LOW_RATE_QUANTILE",
    "NEAR_MISS_M",
    "REPORTED_NOTE",
    "STREET_NEAR_M",
    "UNNUMBERED_REACH_M",
    "bracketed",
    "cluster",
    "street_reach",
    "street_point",
]

INTERSECTION_CLUSTER_M = 90.0


REPORTED_NOTE = "the point of an earlier located report at this address (not in OSM)"


NEAR_MISS_M = 35.0


# A street-level answer (the street's middle) says how far off it can be when a place on the
# street is farther than this from the middle.
STREET_NEAR_M = 100.0


# A street that goes on outside the extract and has no known house number gets a
# street-level answer only when its mapped part is this short (from its middle) ...
UNNUMBERED_REACH_M = 150.0


# ... and long enough to hold the number at a low rate of metres per number: this share of
# the city's streets (with known numbers) have fewer metres per number.
LOW_RATE_QUANTILE = 0.1


DEFAULT_LOW_RATE_M = 2.5


# A located report of a house-number range at most this wide gives both ends a point.
KNOWN_RANGE_MAX = 20


def bracketed(street: Street, n: int) -> bool:
    """Whether two known numbers of ``n``'s side, at most ``MAX_NUMBER_GAP`` apart, enclose it."""
    nums = street.numbers.nums.get(n % 2)
    if nums is None or not len(nums):
        return False
    i = int(np.searchsorted(nums, n))
    return 0 < i < len(nums) and int(nums[i]) - int(nums[i - 1]) <= MAX_NUMBER_GAP


def street_point(street: Street, parsed: ParsedAddress) -> tuple[tuple[float, float], str]:
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


def street_reach(street: Street, point: tuple[float, float]) -> float:
    """How far a point is from the street's farthest point (metres)."""
    if street.geom is None:
        return 0.0
    import shapely

    xy = shapely.get_coordinates(street.geom)
    return float(np.hypot(xy[:, 0] - point[0], xy[:, 1] - point[1]).max())


def cluster(points: np.ndarray, radius: float) -> list[list[int]]:
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
