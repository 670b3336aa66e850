"""Offline geocoder accuracy and speed on the embedded Boston 311 records (2015).

Records inside the OSM extract's box whose coordinates are real (not a placeholder of the
city profile) are geocoded from their ``Location`` text and compared with the City's
LATITUDE/LONGITUDE. A row is a hit when the answer lies within 100 m of the City's point:

- precision = hits / answered rows,
- recall    = hits / all rows (what a user of the whole export gets).

The default geocoder of the embedded city knows the City's own located reports as house
number points (``known_addresses`` in ``data/osm/extracts.toml``), and those reports are
this file. So the bench holds them out by time: it measures the reports opened from
``--split`` on, with a geocoder that knows only the located reports opened before it (never
the rows it is measured on). Runs, on the same rows, measured in the same run:

- ``previous``  the implementation at ``--baseline-ref`` (``geo311/geocoding/address.py``,
  ``_geocode_index.py``, ``_geo_*.py`` and ``geocoding.py`` read from git into a temporary
  package), with its own defaults (OSM only),
- ``osm``       this code, OSM address points only (``known_addresses=False``),
- ``no interp`` this code with the known reports but no interpolation (``interpolate=False``),
- ``default``   this code as shipped: OSM + known reports + interpolation along the street.

Printed per input class (single house number, range ``135-137``, number 0, street only,
intersection) for all rows, for the rows whose street(s) the index knows by name ("street
known"), and for the rows "where the OSM data covers the street": every street the row names
is mapped within 100 m of the City's point (the extract clips some streets, e.g. 119 m of
Washington Street, so a known name does not mean the report's place is mapped; this is the
issue's target measure), then per match type (address_point / interpolated
/ intersection / street): precision and the share of all rows each type hits. Street-level
answers (the street's middle) count only when within 100 m like any other. Also: how many
covered rows are on streets where no house number is known at all, and the default
geocoder's recall on the covered rows for several splits (how much the city already knows
decides much of it). Speed: batch geocoding of
all rows with cold caches, both versions, and the time to build each geocoder. A second city
without 311 data (``--second-city``, SF Mission) is checked on every pair of its streets that
meet, written four ways (``A & B``, ``A &B`` upper case, ``A and B, City, ST ZIP``, ``A AT B``).

Run: .venv/bin/python bench/geocode_bench.py [--worst 15] [--baseline-ref REF] [--split DAY]
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyproj import Transformer

from geo311.city.profile import default_city
from geo311.geocoding.address import ParsedAddress, parse_address, street_key
from geo311.geocoding.geocoder import Geocoder
from geo311.settings import REPO_DATA_DIR

# The box of the embedded Boston extract (data/README.md): min lon, min lat, max lon, max lat.
BOX = (-71.1067, 42.3344, -71.0626, 42.3678)
BASELINE_REF = "6b49b75"  # main before interpolation along the street and known reports
MODULES = ("_address", "_geocode_index", "_geo_osm", "_geo_names", "_geo_house", "geocoding")
HIT_M = 100.0
CLASSES = ("single number", "range", "number 0", "street only", "intersection")
MATCH_TYPES = ("address_point", "interpolated", "intersection", "street")
SPLITS = ("2015-04-01", "2015-06-01", "2015-07-01", "2015-08-01", "2015-10-01")


def load_baseline(ref: str, folder: Path) -> Any | None:
    """The previous geocoding module (with its own parser and index) from git, or None."""
    root = Path(__file__).resolve().parent.parent
    package = folder / "geo311_baseline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name in MODULES:
        try:
            source = subprocess.run(
                ["git", "show", f"{ref}:geo311/{name}.py"],
                capture_output=True,
                text=True,
                check=True,
                cwd=root,
            ).stdout
        except (OSError, subprocess.CalledProcessError) as exc:
            if name == "geocoding":
                print(f"(no baseline: git show {ref}:geo311/{name}.py failed: {exc})")
                return None
            continue  # a module the old code did not have
        for other in MODULES:
            source = source.replace(f"geo311.{other} ", f"geo311_baseline.{other} ")
        (package / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    return importlib.import_module("geo311_baseline.geocoding")


def input_class(parsed: ParsedAddress) -> str:
    """The row's input class (see ``CLASSES``); ``unparsed`` when no street was found."""
    if parsed.kind == "intersection":
        return "intersection"
    if parsed.kind == "unparsed":
        return "unparsed"
    if parsed.number_low is None:
        return "street only"
    if parsed.number_low == 0 and not parsed.number_high:
        return "number 0"
    return "single number" if parsed.number_low == parsed.number_high else "range"


