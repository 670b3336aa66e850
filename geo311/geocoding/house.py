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
piece of the street to the next) at the street's own metres-per-number rate (from a second
known number of the same side, else of the other side), at most ``MAX_EXTRAPOLATION_M`` and
``MAX_EXTRAPOLATION_NUMBERS``, past the end of the line only where the extract clips the
street; the farther, the lower the quality. Odd and even numbers are placed from their own
side first; between two known numbers of the other side (lower quality) rather than more
than a few numbers past their own side's last one. All coordinates are the index's metric
CRS.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo311.geocoding.index import Street

# Interpolation between known numbers farther apart than this is refused (the number is then
# extrapolated from the nearer one). Measured (bench/geocode_bench.py): gaps of a few
# hundred numbers along a mapped centreline place numbers as well as narrow ones do.
MAX_NUMBER_GAP = 400
# Extrapolation past the last known number (or into a too-wide gap) goes at most this far, in
# metres and in house numbers; its quality falls with the distance.
MAX_EXTRAPOLATION_M = 400.0
MAX_EXTRAPOLATION_NUMBERS = 250
# How far past the end of a street's line (where the extract clips it) a number may be put.
MAX_PAST_LINE_END_M = 100.0
# Address points farther than this from a street line are not used to walk along it.
_MAX_OFFSET_M = 60.0
# Past this side's last known number by at most this many numbers, the walk along this side
# is preferred to interpolating between the other side's numbers.
_OWN_SIDE_FIRST_GAP = 10
# The rate (metres per number) and direction of an extrapolation come from two known numbers
# at least this far apart.
_MIN_RATE_SPAN_M = 40.0


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
    parity = n % 2
    own = _interpolate(street, parity, n)
    if own is not None:
        return own[0], own[1], 1.0
    # Across the street, between two known numbers, before a long walk past this side's last
    # known number: both sides are numbered along the same line.
    near = _extrapolate(street, parity, n, max_gap=_OWN_SIDE_FIRST_GAP)
    if near is not None:
        return near
    other = _interpolate(street, 1 - parity, n)
    if other is not None:
        return other[0], other[1], 0.9
    for par, quality in ((parity, 1.0), (1 - parity, 0.9)):
        far = _extrapolate(street, par, n)
        if far is not None:
            return far[0], far[1], quality * far[2]
    return None


def _interpolate(street: Street, par: int, n: int) -> tuple[float, float] | None:
    """``n`` between the two known numbers of side ``par`` around it, or ``None``."""
    nums = street.numbers.nums.get(par)
    if nums is None or len(nums) == 0:
        return None
    i = int(np.searchsorted(nums, n))
    if not 0 < i < len(nums):
        return None
    n0, n1 = int(nums[i - 1]), int(nums[i])
    if n1 - n0 > MAX_NUMBER_GAP:
        return None
    t = (n - n0) / (n1 - n0) if n1 != n0 else 0.0
    xy = street.numbers.xy[par]
    return between(street, xy[i - 1], xy[i], t)


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
    """Return the indices of the known numbers from the one nearest ``n`` outwards (one direction)."""
    if i >= len(nums):
        return [len(nums) - 1 - k for k in range(len(nums))]
    if i == 0:
        return list(range(len(nums)))
    # Inside a too-wide gap: use the closer neighbour.
    if nums[i] - n < n - nums[i - 1]:
        return list(range(i, len(nums)))
    return list(range(i - 1, -1, -1))


