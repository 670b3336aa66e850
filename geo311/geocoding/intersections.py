"""Intersections: where two named streets meet (or cross, or nearly touch) in the extract."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geo311.geocoding.address import ParsedAddress
from geo311.geocoding.index import (
    GeocoderIndex,
    Street,
)
from geo311.geocoding.results import (
    SCORES,
    GeocodeResult,
    NoMatch,
    none_result,
)

if TYPE_CHECKING:
    pass

from geo311.geocoding.results import CORNER_ERROR_M
from geo311.geocoding.streets import INTERSECTION_CLUSTER_M, NEAR_MISS_M, cluster

__all__ = ["IntersectionRules"]


class IntersectionRules:
    """The geocoder's intersection answers (a part of :class:`~geo311.geocoding.geocoder.Geocoder`)."""

    index: GeocoderIndex

    def _street(self, name: str) -> tuple[Street, float] | None:
        raise NotImplementedError

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
        raise NotImplementedError

    def _intersection(self, query: str, parsed: ParsedAddress) -> GeocodeResult:
        first = self._street(parsed.street)
        second = self._street(parsed.street2)
        missing = [s for s, f in ((parsed.street, first), (parsed.street2, second)) if f is None]
        if missing:
            names = " and ".join(repr(m) for m in missing)
            verb = "is" if len(missing) == 1 else "are"
            return none_result(
                query,
                NoMatch.STREET_UNKNOWN,
                f"street {names} {verb} not in the embedded OSM extract",
            )
        assert first is not None and second is not None
        (a, sa), (b, sb) = first, second
        label = f"{a.name} & {b.name}"
        if a.key == b.key:
            return none_result(
                query, NoMatch.SAME_STREET, f"both streets of the intersection are {a.name}"
            )
        name_score = min(sa, sb)
        pair = (a.key, b.key) if a.key < b.key else (b.key, a.key)
        pts = self.index.intersections.get(pair)
        if pts is not None and len(pts):
            clusters = cluster(pts, INTERSECTION_CLUSTER_M)
            best = max(clusters, key=len)
            x, y = pts[best].mean(axis=0)
            score = SCORES["intersection"] * (1.0 if len(clusters) == 1 else 0.7) * name_score
            note = "" if len(clusters) == 1 else f"the streets meet at {len(clusters)} places"
            far = float(np.hypot(pts[:, 0] - x, pts[:, 1] - y).max())
            return self._answer(
                query,
                (float(x), float(y)),
                "intersection",
                score,
                matched_address=label,
                reason=note,
                error_m=CORNER_ERROR_M + far,
            )
        return self._crossing(query, a, b, name_score, label)

    def _crossing(
        self, query: str, a: Street, b: Street, name_score: float, label: str
    ) -> GeocodeResult:
        """Streets that share no node: where their lines cross, or nearly touch."""
        if a.geom is None or b.geom is None:
            return none_result(
                query,
                NoMatch.NO_GEOMETRY,
                f"{label}: one of the streets has no geometry in the extract",
            )
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
                error_m=CORNER_ERROR_M + far,
            )
        from shapely.ops import nearest_points

        pa, pb = nearest_points(a.geom, b.geom)
        gap = float(pa.distance(pb))
        if gap <= NEAR_MISS_M:
            note = f"the streets come within {gap:.0f} m but share no node"
            xy = ((pa.x + pb.x) / 2, (pa.y + pb.y) / 2)
            return self._answer(
                query,
                xy,
                "intersection",
                0.7 * name_score,
                matched_address=label,
                reason=note,
                error_m=CORNER_ERROR_M + gap,
            )
        return none_result(
            query,
            NoMatch.STREETS_APART,
            f"{label} do not meet in the embedded OSM extract ({gap:.0f} m apart)",
        )