def covered(parsed: ParsedAddress, geocoder: Geocoder) -> bool:
    """Whether every street the row names is in the geocoder's index."""
    names = [parsed.street, parsed.street2] if parsed.kind == "intersection" else [parsed.street]
    return parsed.kind != "unparsed" and all(geocoder.match_street(n) for n in names)


def mapped_there(
    parsed: list[ParsedAddress], geocoder: Geocoder, frame: pd.DataFrame, known: np.ndarray
) -> np.ndarray:
    """Whether each row's street(s) are mapped within ``HIT_M`` of the City's point.

    Only rows whose streets the index knows (``known``) can be; for an intersection both
    streets must pass within ``HIT_M`` of the point.
    """
    import shapely

    to_m = Transformer.from_crs("EPSG:4326", geocoder.index.crs, always_xy=True)
    xs, ys = to_m.transform(frame["LONGITUDE"].to_numpy(), frame["LATITUDE"].to_numpy())
    out = np.zeros(len(parsed), dtype=bool)
    for i in np.flatnonzero(known):
        p = parsed[i]
        names = [p.street, p.street2] if p.kind == "intersection" else [p.street]
        geoms = [geocoder._street(n)[0].geom for n in names]  # type: ignore[index]
        point = shapely.Point(float(xs[i]), float(ys[i]))
        out[i] = all(g is not None and g.distance(point) <= HIT_M for g in geoms)
    return out


def numbered(parsed: ParsedAddress, geocoder: Geocoder) -> bool:
    """Whether the row's street has OSM address points (intersections: both streets known)."""
    if parsed.kind == "intersection":
        return covered(parsed, geocoder)
    found = geocoder._street(parsed.street) if parsed.kind != "unparsed" else None
    return found is not None and bool(found[0].exact)


def errors_m(res: pd.DataFrame, ref: pd.DataFrame, crs: str) -> np.ndarray:
    to_m = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_m.transform(res["lon"].to_numpy(), res["lat"].to_numpy())
    rx, ry = to_m.transform(ref["LONGITUDE"].to_numpy(), ref["LATITUDE"].to_numpy())
    return np.hypot(np.asarray(x) - rx, np.asarray(y) - ry)


def scores(err: np.ndarray, mask: np.ndarray) -> str:
    """``answered  precision  recall`` of the rows in ``mask``."""
    rows = int(mask.sum())
    answered = mask & ~np.isnan(err)
    hits = int((answered & (err <= HIT_M)).sum())
    n = int(answered.sum())
    precision = f"{hits / n:6.1%}" if n else "     -"
    recall = f"{hits / rows:6.1%}" if rows else "     -"
    return f"{n:>6} {precision:>9} {recall:>7}"


def table(title: str, classes: np.ndarray, base: np.ndarray, runs: dict[str, np.ndarray]) -> None:
    print(f"\n== {title}: within {HIT_M:.0f} m; precision = hits/answered, recall = hits/rows")
    head = "".join(f" | {name:>9} answered precision  recall" for name in runs)
    print(f"{'input class':<22} {'rows':>6}{head}")
    groups = [("addresses (all)", classes != "intersection")]
    groups += [(f"  {c}", classes == c) for c in CLASSES if c != "intersection"]
    groups += [("intersections", classes == "intersection")]
    for label, sel in groups:
        mask = base & sel
        cells = "".join(f" | {scores(err, mask):>34}" for err in runs.values())
        print(f"{label:<22} {int(mask.sum()):>6}{cells}")


