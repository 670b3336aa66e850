"""A city's block-number grid, learned from its known house numbers.

US cities number by blocks: along streets that run the same way, numbers grow the same way
at about the same rate, and the same hundred-block lines up across parallel streets (1800 E
Lombard St and 1800 Fleet St sit at about the same longitude). A handful of known points
(OSM address points on any street, the city's located reports) is enough to learn it:

1. Each street with known numbers at least ``MIN_SPAN_M`` apart gives a growth direction
   (a unit vector in the plane) and a rate (numbers per metre along it): a least-squares fit
   of its numbers against their position along the street's main direction.
2. Streets whose growth directions lie within ``AXIS_TOLERANCE_DEG`` of each other form an
   *axis* (a grid has two or four; an old city many, each with few streets). Its direction
   is their weighted mean and its rate their weighted median; an axis whose streets' rates
   disagree (relative spread over ``MAX_RATE_SPREAD``) is dropped: the grid does not fit.
3. On an axis, ``number = offset + rate * (u . p)`` for a point ``p``: each street with a
   known number has its own offset (the median over its points).

A number on a street is placed where the street's line crosses ``u . p = (n - offset) /
rate``. The offset is the street's own when it has a known number (a street with one known
number gets the direction and rate it lacks), else the median of the nearest parallel
streets' offsets (the hundred-block lining up); the spread of those offsets, in metres, is
the answer's stated uncertainty, together with the street's own residuals and the rate's
spread times the distance from the nearest known number. A street whose direction matches
no axis, or matches two opposite axes of similar support, or whose expected error exceeds
``MAX_ERROR_M``, gets no grid answer (the geocoder's other rules apply). All coordinates are the index's metric CRS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# A street's numbers must span this far to give a direction and a rate.
MIN_SPAN_M = 40.0
# Growth directions within this angle belong to one axis.
AXIS_TOLERANCE_DEG = 25.0
# Street rates of an axis whose relative spread (MAD / median) exceeds this: no grid.
MAX_RATE_SPREAD = 0.5
# Plausible rates, numbers per metre (a European centre ~0.1, an old US city ~0.5, a grid ~1).
_RATE_RANGE = (0.01, 4.0)
# An axis needs this many streets (with a direction) before it is used for other streets.
MIN_AXIS_STREETS = 2
# A direction opposite to the chosen one with at least this share of its support: ambiguous.
_AMBIGUOUS_SHARE = 0.34
# Parallel streets whose offsets place a street without known numbers: at most this many,
# within this distance.
_NEIGHBOURS = 4
_NEIGHBOUR_RADIUS_M = 800.0
# How far past the end of a street's line a grid number may be put (clamped to the end).
_PAST_END_M = 40.0
# A grid answer whose expected error is larger than this is not given (the grid does not
# fit there: an old city's parallel streets are often numbered from different baselines).
MAX_ERROR_M = 150.0
# The least error claimed for a grid answer (building set back, side of the street).
_BASE_ERROR_M = 25.0


@dataclass
class Axis:
    """One direction of the grid: numbers grow along ``u`` at ``rate`` per metre."""

    u: np.ndarray
    rate: float
    spread: float
    support: float
    # Street key -> (offset, residual in metres, known points as (n, x, y) rows).
    streets: dict[str, tuple[float, float, np.ndarray]] = field(default_factory=dict)
    # Every known point of those streets (x, y), its street's key, and an STRtree of them.
    xy: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))
    keys: list[str] = field(default_factory=list)
    tree: Any = None

    def offset_spread_m(self) -> float:
        """Return how far the axis's streets' offsets disagree, in metres (1.5 MAD)."""
        offsets = np.array([o for o, _, _ in self.streets.values()], dtype=float)
        if len(offsets) < 2:
            return math.inf
        return float(np.median(np.abs(offsets - np.median(offsets)))) * 1.5 / self.rate

    def index_points(self) -> None:
        """Build the spatial index of the axis's known points (after its streets are set)."""
        import shapely

        rows = [(k, p) for k, (_, _, pts) in self.streets.items() for p in pts[:, 1:]]
        self.keys = [k for k, _ in rows]
        self.xy = np.array([p for _, p in rows], dtype=float).reshape(-1, 2)
        points = np.asarray(shapely.points(self.xy), dtype=object)
        self.tree = shapely.STRtree(points) if len(self.xy) else None

    def beside(self, street: Any) -> dict[str, float]:
        """Return, per street of the axis with known points beside ``street``, the gap (m).

        A point is beside the street when its position along the street's main direction
        is within the street's own extent (50 m margin) and it is at most
        ``_NEIGHBOUR_RADIUS_M`` from the street's line.
        """
        import shapely

        d = _direction(street.geom)
        if d is None or self.tree is None:
            return {}
        idx = np.asarray(
            self.tree.query(street.geom, predicate="dwithin", distance=_NEIGHBOUR_RADIUS_M),
            dtype=int,
        )
        if not len(idx):
            return {}
        line_s = shapely.get_coordinates(street.geom) @ d
        s = self.xy[idx] @ d
        idx = idx[(s >= line_s.min() - 50.0) & (s <= line_s.max() + 50.0)]
        gaps = shapely.distance(street.geom, shapely.points(self.xy[idx]))
        out: dict[str, float] = {}
        for i, gap in zip(idx, gaps, strict=True):
            key = self.keys[int(i)]
            if gap <= _NEIGHBOUR_RADIUS_M and key != street.key:
                out[key] = min(out.get(key, math.inf), float(gap))
        return out


