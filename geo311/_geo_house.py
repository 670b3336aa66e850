"""Place a house number on a street from the street's known address points.

Between two known numbers of the same parity the point is interpolated on the straight line
between them; beyond the known numbers (or across a gap too wide to trust) it is extrapolated
along the street line at the street's own metres-per-number rate. All coordinates are the
index's metric CRS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo311._geocode_index import Street

# Straight-line interpolation between known numbers farther apart than this is refused.
MAX_NUMBER_GAP = 120
MAX_EXTRAPOLATION_M = 400.0
# Address points farther than this from a street line are not used to walk along it.
_MAX_OFFSET_M = 60.0


def place_number(street: Street, n: int) -> tuple[float, float, float] | None:
    """Return (x, y, quality in 0..1) of house number ``n`` on ``street``, or ``None``.

    Parameters
    ----------
    street
        The street, with its known numbers.
    n
        The house number.

    Returns
    -------
    tuple or None
        The point and how much to trust it (1 between two same-side neighbours); ``None``
        when no known number is near enough to place it.
    """
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
            if n1 - n0 <= MAX_NUMBER_GAP:
                t = (n - n0) / (n1 - n0) if n1 != n0 else 0.0
                p = xy[i - 1] + t * (xy[i] - xy[i - 1])
                return float(p[0]), float(p[1]), quality
        # Beyond the known numbers (or a too-wide gap): extrapolate from the nearest end.
        result = _extrapolate(street, nums, xy, n, i)
        if result is not None:
            return result[0], result[1], quality * result[2]
    return None


def _walk_order(nums: np.ndarray, n: int, i: int) -> list[int]:
    """Indices of the known numbers from the one nearest ``n`` outwards (one direction)."""
    if i >= len(nums):
        return [len(nums) - 1 - k for k in range(len(nums))]
    if i == 0:
        return list(range(len(nums)))
    # Inside a too-wide gap: use the closer neighbour.
    if nums[i] - n < n - nums[i - 1]:
        return list(range(i, len(nums)))
    return list(range(i - 1, -1, -1))


def _extrapolate(
    street: Street, nums: np.ndarray, xy: np.ndarray, n: int, i: int
) -> tuple[float, float, float] | None:
    idx = _walk_order(nums, n, i)
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
    if dist > MAX_EXTRAPOLATION_M:
        return None
    # Walk along the street line (it may curve) from the last known number onwards.
    found = common_part(street.geom, xy[end], xy[other], max_offset=_MAX_OFFSET_M)
    if found is None:
        return None
    part, s_end, s_other = found
    if s_end == s_other:
        return None
    forward = (n - n_end) * (n_end - int(nums[other])) > 0
    step = 1.0 if (s_end > s_other) == forward else -1.0
    target = s_end + step * dist
    if not -20.0 <= target <= part.length + 20.0:
        return None  # the street does not go on that far inside the extract
    p = part.interpolate(min(max(target, 0.0), part.length))
    return float(p.x), float(p.y), max(0.5, 0.9 - dist / 1000.0)


def common_part(
    geom: Any, a: np.ndarray, b: np.ndarray, *, max_offset: float
) -> tuple[Any, float, float] | None:
    """Return the longest part of a (multi)line that passes near both points, and where.

    A street mapped as two carriageways, or in pieces, is a MultiLineString; the walk along
    it from one known number past another needs one part that runs past both.

    Parameters
    ----------
    geom
        A LineString or MultiLineString.
    a, b
        The two points (x, y), same CRS.
    max_offset
        How far from the part both points may lie.

    Returns
    -------
    tuple or None
        The part and the positions along it of the two points' projections; ``None`` when
        no part passes within ``max_offset`` of both.
    """
    import shapely

    pa, pb = shapely.Point(float(a[0]), float(a[1])), shapely.Point(float(b[0]), float(b[1]))
    parts = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    near = [g for g in parts if g.distance(pa) <= max_offset and g.distance(pb) <= max_offset]
    if not near:
        return None
    best = max(near, key=lambda g: g.length)
    return best, float(best.project(pa)), float(best.project(pb))
