"""Read a drivable street graph from an OSM extract with pyosmium (``.osm.pbf`` and friends).

pyosmium filters the extract to the ways that pass osmnx's ``drive`` network filter and the
nodes they use, writes that small OSM XML file, and osmnx builds the graph from it (the same
one-way handling and topology simplification as every other source).
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import networkx as nx
import osmium
import osmnx as ox

from geo311.errors import InputError

# osmnx's "drive" network filter (osmnx._overpass._get_network_filter("drive")), applied with
# Overpass semantics: a tag that is present must not *contain* a match of the expression.
_DRIVE_EXCLUDE: dict[str, re.Pattern[str]] = {
    "area": re.compile("yes"),
    "access": re.compile("private"),
    "highway": re.compile(
        "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
        "footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|service|"
        "services|steps|track"
    ),
    "motor_vehicle": re.compile("no"),
    "motorcar": re.compile("no"),
    "service": re.compile("alley|driveway|emergency_access|parking|parking_aisle|private"),
}


def is_drivable(tags: dict[str, str]) -> bool:
    """Return whether a way's tags pass osmnx's ``drive`` filter."""
    if "highway" not in tags:
        return False
    return not any(
        key in tags and pattern.search(tags[key]) for key, pattern in _DRIVE_EXCLUDE.items()
    )


def graph_from_osmium(path: Path) -> nx.MultiDiGraph:
    """Build the (unsimplified-then-simplified, all components) drive graph of an OSM extract."""
    if not path.exists():
        raise InputError(
            f"OSM extract {path} does not exist; pass an existing .osm.pbf", field="pbf"
        )
    way_ids: set[int] = set()
    node_ids: set[int] = set()
    try:
        for way in osmium.FileProcessor(str(path), osmium.osm.WAY):
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = {t.k: t.v for t in way.tags}
            if len(way.nodes) >= 2 and is_drivable(tags):
                way_ids.add(way.id)
                node_ids.update(n.ref for n in way.nodes)
    except RuntimeError as exc:
        raise InputError(f"cannot read OSM extract {path}: {exc}", field="pbf") from exc
    if not way_ids:
        raise InputError(
            f"OSM extract {path} has no drivable ways (highway=* passing the drive filter); "
            "check that it covers streets",
            field="pbf",
        )
    with tempfile.TemporaryDirectory(prefix="geo311-pbf-") as tmp:
        xml = Path(tmp) / "drive.osm"
        writer = osmium.SimpleWriter(str(xml))
        present: set[int] = set()
        try:
            for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
                if isinstance(obj, osmium.osm.Node) and obj.id in node_ids:
                    writer.add_node(obj)
                    present.add(obj.id)
                elif isinstance(obj, osmium.osm.Way) and obj.id in way_ids:
                    # A clipped extract's ways name nodes outside it: keep the ones inside.
                    refs = [n.ref for n in obj.nodes if n.ref in present]
                    if len(refs) >= 2:
                        writer.add_way(obj.replace(nodes=refs))
        finally:
            writer.close()
        return ox.graph_from_xml(xml, simplify=True, retain_all=True)