def by_match_type(
    title: str, err: np.ndarray, types: np.ndarray, score: np.ndarray, base: np.ndarray
) -> None:
    total = int(base.sum())
    print(f"\n== {title} ({total} rows): per match type, precision and recall (hits / all rows)")
    for t in MATCH_TYPES:
        for label, mask in (
            (t, base & (types == t)),
            (f"{t}, score >= 0.5", base & (types == t) & (score >= 0.5)),
        ):
            if not mask.any() or (label != t and t != "interpolated"):
                continue
            hits = int((mask & (err <= HIT_M)).sum())
            print(
                f"  {label:<28} {int(mask.sum()):>6} answers  precision {hits / mask.sum():6.1%}"
                f"  recall {hits / total:6.1%} ({hits} hits)"
            )
    print(f"  {'none':<28} {int((base & (types == 'none')).sum()):>6} rows")


def timed(fn: Callable[[list[str]], Any], values: list[str]) -> float:
    t0 = time.perf_counter()
    fn(values)
    return time.perf_counter() - t0


def load_rows(data_dir: Path, box: tuple[float, float, float, float]) -> pd.DataFrame:
    df = pd.read_csv(
        data_dir / "boston311" / "boston311_2015_streetlights_potholes.csv.gz",
        dtype={"Location": str},
        usecols=["Location", "LATITUDE", "LONGITUDE"],
    )
    lat, lon = df["LATITUDE"].astype(float), df["LONGITUDE"].astype(float)
    city = default_city()
    placeholder = np.array([city.is_placeholder(a, b) for a, b in zip(lat, lon, strict=True)])
    inside = lat.between(box[1], box[3]) & lon.between(box[0], box[2]) & ~placeholder
    return df[inside & df["Location"].notna()].reset_index(drop=True)


def load_split(
    data_dir: Path, split: str
) -> tuple[pd.DataFrame, tuple[list[str], list[float], list[float]]]:
    """The rows in the box opened from ``split`` on, and the located reports opened before.

    The known reports come from the whole city (real coordinates only, no placeholder) but
    only from before ``split``, so no measured row is geocoded from its own coordinates.
    """
    df = pd.read_csv(
        data_dir / "boston311" / "boston311_2015_streetlights_potholes.csv.gz",
        dtype={"Location": str},
        usecols=["OPEN_DT", "Location", "LATITUDE", "LONGITUDE"],
    )
    opened = pd.to_datetime(df["OPEN_DT"], format="%m/%d/%Y %I:%M:%S %p")
    lat, lon = df["LATITUDE"].astype(float), df["LONGITUDE"].astype(float)
    city = default_city()
    real = df["Location"].notna() & lat.notna() & lon.notna()
    real &= ~np.array([city.is_placeholder(a, b) for a, b in zip(lat, lon, strict=True)])
    before = df[real & (opened < split)]
    known = (
        before["Location"].tolist(),
        before["LATITUDE"].astype(float).tolist(),
        before["LONGITUDE"].astype(float).tolist(),
    )
    inside = lat.between(BOX[1], BOX[3]) & lon.between(BOX[0], BOX[2])
    return df[real & inside & (opened >= split)].reset_index(drop=True), known


def no_number(parsed: ParsedAddress, geocoder: Geocoder) -> bool:
    """Whether the row names a house number on a known street where no number is known."""
    if parsed.kind != "address" or not parsed.number_low:
        return False
    found = geocoder._street(parsed.street)
    return found is not None and not found[0].exact


