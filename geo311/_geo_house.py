"""Place a house number on a street from the street's known address points.

Between two known numbers of the same parity (odd and even numbers are on opposite sides) the
point is interpolated along the street's centreline (its OSM ways of that name, merged in
order): both known points are projected onto the one part of the line that runs past them,
the number's position along the line is interpolated between theirs, and the known points'
offset from the line (the side of the street the buildings are on) is interpolated too. On a
straight street this is the straight line between the two points; on a curved one it follows
the curve. Where no part of the line runs past both points, the straight line is used. Beyond
the known numbers (or across a gap too wide to trust) the number is extrapolated along the
line (in short steps snapped back to it, so it follows curves and crosses from one mapped
piece of the street to the next) at the street's own metres-per-number rate, at most
``MAX_EXTRAPOLATION_M`` and ``MAX_EXTRAPOLATION_NUMBERS``, past the end of the line only where
the extract clips the street; the farther, the lower the quality. Odd and even numbers are
placed from their own side first, from the other side (lower quality) when their side has
no known number near. All coordinates are the index's metric CRS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo311._geocode_index import Street

# Straight-line interpolation between known numbers farther apart than this is refused.
MAX_NUMBER_GAP = 120
# Extrapolation past the last known number (or into a too-wide gap) goes at most this far, in
# metres and in house numbers (about a long block); its quality falls with the distance.
MAX_EXTRAPOLATION_M = 400.0
MAX_EXTRAPOLATION_NUMBERS = 80
# How far past the end of a street's line (where the extract clips it) a number may be put.
MAX_PAST_LINE_END_M = 100.0
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
                x, y = between(street, xy[i - 1], xy[i], t)
                return x, y, quality
        # Beyond the known numbers (or a too-wide gap): extrapolate from the nearest end.
        result = _extrapolate(street, nums, xy, n, i)
        if result is not None:
            return result[0], result[1], quality * result[2]
    return None


def between(street: Street, a: np.ndarray, b: np.ndarray, t: float) -> tuple[float, float]:
    """Return the point a fraction ``t`` of the way from ``a`` to ``b`` along the street.

    Parameters
    ----------
    street
        The street whose centreline is followed.
    a, b
        Two known address points (x, y) of the same side.
    t
        The fraction, 0 at ``a`` and 1 at ``b``.

    Returns
    -------
    (float, float)
        The point: along the centreline part that runs past both (plus the interpolated
        offset of the two points from it), else on the straight line between them.
    """
    found = (
        common_part(street.geom, a, b, max_offset=_MAX_OFFSET_M)
        if street.geom is not None
        else None
    )
    if found is None or found[1] == found[2]:
        p = a + t * (b - a)
        return float(p[0]), float(p[1])
    part, s_a, s_b = found
    on_a, on_b = part.interpolate(s_a), part.interpolate(s_b)
    offset = (1.0 - t) * (a - (on_a.x, on_a.y)) + t * (b - (on_b.x, on_b.y))
    on = part.interpolate(s_a + t * (s_b - s_a))
    return float(on.x + offset[0]), float(on.y + offset[1])


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
    if dist > MAX_EXTRAPOLATION_M or gap > MAX_EXTRAPOLATION_NUMBERS:
        return None
    # Walk along the street line (it may curve, or be mapped in pieces) away from the other
    # known number when n lies beyond the last one, towards it inside a too-wide gap.
    forward = (n - n_end) * (n_end - int(nums[other])) > 0
    heading = (xy[end] - xy[other]) if forward else (xy[other] - xy[end])
    beyond = MAX_PAST_LINE_END_M if street.leaves_extract else 20.0
    p = walk_along(street.geom, xy[end], heading, dist, beyond=beyond)
    if p is None:
        return None  # the street does not go on that far inside the extract
    return p[0], p[1], max(0.4, 0.9 - max(dist / 1000.0, gap / 100.0))


def walk_along(
    geom: Any,
    start: np.ndarray,
    heading: np.ndarray,
    dist: float,
    *,
    step: float = 20.0,
    beyond: float = 20.0,
) -> tuple[float, float] | None:
    """Return the point ``dist`` metres along a (multi)line from near ``start``, or ``None``.

    The walk goes in short steps, each snapped back to the nearest point of the line, so it
    follows a curved street and crosses from one piece of the street to the next (a street
    mapped as several ways that do not merge into one line, or as two carriageways).

    Parameters
    ----------
    geom
        The street's LineString or MultiLineString.
    start
        Where the walk starts (snapped to the line first).
    heading
        The direction of the walk at the start (any length).
    dist
        How far to walk.
    step
        The step length.
    beyond
        How far the walk may go on straight past the end of the line (a street clipped at
        the edge of the extract goes on outside it).

    Returns
    -------
    (float, float) or None
        The point; ``None`` when the line ends (inside the extract) before ``dist``.
    """
    import shapely

    norm = float(np.hypot(*heading))
    if norm == 0.0:
        return None
    direction = np.asarray(heading, float) / norm
    here = _snap(geom, np.asarray(start, float), shapely)
    walked = 0.0
    while walked < dist - 1e-6:
        length = min(step, dist - walked)
        guess = here + direction * length
        there = _snap(geom, guess, shapely)
        moved = float(np.hypot(*(there - here)))
        if float(np.hypot(*(there - guess))) > 0.7 * length or moved < 0.3 * length:
            if dist - walked > beyond:
                return None
            last = here + direction * (dist - walked)
            return float(last[0]), float(last[1])
        direction = (there - here) / moved
        here, walked = there, walked + moved
    return float(here[0]), float(here[1])


def _snap(geom: Any, xy: np.ndarray, shapely: Any) -> np.ndarray:
    point = shapely.Point(float(xy[0]), float(xy[1]))
    nearest = shapely.shortest_line(point, geom)
    x, y = shapely.get_coordinates(nearest)[-1]
    return np.array([x, y], dtype=float)


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