@dataclass(frozen=True, slots=True)
class GridPoint:
    """A number placed on the grid: the point, the expected error and how it was placed."""

    x: float
    y: float
    error_m: float
    how: str


def _direction(geom: Any) -> np.ndarray | None:
    """Return a street line's main direction (unit vector, first principal axis of its vertices)."""
    import shapely

    xy = shapely.get_coordinates(geom)
    if len(xy) < 2:
        return None
    centred = xy - xy.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    d: np.ndarray = vt[0] / float(np.hypot(*vt[0]))
    return d


def _points(street: Any) -> np.ndarray:
    """Return the street's known numbers as ``(n, x, y)`` rows (both sides)."""
    rows = [
        np.column_stack([street.numbers.nums[p], street.numbers.xy[p]])
        for p in (0, 1)
        if p in street.numbers.nums and len(street.numbers.nums[p])
    ]
    return np.vstack(rows).astype(float) if rows else np.empty((0, 3))


def _street_growth(street: Any) -> tuple[np.ndarray, float, float] | None:
    """(growth unit vector, rate in numbers per metre, weight) of a street, or ``None``."""
    pts = _points(street)
    if len(pts) < 2 or street.geom is None:
        return None
    d = _direction(street.geom)
    if d is None:
        return None
    s = pts[:, 1:] @ d
    if float(s.max() - s.min()) < MIN_SPAN_M or float(np.ptp(pts[:, 0])) <= 0:
        return None
    slope = float(np.polyfit(s, pts[:, 0], 1)[0])
    if not _RATE_RANGE[0] <= abs(slope) <= _RATE_RANGE[1]:
        return None
    weight = math.sqrt(len(pts)) * min(float(s.max() - s.min()), 500.0) / 100.0
    return d * math.copysign(1.0, slope), abs(slope), weight


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    """Return the angle between two unit vectors, degrees (0..180)."""
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b)))))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][int(np.searchsorted(cum, cum[-1] / 2.0))])


