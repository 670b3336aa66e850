"""Read the named ways of an OSM extract for the geocoder (pyosmium; no routing graph).

Every ``highway`` way is read, drivable or not (service roads, alleys, footways ...): the
geocoder keeps a names-only index of all of them even when the routing graph is drive-only.
Besides ``name`` the ways' other names count too (``alt_name``, ``official_name``,
``bridge:name`` ..., and a bridge's Wikipedia title such as ``en:Harvard Bridge``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    """

    name: str
    names: tuple[str, ...]
    highway: str
    refs: tuple[int, ...]
    lonlat: np.ndarray


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
                )
            )
    except RuntimeError as exc:
        raise InputError(
            f"drive_osm {str(path)!r} is not a readable OSM extract ({exc}); pass OSM XML or PBF",
            field="drive_osm",
        ) from None
    return ways
