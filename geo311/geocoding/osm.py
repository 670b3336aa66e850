"""Read the named ways and the address points of an OSM extract (pyosmium; no routing graph).

Every ``highway`` way is read, drivable or not (service roads, alleys, footways ...): the
geocoder keeps a names-only index of all of them even when the routing graph is drive-only.
Besides ``name`` the ways' other names count too (``alt_name``, ``official_name``,
``bridge:name`` ..., and a bridge's Wikipedia title such as ``en:Harvard Bridge``); a name in
another language (``name:sv``, Helsinki's Swedish names) is an alias of the same street.

Address points (:func:`read_address_points`) are the nodes, ways and multipolygon relations
tagged ``addr:housenumber`` and ``addr:street`` (a building's point is its centroid), read
from XML or PBF alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from geo311.errors import InputError

# Tags whose values name a way, besides ``name`` (a ";" separates several names).
NAME_TAGS = (
    "name",
    "alt_name",
    "official_name",
    "loc_name",
    "short_name",
    "name_1",
    "bridge:name",
    "tunnel:name",
)


# ``name:sv``, ``name:fi``, ``name:de-CH``: the way's name in one language (an alias).
_LANGUAGE_NAME = re.compile(r"^name:[a-z]{2,3}(?:[-_][A-Za-z]{2,4})?$")

# ``highway`` values of ways that are not (or no longer) on the ground.
NOT_BUILT = frozenset({"proposed", "planned", "abandoned", "razed", "disused", "no"})
_SKIP = NOT_BUILT | {None}


@dataclass(frozen=True, slots=True)
class OsmWay:
    """One ``highway`` way of an extract.

    Attributes
    ----------
    name
        Its ``name`` tag (``""`` when unnamed).
    names
        Every name it goes by (``name`` first), without duplicates.
    highway
        The ``highway`` tag (``residential``, ``service``, ``footway`` ...).
    refs
        OSM node ids, in order.
    lonlat
        ``(n, 2)`` array of the nodes' longitude, latitude (EPSG:4326).
    languages
        Its names in other languages (``name:sv`` ...): aliases of the street its ``name``
        names (the same street, the same house numbers).
    """

    name: str
    names: tuple[str, ...]
    highway: str
    refs: tuple[int, ...]
    lonlat: np.ndarray
    languages: tuple[str, ...] = ()


def way_names(tags: dict[str, str]) -> tuple[str, ...]:
    """Return every name a way goes by (``name`` first), from its tags.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    tuple of str
        The names, without duplicates; empty for an unnamed way.
    """
    names: list[str] = []
    for key in NAME_TAGS:
        names.extend(v.strip() for v in tags.get(key, "").split(";") if v.strip())
    wiki = tags.get("wikipedia", "")
    if tags.get("bridge", "no") != "no" and ":" in wiki:
        title = wiki.split(":", 1)[1].strip()
        if title.lower().endswith("bridge"):
            names.append(title)
    return tuple(dict.fromkeys(names))


def language_names(tags: dict[str, str]) -> tuple[str, ...]:
    """Return a way's names in other languages (``name:sv``, ``name:de-CH`` ...).

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    tuple of str
        The names (sorted by tag), without duplicates and without the way's own ``name``.
    """
    own = set(way_names(tags))
    names: list[str] = []
    for key in sorted(k for k in tags if _LANGUAGE_NAME.match(k)):
        names.extend(v.strip() for v in tags[key].split(";") if v.strip() and v.strip() not in own)
    return tuple(dict.fromkeys(names))


def read_ways(path: Path) -> list[OsmWay]:
    """Read every ``highway`` way (built: not ``proposed`` ...) with two located nodes or more.

    Parameters
    ----------
    path
        OSM extract (``.osm``, ``.osm.bz2``, ``.osm.pbf`` ...).

    Returns
    -------
    list of OsmWay
        The ways, in file order.

    Raises
    ------
    InputError
        If the file does not exist or cannot be read as OSM data.
    """
    import osmium

    if not Path(path).is_file():
        raise InputError(
            f"drive_osm {str(path)!r} does not exist; pass an OSM extract of the city's "
            "streets (.osm, .osm.bz2 or .osm.pbf)",
            field="drive_osm",
        )
    ways: list[OsmWay] = []
    try:
        processor = osmium.FileProcessor(
            str(path), osmium.osm.NODE | osmium.osm.WAY
        ).with_locations()
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way) or obj.tags.get("highway") in _SKIP:
                continue
            nodes = [n for n in obj.nodes if n.location.valid()]
            if len(nodes) < 2:
                continue
            tags = {t.k: t.v for t in obj.tags}
            ways.append(
                OsmWay(
                    name=tags.get("name", "").strip(),
                    names=way_names(tags),
                    highway=tags["highway"],
                    refs=tuple(int(n.ref) for n in nodes),
                    lonlat=np.array([(n.lon, n.lat) for n in nodes], dtype=float),
                    languages=language_names(tags),
                )
            )
    except RuntimeError as exc:
        raise InputError(
            f"drive_osm {str(path)!r} is not a readable OSM extract ({exc}); pass OSM XML or PBF",
            field="drive_osm",
        ) from None
    return ways


@dataclass(frozen=True, slots=True)
class OsmAddress:
    """One OSM feature with a house number and a street.

    Attributes
    ----------
    number
        ``addr:housenumber`` as tagged (``12``, ``12a``, ``3-5``).
    street
        ``addr:street``.
    postcode
        ``addr:postcode`` (``""`` when untagged).
    lon, lat
        The node, or the centroid of the building (way or multipolygon), EPSG:4326.
    """

    number: str
    street: str
    postcode: str
    lon: float
    lat: float


def _centroid(lonlat: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Return the centroid of a closed ring (a building), else of the line's points."""
    from shapely.geometry import LineString, Polygon

    if len(lonlat) >= 4 and lonlat[0] == lonlat[-1]:
        c = Polygon(lonlat).centroid
    elif len(lonlat) >= 2:
        c = LineString(lonlat).centroid
    elif lonlat:
        return lonlat[0]
    else:
        return None
    return (float(c.x), float(c.y)) if not c.is_empty else None