class AddressGrid:
    """The block-number grid of a city's index (see the module docstring).

    Parameters
    ----------
    streets
        The index's streets by key (their known numbers and lines).
    """

    def __init__(self, streets: dict[str, Any]) -> None:
        # One entry per street (a name in another language is the same street).
        self.streets = {k: s for k, s in streets.items() if s.key == k}
        streets = self.streets
        self.axes = _learn_axes(streets)
        self._plans: dict[str, tuple[Axis, float, float, str] | None] = {}

    def describe(self) -> str:
        """One line per axis: direction, metres per number, spread, streets."""
        if not self.axes:
            return "no block-number grid (too few streets with known numbers agree)"
        parts = []
        for ax in self.axes:
            bearing = math.degrees(math.atan2(float(ax.u[0]), float(ax.u[1]))) % 360
            parts.append(
                f"numbers grow toward {bearing:.0f} deg at {1 / ax.rate:.1f} m per number "
                f"(spread {ax.spread:.0%}, {len(ax.streets)} streets)"
            )
        return "; ".join(parts)

    def place(self, street: Any, n: int) -> GridPoint | None:
        """Place house number ``n`` on ``street`` by the grid, or ``None`` where it does not fit.

        Parameters
        ----------
        street
            The street (its line and known numbers).
        n
            The house number.

        Returns
        -------
        GridPoint or None
            The point, its expected error (metres) and a note on how it was placed.
        """
        if street.geom is None or not self.axes:
            return None
        if street.key not in self._plans:
            self._plans[street.key] = self._plan(street)
        plan = self._plans[street.key]
        if plan is None:
            return None
        axis, offset, error, how = plan
        own = axis.streets.get(street.key)
        if own is not None:
            nearest = float(np.abs(own[2][:, 0] - n).min()) / axis.rate
            error += axis.spread * nearest
        if error > MAX_ERROR_M:
            return None  # the grid does not fit here well enough: the other rules apply
        point = _on_line(street.geom, axis.u, (n - offset) / axis.rate)
        if point is None:
            return None
        return GridPoint(point[0], point[1], round(error, 1), how)

    def _plan(self, street: Any) -> tuple[Axis, float, float, str] | None:
        """Return (axis, offset, base error in metres, note) of a street, or ``None``."""
        axis = self._axis_of(street)
        if axis is None:
            return None
        own = axis.streets.get(street.key)
        if own is not None:
            offset, resid_m, _ = own
            how = f"the street's own known numbers and the grid's rate ({1 / axis.rate:.1f} m)"
            return axis, offset, _BASE_ERROR_M + 2.0 * resid_m, how
        found = self._neighbour_offset(axis, street)
        if found is None:
            return None
        offset, offset_spread_m, names = found
        how = f"the hundred-blocks of the parallel streets {names}"
        return axis, offset, _BASE_ERROR_M + 2.0 * offset_spread_m, how

    def _axis_of(self, street: Any) -> Axis | None:
        """Return the axis the street runs along, or ``None`` when that is not clear.

        A street with its own growth direction takes the axis of that direction. Else the
        axes along its line (either way) are weighed by the streets of each near this one
        (numbers grow east on one side of a city's baseline and west on the other: the
        near streets decide); a rival with a third of the weight or more is ambiguous.
        """
        growth = _street_growth(street)
        if growth is not None:
            near = [a for a in self.axes if _angle(a.u, growth[0]) <= AXIS_TOLERANCE_DEG]
            return max(near, key=lambda a: a.support) if near else None
        d = _direction(street.geom)
        if d is None:
            return None
        along = [a for a in self.axes if min(_angle(a.u, d), _angle(a.u, -d)) <= AXIS_TOLERANCE_DEG]
        weights = [self._local_weight(a, street) for a in along]
        if not along or max(weights) <= 0:
            return None
        best = int(np.argmax(weights))
        for i, a in enumerate(along):
            opposite = _angle(a.u, along[best].u) > 90.0
            if i != best and opposite and weights[i] >= _AMBIGUOUS_SHARE * weights[best]:
                return None
        return along[best]

    def _local_weight(self, axis: Axis, street: Any) -> float:
        """Return how much the axis's streets beside ``street`` weigh (closer weighs more)."""
        return sum(1.0 / (1.0 + gap / 100.0) for gap in axis.beside(street).values())

    def _neighbour_offset(self, axis: Axis, street: Any) -> tuple[float, float, str] | None:
        """Return the median offset of the nearest parallel streets and its spread in metres.

        Only streets with known numbers beside this one (within its extent along its
        direction) count: the hundred-blocks line up across the street, not beyond its end.
        """
        cands = [
            (gap, axis.streets[key][0], self.streets[key].name)
            for key, gap in axis.beside(street).items()
            if key in self.streets
        ]
        if not cands:
            return None
        cands.sort()
        near = cands[:_NEIGHBOURS]
        offsets = np.array([c[1] for c in near])
        middle = float(np.median(offsets))
        spread_m = float(np.median(np.abs(offsets - middle))) * 1.5 / axis.rate
        if len(near) < 3:
            # Few streets beside it: how well the whole axis's hundred-blocks line up.
            spread_m = max(spread_m, axis.offset_spread_m())
        names = ", ".join(c[2] for c in near)
        return middle, spread_m, names


