"""A small US grid city written by hand as OSM XML (tests of the block-number grid).

Streets run east-west every 100 m (``Lombard``, ``Pratt``, ``Fleet``, ``Aliceanna``) and
are cut at ``Charles Street`` (x = 0): east of it they are ``E Lombard St`` ..., numbered 100
per block growing eastward, west of it ``W ...`` growing westward (``Fleet Street`` runs on
the east side only, without a prefix). Cross streets run north-south every 100 m. House
number ``n`` on an east-side street sits at x = n metres east of Charles Street (the
hundred-block lines up across the parallel streets), west side likewise to the west; even
numbers on the south side, odd on the north side, 8 m off the centre line.
"""

from __future__ import annotations

import math
from pathlib import Path

LAT0, LON0 = 39.29, -76.61
_M_LAT = 111_320.0
_M_LON = 111_320.0 * math.cos(math.radians(LAT0))
BLOCKS = 12  # blocks each side of Charles Street
ROWS = {"Lombard": 0.0, "Pratt": -100.0, "Fleet": -200.0, "Aliceanna": -300.0}


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Metres east/north of the origin -> (lon, lat)."""
    return LON0 + x / _M_LON, LAT0 + y / _M_LAT


def street_name(row: str, east: bool) -> str:
    """The written name of a row's east or west half."""
    if row == "Fleet":
        return "Fleet Street"
    return f"{'East' if east else 'West'} {row} Street"


def house(row: str, n: int, *, east: bool = True) -> tuple[float, float]:
    """The true (x, y) in metres of house ``n`` on a row's east or west half."""
    x = float(n) if east else -float(n)
    y = ROWS[row] + (-8.0 if n % 2 == 0 else 8.0)
    return x, y


def write_city(path: Path, known: list[tuple[str, int, bool]]) -> Path:
    """Write the city's streets and the ``known`` (row, number, east) address nodes."""
    nodes: list[str] = []
    ways: list[str] = []
    nid = [0]

    def node(x: float, y: float, tags: dict[str, str] | None = None) -> int:
        nid[0] += 1
        lon, lat = lonlat(x, y)
        body = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (tags or {}).items())
        nodes.append(f'<node id="{nid[0]}" lat="{lat:.8f}" lon="{lon:.8f}">{body}</node>')
        return nid[0]

    grid: dict[tuple[int, float], int] = {}
    xs = [100.0 * k for k in range(-BLOCKS, BLOCKS + 1)]
    for y in ROWS.values():
        for x in xs:
            grid[(int(x), y)] = node(x, y)
    wid = 0
    for row, y in ROWS.items():
        for east in (True, False):
            if row == "Fleet" and not east:
                continue
            side = [x for x in xs if (x >= 0 if east else x <= 0)]
            refs = "".join(f'<nd ref="{grid[(int(x), y)]}"/>' for x in side)
            wid += 1
            name = street_name(row, east)
            ways.append(
                f'<way id="{wid}">{refs}<tag k="highway" v="residential"/>'
                f'<tag k="name" v="{name}"/></way>'
            )
    for x in xs:
        refs = "".join(f'<nd ref="{grid[(int(x), y)]}"/>' for y in ROWS.values())
        wid += 1
        name = "Charles Street" if x == 0 else f"Cross {int(x // 100) + 100} Street"
        ways.append(
            f'<way id="{wid}">{refs}<tag k="highway" v="residential"/>'
            f'<tag k="name" v="{name}"/></way>'
        )
    for row, n, east in known:
        x, y = house(row, n, east=east)
        node(x, y, {"addr:housenumber": str(n), "addr:street": street_name(row, east)})
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version=\"0.6\">\n"
        + "\n".join(nodes + ways)
        + "\n</osm>\n",
        encoding="utf-8",
    )
    return path