def main() -> None:  # noqa: PLR0915 - the options, then one measurement each
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=REPO_DATA_DIR)
    parser.add_argument("--worst", type=int, default=10, help="print the N worst misses")
    parser.add_argument("--baseline-ref", default=BASELINE_REF, help="git ref of the old code")
    parser.add_argument("--second-city", default="sf_mission", help="extract without 311 data")
    parser.add_argument("--split", default="2015-07-01", help="measured reports from this day")
    parser.add_argument(
        "--city",
        choices=("all", "boston", "helsinki", "grid"),
        help="the sparse-city mode only (bench/_geocode_city.py): a share of the OSM address "
        "points kept, the rest geocoded",
    )
    parser.add_argument("--seeds", default="24,7,2026", help="--city: seeds (first is stated)")
    args = parser.parse_args()
    if args.city:
        city_mode(args.data_dir, args.city, tuple(int(s) for s in args.seeds.split(",")))
        return

    t0 = time.perf_counter()
    osm = Geocoder.from_data_dir(args.data_dir, known_addresses=False)
    t1 = time.perf_counter()
    Geocoder.from_data_dir(args.data_dir)
    t2 = time.perf_counter()
    print(
        f"geocoder ready: OSM only {t1 - t0:.2f} s (cached index if present), default with "
        f"the city's known reports {t2 - t1:.2f} s"
    )
    sub, known = load_split(args.data_dir, args.split)
    default = osm.with_known_addresses(*known)
    locations = sub["Location"].tolist()
    parsed = [parse_address(s) for s in locations]
    classes = np.array([input_class(p) for p in parsed])
    named = np.array([covered(p, osm) for p in parsed])
    cover = mapped_there(parsed, osm, sub, named)
    print(
        f"reports opened from {args.split} in the extract's box with real coordinates: "
        f"{len(sub)} ({(classes != 'intersection').sum()} addresses, "
        f"{(classes == 'intersection').sum()} intersections); the index knows the "
        f"street(s) of {named.sum()}, the OSM data maps them within {HIT_M:.0f} m of the "
        f"City's point for {cover.sum()}; known: {len(known[0])} located reports opened before"
    )
    geocoders = {
        "osm": osm,
        "no interp": Geocoder(default.index, zip_codes=default.zip_codes, interpolate=False),
        "default": default,
    }
    runs: dict[str, np.ndarray] = {}
    types: dict[str, np.ndarray] = {}
    scored: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory() as folder:
        old_module = load_baseline(args.baseline_ref, Path(folder))
        old = (
            old_module.Geocoder.from_data_dir(args.data_dir, use_cache=False)
            if old_module
            else None
        )
        answers = {"previous": old.geocode_many(locations)} if old is not None else {}
    answers |= {name: g.geocode_many(locations) for name, g in geocoders.items()}
    for name, res in answers.items():
        runs[name] = errors_m(res, sub, osm.index.crs)
        types[name] = res["match_type"].to_numpy()
        scored[name] = res["score"].to_numpy()
    everything = np.ones(len(sub), dtype=bool)
    table("all measured rows", classes, everything, runs)
    table("street known by name", classes, named, runs)
    table("where the OSM data covers the street (target)", classes, cover, runs)
    for name in ("previous", "default"):
        if name in runs:
            by_match_type(f"{name}, covered rows", runs[name], types[name], scored[name], cover)
    addresses = cover & (classes != "intersection")
    for label, g in (("OSM only", osm), ("default (OSM + known reports)", default)):
        none_known = np.array([no_number(p, g) for p in parsed]) & addresses
        print(
            f"covered address rows on streets where no house number is known, {label}: "
            f"{int(none_known.sum())} of {int(addresses.sum())}"
        )
    print_claimed(runs["default"], answers["default"])
    print_worst(args.worst, runs["default"], answers["default"], cover)
    split_sweep(args.data_dir, osm, SPLITS)
    second_city(args.data_dir, args.second_city)
    print_speed(args.data_dir, default, old)


