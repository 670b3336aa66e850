"""A city's districts: named polygons, and which district each point of work belongs to.

A district is a GeoJSON polygon (or multipolygon) with a ``name`` property, in EPSG:4326
(``districts.geojson`` of the city profile). A point belongs to the district whose polygon
holds it, else to the nearest district within a margin (a report on the far kerb of a
boundary street), else to none: it is *outside the city's districts*.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike
from pyproj import CRS, Transformer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo311.city.crs import utm_crs
from geo311.errors import ConfigurationError, InputError

__all__ = ["DEFAULT_MARGIN_M", "OUTSIDE", "District", "Districts", "load_districts"]

DEFAULT_MARGIN_M = 50.0
"""How far outside every polygon a point may lie and still join the nearest district."""

OUTSIDE = ""
"""The district name of a point outside every district."""


@dataclass(frozen=True, slots=True)
class District:
    """One district: its name and outline (EPSG:4326)."""

    name: str
    geometry: BaseGeometry


class Districts(Sequence[District]):
    """The districts of a city, in file order, with point-in-district look-ups.

    Parameters
    ----------
    districts
        The districts (names unique, non-empty).
    source
        Where they were read from (for messages).
    """

    def __init__(self, districts: Sequence[District], *, source: str = "<districts>") -> None:
        names = [d.name for d in districts]
        if not districts:
            raise ConfigurationError(f"{source}: no districts; give at least one polygon")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes or not all(names):
            raise ConfigurationError(
                f"{source}: district names must be unique and non-empty (repeated: {dupes}); "
                "give every feature its own 'name' property",
                field="name",
            )
        self._items = tuple(districts)
        self.source = source
        centre = shapely.union_all([d.geometry for d in districts]).centroid
        self.crs = CRS.from_user_input(utm_crs(centre.x, centre.y))
        to_m = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        self._to_m = to_m
        self._metric = [
            shapely.transform(
                d.geometry, lambda xy: np.column_stack(to_m.transform(xy[:, 0], xy[:, 1]))
            )
            for d in districts
        ]

    def __getitem__(self, k: Any) -> Any:
        return self._items[k]

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[District]:
        return iter(self._items)

    @property
    def names(self) -> list[str]:
        """The district names, in file order."""
        return [d.name for d in self._items]

    def get(self, name: str) -> District:
        """Return the district called ``name``.

        Raises
        ------
        InputError
            Naming the known districts, when there is none of that name.
        """
        for d in self._items:
            if d.name == name:
                return d
        raise InputError(
            f"district {name!r} is not one of the city's districts {self.names}; "
            f"pick one of them (districts file {self.source})",
            field="district",
        )

    def assign(
        self, lat: ArrayLike, lon: ArrayLike, *, margin_m: float = DEFAULT_MARGIN_M
    ) -> np.ndarray:
        """Return, per point, the name of its district (``""`` outside every district).

        Parameters
        ----------
        lat, lon
            Points in degrees.
        margin_m
            A point outside every polygon joins the nearest one within this distance.

        Returns
        -------
        ndarray of str
            District names (:data:`OUTSIDE` for a point in none).
        """
        la = np.asarray(lat, dtype=np.float64).ravel()
        lo = np.asarray(lon, dtype=np.float64).ravel()
        out = np.full(la.shape, OUTSIDE, dtype=object)
        if not la.size:
            return out
        x, y = self._to_m.transform(lo, la)
        pts = shapely.points(x, y)
        best = np.full(la.shape, np.inf)
        for d, poly in zip(self._items, self._metric, strict=True):
            dist = shapely.distance(poly, pts)
            closer = (dist <= margin_m) & (dist < best)
            out[closer] = d.name
            best = np.where(closer, dist, best)
        return out


def _feature_name(feature: dict[str, Any], k: int) -> str:
    props = feature.get("properties") or {}
    return str(props.get("name") or f"district {k + 1}")


def load_districts(path: str | Path) -> Districts:
    """Read a city's districts from a GeoJSON file (EPSG:4326, a ``name`` per feature).

    Parameters
    ----------
    path
        A GeoJSON FeatureCollection of polygons / multipolygons.

    Returns
    -------
    Districts
        The districts (a feature without a name is called ``district <k>``).

    Raises
    ------
    ConfigurationError
        When the file is missing, not GeoJSON, in another CRS or holds no polygon; the
        message names the file and the fix.
    """
    where = Path(path)
    try:
        doc = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(
            f"districts file {where} does not exist; write GeoJSON polygons with a 'name'",
            field="districts",
        ) from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"districts file {where} is not JSON ({exc.msg}); give a GeoJSON FeatureCollection",
            field="districts",
        ) from None
    crs = str(((doc.get("crs") or {}).get("properties") or {}).get("name", "EPSG:4326"))
    if not crs.upper().endswith(("EPSG:4326", "CRS84")):
        raise ConfigurationError(
            f"districts file {where} is in {crs}; reproject it to EPSG:4326 (longitude, latitude)",
            field="districts",
        )
    features = doc.get("features") if isinstance(doc, dict) else None
    if not features:
        raise ConfigurationError(
            f"districts file {where} holds no features; give a FeatureCollection of polygons",
            field="districts",
        )
    out = []
    for k, f in enumerate(features):
        geom = shape(f.get("geometry") or {})
        if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
            raise ConfigurationError(
                f"districts file {where}: feature {k} ({_feature_name(f, k)}) is a "
                f"{geom.geom_type}; every district must be a Polygon or MultiPolygon",
                field="districts",
            )
        out.append(District(_feature_name(f, k), shapely.make_valid(geom)))
    return Districts(out, source=str(where))