def _extrapolate(
    street: Street, par: int, n: int, *, max_gap: int = MAX_EXTRAPOLATION_NUMBERS
) -> tuple[float, float, float] | None:
    """``n`` past the known numbers of side ``par`` (or inside a too-wide gap), or ``None``.

    At most ``max_gap`` numbers (never more than ``MAX_EXTRAPOLATION_NUMBERS``) and
    ``MAX_EXTRAPOLATION_M`` metres from the nearest known one.
    """
    nums = street.numbers.nums.get(par)
    if nums is None or len(nums) == 0:
        return None
    xy = street.numbers.xy[par]
    idx = _walk_order(nums, n, int(np.searchsorted(nums, n)))
    end = idx[0]
    n_end = int(nums[end])
    gap = abs(n - n_end)
    if gap > max_gap:
        return None
    if gap <= 4:
        return float(xy[end][0]), float(xy[end][1]), 0.9
    other = _second_point(street, par, idx)
    if other is None or street.geom is None:
        return None
    n_other, xy_other = other
    rate = float(np.hypot(*(xy[end] - xy_other))) / abs(n_end - n_other)
    dist = rate * gap
    if dist > MAX_EXTRAPOLATION_M:
        return None
    # Walk along the street line (it may curve, or be mapped in pieces) away from the other
    # known number when n lies beyond the last one, towards it inside a too-wide gap.
    forward = (n - n_end) * (n_end - n_other) > 0
    heading = (xy[end] - xy_other) if forward else (xy_other - xy[end])
    beyond = MAX_PAST_LINE_END_M if street.leaves_extract else 20.0
    p = walk_along(street.geom, xy[end], heading, dist, beyond=beyond)
    if p is None:
        return None  # the street does not go on that far inside the extract
    return p[0], p[1], max(0.4, 0.9 - max(dist / 1000.0, gap / 100.0))


def _second_point(street: Street, par: int, idx: list[int]) -> tuple[int, np.ndarray] | None:
    """Return a known number at least 40 m from the walk's start, for the rate and the direction.

    The same side's numbers first; when they all lie within 40 m (one building, or a single
    known number), the other side's numbers (house numbers grow the same way on both
    sides), then the numbers the city reported on the street's continuation outside the
    extract (``Street.beyond``).
    """
    nums, xy = street.numbers.nums[par], street.numbers.xy[par]
    end = idx[0]
    n_end = int(nums[end])
    for k in idx[1:]:
        if nums[k] != n_end and np.hypot(*(xy[k] - xy[end])) >= _MIN_RATE_SPAN_M:
            return int(nums[k]), xy[k]
    o_nums = street.numbers.nums.get(1 - par)
    if o_nums is not None and len(o_nums):
        found = _nearest_in_value(o_nums, street.numbers.xy[1 - par], n_end, xy[end])
        if found is not None:
            return found
    if len(street.beyond):
        return _nearest_in_value(
            street.beyond[:, 0].astype(np.int64), street.beyond[:, 1:3], n_end, xy[end]
        )
    return None


def _nearest_in_value(
    nums: np.ndarray, xy: np.ndarray, n_end: int, at: np.ndarray
) -> tuple[int, np.ndarray] | None:
    """Return the number nearest in value to ``n_end`` (the most local rate), 40 m or more away."""
    far = np.hypot(xy[:, 0] - at[0], xy[:, 1] - at[1]) >= _MIN_RATE_SPAN_M
    usable = np.flatnonzero(far & (np.abs(nums - n_end) >= 2))
    if len(usable) == 0:
        return None
    k = int(usable[np.argmin(np.abs(nums[usable] - n_end))])
    return int(nums[k]), xy[k]


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


def low_rate(index: Any, quantile: float, *, min_streets: int = 10) -> float | None:
    """Return a low metres-per-number rate of a city's streets, or ``None``.

    For each street side with known numbers at least 80 m apart, the rate is the straight
    distance between its lowest and highest known numbers over their difference (a lower
    bound on a curved street).

    Parameters
    ----------
    index
        The geocoder index (its streets' known numbers).
    quantile
        Which quantile of the streets' rates (0.1: nine in ten streets have more metres
        per number).
    min_streets
        Fewer street sides with a rate than this give ``None``.

    Returns
    -------
    float or None
        The rate in metres per number.
    """
    rates = []
    for street in index.streets.values():
        for par, nums in street.numbers.nums.items():
            xy = street.numbers.xy[par]
            if len(nums) < 2 or nums[-1] == nums[0]:
                continue
            span = float(np.hypot(*(xy[-1] - xy[0])))
            if span >= 80.0:
                rates.append(span / float(nums[-1] - nums[0]))
    if len(rates) < min_streets:
        return None
    return float(np.quantile(rates, quantile))