def _area_centroid(area: Any) -> tuple[float, float] | None:
    """Return the centroid of a multipolygon relation's area (``None`` if it is broken)."""
    import osmium
    import shapely

    try:
        geom = shapely.from_wkb(osmium.geom.WKBFactory().create_multipolygon(area))
    except (RuntimeError, shapely.errors.GEOSException):
        return None
    c = geom.centroid
    return (float(c.x), float(c.y)) if not c.is_empty else None


def read_address_points(path: Path) -> list[OsmAddress]:
    """Read the features tagged ``addr:housenumber`` and ``addr:street`` (XML or PBF).

    Nodes give their own point; building ways their centroid; multipolygon relations the
    centroid of their area (osmium assembles it). Features without ``addr:street`` (an
    ``addr:place`` only) are left out: the geocoder finds houses by street.

    Parameters
    ----------
    path
        OSM extract (``.osm``, ``.osm.bz2``, ``.osm.pbf`` ...).

    Returns
    -------
    list of OsmAddress
        The address points, in file order (relations last).

    Raises
    ------
    InputError
        If the file cannot be read as OSM data.
    """
    import osmium

    out: list[OsmAddress] = []
    try:
        processor = (
            osmium.FileProcessor(str(path))
            .with_locations()
            .with_areas(osmium.filter.KeyFilter("addr:housenumber"))
        )
        for obj in processor:
            tags = obj.tags
            if "addr:housenumber" not in tags or "addr:street" not in tags:
                continue
            point = _feature_point(obj)
            if point is None:
                continue
            out.append(
                OsmAddress(
                    number=tags["addr:housenumber"].strip(),
                    street=tags["addr:street"].strip(),
                    postcode=(tags.get("addr:postcode") or "").strip(),
                    lon=point[0],
                    lat=point[1],
                )
            )
    except RuntimeError as exc:
        raise InputError(
            f"addresses {str(path)!r} is not a readable OSM extract ({exc}); pass OSM XML or PBF",
            field="addresses_osm",
        ) from None
    return out


def _feature_point(obj: Any) -> tuple[float, float] | None:
    """Return a node's point, a way's centroid, or a relation's area centroid (or None)."""
    import osmium

    if isinstance(obj, osmium.osm.Node):
        loc = obj.location
        return (float(loc.lon), float(loc.lat)) if loc.valid() else None
    if isinstance(obj, osmium.osm.Way):
        pts = [(float(n.lon), float(n.lat)) for n in obj.nodes if n.location.valid()]
        return _centroid(pts)
    if isinstance(obj, osmium.osm.Area) and not obj.from_way():
        return _area_centroid(obj)
    return None
