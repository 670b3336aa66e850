"""The geocode bench's ``--city`` mode: a city learned from sparse address points.

For a city's OSM streets and address points, a share of the address points is kept (chosen at
random with a stated seed), the geocoder is built from the streets and those points only (no
reports history), and every other address point is geocoded from its address text, written
the city's way (US: ``123 Main Street 02116``; European: ``Kaivokatu 1, 00100 Helsinki``).
A point is a hit when the answer is within 100 m of the OSM point. Measured in the same run
on the same index: ``previous`` (today's rules: no block-number grid) and ``grid`` (this code).
Printed: hits, answered, the precision of the answers that claim an error of at most 100 m,
and the rows per match type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from geo311.geocoding.geocoder import Geocoder
from geo311.geocoding.index import build_index
from geo311.geocoding.osm import OsmAddress, read_address_points

HIT_M = 100.0


@dataclass(frozen=True)
class CityCase:
    """One city of the ``--city`` mode."""

    name: str
    streets: Path
    addresses: Path
    european: bool
    place: str
    keeps: tuple[float, ...]
    target: dict[float, float]


def query(a: OsmAddress, case: CityCase) -> str:
    """The address text of a point, written the city's way."""
    if case.european:
        post = f"{a.postcode} " if a.postcode else ""
        return f"{a.street} {a.number}, {post}{case.place}"
    return f"{a.number} {a.street} {case.place} {a.postcode}".strip()


def split(points: list[OsmAddress], keep: float, seed: int) -> tuple[list, list]:
    """Keep ``keep`` of the points (random, seeded); return (kept, held out)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(points))
    k = int(round(keep * len(points)))
    kept = {int(i) for i in order[:k]}
    return (
        [p for i, p in enumerate(points) if i in kept],
        [p for i, p in enumerate(points) if i not in kept and any(c.isdigit() for c in p.number)],
    )


def split_streets(points: list[OsmAddress], share: float, seed: int) -> tuple[list, list]:
    """Hold out every point of a random ``share`` of the streets (numbers no street knows)."""
    from geo311.geocoding.address import street_key

    keys = sorted({street_key(p.street) for p in points})
    rng = np.random.default_rng(seed)
    out = {keys[int(i)] for i in rng.permutation(len(keys))[: int(round(share * len(keys)))]}
    kept = [p for p in points if street_key(p.street) not in out]
    held = [p for p in points if street_key(p.street) in out and any(c.isdigit() for c in p.number)]
    return kept, held


def measure(geocoder: Geocoder, held: list[OsmAddress], case: CityCase) -> dict[str, float]:
    """Hits within 100 m, answered, claimed-≤100 m precision, per match type."""
    from pyproj import Transformer

    frame = geocoder.geocode_many([query(a, case) for a in held])
    to_m = Transformer.from_crs("EPSG:4326", geocoder.index.crs, always_xy=True)
    tx, ty = to_m.transform([a.lon for a in held], [a.lat for a in held])
    ax, ay = to_m.transform(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    err = np.hypot(np.asarray(ax) - tx, np.asarray(ay) - ty)
    answered = frame["match_type"].to_numpy() != "none"
    hit = answered & (err <= HIT_M)
    claimed = answered & (frame["error_m"].to_numpy() <= HIT_M)
    out = {
        "n": float(len(held)),
        "hit": float(hit.mean()) if len(held) else 0.0,
        "answered": float(answered.mean()) if len(held) else 0.0,
        "claimed": float(claimed.sum()),
        "claimed_precision": float(hit[claimed].mean()) if claimed.any() else float("nan"),
    }
    for t in ("address_point", "interpolated", "intersection", "street"):
        sel = frame["match_type"].to_numpy() == t
        out[t] = float(sel.sum())
        out[t + "_hit"] = float(hit[sel].mean()) if sel.any() else float("nan")
    return out


def line(label: str, r: dict[str, float]) -> str:
    """One printed line of a run."""
    types = ", ".join(
        f"{t} {int(r[t])} ({r[t + '_hit']:.0%} hit)"
        for t in ("address_point", "interpolated", "street")
        if r[t]
    )
    return (
        f"  {label:<9} within {HIT_M:.0f} m {r['hit']:6.1%}  answered {r['answered']:6.1%}  "
        f"claimed <=100 m: {int(r['claimed'])} rows, precision {r['claimed_precision']:.1%}"
        f"  [{types}]"
    )


def run_case(case: CityCase, seeds: tuple[int, ...]) -> None:
    """Print every keep share of one city, for each seed (the first seed is the stated one)."""
    points = read_address_points(case.addresses)
    print(f"\n{case.name}: {len(points)} OSM address points ({case.addresses.name})")
    for keep in case.keeps:
        for seed in seeds:
            kept, held = split(points, keep, seed)
            index = build_index(case.streets, None, points=kept)
            grid_geo = Geocoder(index, zip_codes=())
            old_geo = Geocoder(index, zip_codes=(), grid=False)
            target = case.target.get(keep)
            goal = f"target >= {target:.0%}" if target is not None else ""
            print(
                f" keep {keep:.0%} (seed {seed}): {len(kept)} kept, {len(held)} held out "
                f"and measured {goal}"
            )
            print(line("previous", measure(old_geo, held, case)))
            print(line("grid", measure(grid_geo, held, case)))
            if seed == seeds[0]:
                print(f"  grid learned: {grid_geo.grid().describe()}")
    for seed in seeds[:1]:
        kept, held = split_streets(points, 0.3, seed)
        index = build_index(case.streets, None, points=kept)
        print(
            f" whole streets held out (30 % of the streets, seed {seed}): {len(kept)} points "
            f"kept, {len(held)} on the held-out streets measured (the grid's own case)"
        )
        print(line("previous", measure(Geocoder(index, zip_codes=(), grid=False), held, case)))
        print(line("grid", measure(Geocoder(index, zip_codes=()), held, case)))
