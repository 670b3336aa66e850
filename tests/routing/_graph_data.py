"""A tiny hand-made street graph shared by the graph and matrix tests."""

from __future__ import annotations

import math

import networkx as nx

LAT0, LON0 = 42.35, -71.08
STEP = 0.001  # degrees of longitude, about 82 m here


def metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6_371_009.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def tiny_graph() -> nx.MultiDiGraph:
    """A square A-B-C-D plus a dead-end E that can leave but never be reached.

    A(1)=B(2) two-way "Alpha Street" 25 mph; B->C one-way "Beta Street" (no maxspeed,
    residential); C=D two-way "Gamma Street" 30 mph; D->A one-way "Delta Street" 20 mph;
    E->A one-way (E is outside the strongly connected part).
    """
    g = nx.MultiDiGraph(crs="epsg:4326")
    pos = {
        1: (LAT0, LON0),
        2: (LAT0, LON0 + STEP),
        3: (LAT0 + STEP, LON0 + STEP),
        4: (LAT0 + STEP, LON0),
        5: (LAT0 - STEP, LON0),
    }
    for n, (lat, lon) in pos.items():
        g.add_node(n, y=lat, x=lon)

    def add(u: int, v: int, name: str, oneway: bool, **tags: object) -> None:
        length = metres(*pos[u], *pos[v])
        g.add_edge(u, v, name=name, oneway=oneway, length=length, highway="residential", **tags)

    add(1, 2, "Alpha Street", False, maxspeed="25 mph")
    add(2, 1, "Alpha Street", False, maxspeed="25 mph")
    add(2, 3, "Beta Street", True)
    add(3, 4, "Gamma Street", False, maxspeed="30 mph")
    add(4, 3, "Gamma Street", False, maxspeed="30 mph")
    add(4, 1, "Delta Street", True, maxspeed="20 mph")
    add(5, 1, "Echo Street", True, maxspeed="25 mph")
    return g