def city_mode(data_dir: Path, which: str, seeds: tuple[int, ...]) -> None:
    """The sparse-city simulation: Boston at 5 % and 20 % of its points, Helsinki at 50 %."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _geocode_city import CityCase, run_case

    osm = data_dir / "osm"
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "osm"
    helsinki = next(
        (p for p in (osm / "helsinki_center.osm.pbf", shared / "helsinki_center.osm.pbf",
                     Path("/work/shared/data/osm/helsinki_center.osm.pbf")) if p.is_file()),
        None,
    )  # fmt: skip
    cases = {
        "boston": CityCase(
            "Boston (Back Bay extract)",
            osm / "boston_backbay_drive.osm.bz2",
            osm / "boston_backbay_addresses.osm.bz2",
            european=False,
            place="Boston MA",
            keeps=(0.05, 0.20),
            target={0.05: 0.70, 0.20: 0.85},
        ),
    }
    if helsinki is not None:
        cases["helsinki"] = CityCase(
            "Helsinki (centre)",
            helsinki,
            helsinki,
            european=True,
            place="Helsinki",
            keeps=(0.5,),
            target={0.5: 0.90},
        )
    print(f"sparse-city mode, seeds {seeds} (the first is the stated one); load {_load()}")
    for name, case in cases.items():
        if which in ("all", name):
            run_case(case, seeds)
    if which in ("all", "grid"):
        with tempfile.TemporaryDirectory() as folder:
            run_case(synthetic_grid_city(Path(folder)), seeds)


def synthetic_grid_city(folder: Path) -> Any:
    """A regular US block grid written by hand (tests/geo311/geocoding/_grid_city.py), every 20th number.

    Not real data: it shows the grid where a city is numbered by blocks (east and west of a
    baseline street, the hundred-blocks lined up), which neither Boston nor Helsinki is.
    """
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    from _geocode_city import CityCase

    from tests.geo311.geocoding._grid_city import BLOCKS, ROWS, write_city

    houses = [
        (row, n, east)
        for row in ROWS
        for east in (True, False)
        if east or row != "Fleet"
        for n in range(2, BLOCKS * 100, 19)
    ]
    path = write_city(folder / "grid.osm", houses)
    return CityCase(
        "Synthetic block grid (not real data)",
        path,
        path,
        european=False,
        place="Baltimore MD",
        keeps=(0.05, 0.20),
        target={},
    )


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def print_claimed(err: np.ndarray, res: pd.DataFrame) -> None:
    """How honest the stated errors are: the answers claiming at most 100 m, and their hits."""
    claimed = (res["match_type"].to_numpy() != "none") & (res["error_m"].to_numpy() <= HIT_M)
    hits = claimed & (err <= HIT_M)
    share = hits.sum() / max(int(claimed.sum()), 1)
    print(
        f"default, all measured rows: {int(claimed.sum())} answers claim an error of at most "
        f"{HIT_M:.0f} m (error_m); {share:.1%} of them are within {HIT_M:.0f} m (target >= 95 %)"
    )


def split_sweep(data_dir: Path, osm: Geocoder, splits: tuple[str, ...]) -> None:
    """The default geocoder's recall on the covered rows, held out at several days.

    The later the split, the more of the city's located reports the geocoder knows (and
    the fewer rows are measured): the figure for a city that has run for a while.
    """
    print(f"\n== default geocoder, covered rows (within {HIT_M:.0f} m), by split day")
    for split in splits:
        sub, known = load_split(data_dir, split)
        parsed = [parse_address(s) for s in sub["Location"]]
        classes = np.array([input_class(p) for p in parsed])
        cover = mapped_there(parsed, osm, sub, np.array([covered(p, osm) for p in parsed]))
        res = osm.with_known_addresses(*known).geocode_many(sub["Location"].tolist())
        hit = errors_m(res, sub, osm.index.crs) <= HIT_M
        cells = []
        for label, sel in (("addresses", classes != "intersection"), ("intersections", None)):
            mask = cover & (classes == "intersection" if sel is None else sel)
            n = int(mask.sum())
            cells.append(f"{label} {int((hit & mask).sum()) / max(n, 1):6.1%} of {n:>4}")
        print(f"  from {split} (knowing {len(known[0]):>5} reports): " + ", ".join(cells))


def second_city(data_dir: Path, extract: str) -> None:
    """Every pair of streets of a second city that meet, written four ways, geocoded back.

    The city has no 311 data here: the reference point is where the two streets' ways share
    a node (the answer must fall within 100 m of one such node), which checks the parsing
    and the name matching of the written forms on a city the code was not written for.
    """
    t0 = time.perf_counter()
    geocoder = Geocoder.from_data_dir(data_dir, extract=extract)
    ready = time.perf_counter() - t0
    index = geocoder.index
    forms = ("{a} & {b}", "{A} &{B}", "{a} and {b}, San Francisco, CA 94110", "{A} AT {B}")
    queries: list[str] = []
    refs: list[np.ndarray] = []
    for ka, kb in index.intersections:
        a, b = index.streets[ka].name, index.streets[kb].name
        for form in forms:
            queries.append(form.format(a=a, b=b, A=a.upper(), B=b.upper()))
            refs.append(index.intersections[(ka, kb)])
    t0 = time.perf_counter()
    res = geocoder.geocode_many(queries)
    dt = time.perf_counter() - t0
    to_m = Transformer.from_crs("EPSG:4326", index.crs, always_xy=True)
    xs, ys = to_m.transform(res["lon"].to_numpy(), res["lat"].to_numpy())
    near = [
        bool(np.isfinite(x) and np.min(np.hypot(r[:, 0] - x, r[:, 1] - y)) <= HIT_M)
        for x, y, r in zip(xs, ys, refs, strict=True)
    ]
    answered = int((res["match_type"] == "intersection").sum())
    print(
        f"\n== second city ({extract}, index {ready:.1f} s, {len(index.streets)} named streets, "
        f"{len(index.intersections)} pairs that meet): {len(queries)} queries in "
        f"{len(queries) / dt:,.0f}/s; answered intersection {answered / len(queries):.1%}, "
        f"within {HIT_M:.0f} m of a shared node {np.mean(near):.1%}"
    )


def print_worst(n: int, err: np.ndarray, res: pd.DataFrame, cover: np.ndarray) -> None:
    if not n:
        return
    print(f"\n== {n} worst answers and {n} unanswered rows, where the street is covered")
    order = np.argsort(-np.where(cover, np.nan_to_num(err, nan=-1), -1))[:n]
    for i in order:
        print(f"{err[i]:7.0f} m  {res['match_type'][i]:<13} {res['address'][i]!r}")
    missing = res[cover & (res["match_type"] == "none").to_numpy()]
    for _, row in missing.drop_duplicates("address").head(n).iterrows():
        print(f"   none    {row['address']!r}: {row['reason']}")


def print_speed(data_dir: Path, geocoder: Geocoder, old: Any | None) -> None:
    df = pd.read_csv(
        data_dir / "boston311" / "boston311_2015_streetlights_potholes.csv.gz",
        dtype={"Location": str},
        usecols=["Location"],
    )
    everything = df["Location"].fillna("").tolist()
    print(f"\n== speed: batch geocoding of all {len(everything)} Location strings (cold caches)")
    parse_address.cache_clear()
    street_key.cache_clear()
    fresh = Geocoder(geocoder.index, zip_codes=geocoder.zip_codes)
    dt = timed(fresh.geocode_many, everything)
    print(f"default  geocode_many: {len(everything) / dt:10,.0f} addresses/s ({dt:.2f} s)")
    if old is not None:
        module = sys.modules["geo311_baseline._address"]
        module.parse_address.cache_clear()
        module.street_key.cache_clear()
        old_fresh = type(old)(old.index, zip_codes=old.zip_codes)
        dt = timed(old_fresh.geocode_many, everything)
        print(f"previous geocode_many: {len(everything) / dt:10,.0f} addresses/s ({dt:.2f} s)")
    dt = timed(fresh.geocode_many, everything)
    print(f"default again (warm result cache): {len(everything) / dt:10,.0f} addresses/s")


if __name__ == "__main__":
    main()