def _learn_axes(streets: dict[str, Any]) -> list[Axis]:
    """Group the streets' growth directions into axes; keep those whose rates agree."""
    growths = {k: g for k, s in streets.items() if (g := _street_growth(s)) is not None}
    groups: list[list[str]] = []
    for key in sorted(growths, key=lambda k: -growths[k][2]):
        u = growths[key][0]
        for group in groups:
            if _angle(growths[group[0]][0], u) <= AXIS_TOLERANCE_DEG:
                group.append(key)
                break
        else:
            groups.append([key])
    axes = []
    for group in groups:
        if len(group) < MIN_AXIS_STREETS:
            continue
        vecs = np.array([growths[k][0] * growths[k][2] for k in group]).sum(axis=0)
        u = vecs / float(np.hypot(*vecs))
        rates = np.array([growths[k][1] * abs(float(growths[k][0] @ u)) for k in group])
        weights = np.array([growths[k][2] for k in group])
        rate = _weighted_median(rates, weights)
        spread = float(np.median(np.abs(rates - rate))) / rate
        if spread > MAX_RATE_SPREAD:
            continue
        axes.append(Axis(u, rate, spread, float(weights.sum())))
    _assign_streets(streets, axes, growths)
    for axis in axes:
        axis.index_points()
    return axes


def _assign_streets(
    streets: dict[str, Any],
    axes: list[Axis],
    growths: dict[str, tuple[np.ndarray, float, float]],
) -> None:
    """Give each axis the offsets of its streets (those with a known number along it)."""
    for key, street in streets.items():
        pts = _points(street)
        if not len(pts) or street.geom is None:
            continue
        if key in growths:
            near = [a for a in axes if _angle(a.u, growths[key][0]) <= AXIS_TOLERANCE_DEG]
        else:
            d = _direction(street.geom)
            if d is None:
                continue
            near = [a for a in axes if min(_angle(a.u, d), _angle(a.u, -d)) <= AXIS_TOLERANCE_DEG]
        if not near:
            continue
        axis = max(near, key=lambda a: a.support)
        offsets = pts[:, 0] - axis.rate * (pts[:, 1:] @ axis.u)
        offset = float(np.median(offsets))
        resid_m = float(np.median(np.abs(offsets - offset))) / axis.rate
        axis.streets[key] = (offset, resid_m, pts)


def _on_line(geom: Any, u: np.ndarray, target: float) -> tuple[float, float] | None:
    """Where the line crosses ``u . p = target`` (the crossing nearest the line's middle)."""
    import shapely

    parts = list(getattr(geom, "geoms", [geom]))
    hits: list[tuple[float, float]] = []
    ends: list[tuple[float, tuple[float, float]]] = []
    for part in parts:
        xy = shapely.get_coordinates(part)
        if len(xy) < 2:
            continue
        s = xy @ u
        for i in range(len(xy) - 1):
            a, b = s[i], s[i + 1]
            if (a - target) * (b - target) <= 0 and a != b:
                t = (target - a) / (b - a)
                p = xy[i] + t * (xy[i + 1] - xy[i])
                hits.append((float(p[0]), float(p[1])))
        for j in (0, -1):
            ends.append((abs(float(s[j]) - target), (float(xy[j, 0]), float(xy[j, 1]))))
    if hits:
        mid = geom.interpolate(0.5, normalized=True)
        return min(hits, key=lambda p: math.hypot(p[0] - mid.x, p[1] - mid.y))
    gap, end = min(ends) if ends else (math.inf, (0.0, 0.0))
    return end if gap <= _PAST_END_M else None
