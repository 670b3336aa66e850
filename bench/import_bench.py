"""Import benchmark: N synthetic Boston-schema rows into SQLite, next to pandas.read_csv.

Usage: python bench/import_bench.py [--rows 1000000] [--workdir bench/_work]

Prints rows/s of geo311's end-to-end import (parse, validate, upsert into a fresh SQLite
file) and of a plain ``pandas.read_csv`` of the same file in the same run, and the peak
memory of the import.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo311.city.catalogue import load_catalogue  # noqa: E402
from geo311.db.store import Store  # noqa: E402
from geo311.ingest.importer import ImportOptions, import_file  # noqa: E402

COLUMNS = [
    "CASE_ENQUIRY_ID",
    "OPEN_DT",
    "TARGET_DT",
    "CLOSED_DT",
    "OnTime_Status",
    "CASE_STATUS",
    "CLOSURE_REASON",
    "CASE_TITLE",
    "SUBJECT",
    "REASON",
    "TYPE",
    "QUEUE",
    "Department",
    "SubmittedPhoto",
    "ClosedPhoto",
    "Location",
    "fire_district",
    "pwd_district",
    "city_council_district",
    "police_district",
    "neighborhood",
    "neighborhood_services_district",
    "ward",
    "precinct",
    "land_usage",
    "LOCATION_STREET_NAME",
    "LOCATION_ZIPCODE",
    "Property_Type",
    "Property_ID",
    "LATITUDE",
    "LONGITUDE",
    "Source",
    "Geocoded_Location",
]
TYPES = [
    "Street Light Outages",
    "Pothole Repair (Internal)",
    "General Lighting Request",
    "Street Light Knock Downs",
]
STREETS = [
    "Boylston St",
    "Commonwealth Ave",
    "Newbury St",
    "Tremont St",
    "Columbus Ave",
    "Beacon St",
]


def make_file(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2015-01-01").value // 10**9
    opened = start + rng.integers(0, 365 * 86400, rows)
    closed = opened + rng.integers(60, 20 * 86400, rows)
    target = opened + 15 * 86400
    is_open = rng.random(rows) < 0.1
    fmt = "%m/%d/%Y %I:%M:%S %p"

    def stamp(sec: np.ndarray) -> pd.Series:
        return pd.Series(pd.to_datetime(sec, unit="s")).dt.strftime(fmt)

    lat = 42.23 + rng.random(rows) * 0.17
    lon = -71.19 + rng.random(rows) * 0.19
    placeholder = rng.random(rows) < 0.08
    lat[placeholder], lon[placeholder] = 42.3594, -71.0587
    numbers = rng.integers(1, 900, rows).astype(str)
    street = np.array(STREETS)[rng.integers(0, len(STREETS), rows)]
    location = pd.Series(numbers) + " " + pd.Series(street) + "  Boston  MA  02116"
    frame = pd.DataFrame({c: "" for c in COLUMNS}, index=range(rows))
    frame["CASE_ENQUIRY_ID"] = (101001000000 + np.arange(rows)).astype(str)
    frame["OPEN_DT"] = stamp(opened)
    frame["TARGET_DT"] = stamp(target)
    frame["CLOSED_DT"] = stamp(closed).where(~is_open, "")
    frame["CASE_STATUS"] = np.where(is_open, "Open", "Closed")
    frame["CLOSURE_REASON"] = np.where(is_open, "", "Case Resolved")
    frame["CASE_TITLE"] = "PRINTED"
    frame["TYPE"] = np.array(TYPES)[rng.integers(0, len(TYPES), rows)]
    frame["Location"] = location
    frame["neighborhood"] = "Back Bay"
    frame["LOCATION_ZIPCODE"] = "2116.0"
    frame["LATITUDE"] = np.round(lat, 4)
    frame["LONGITUDE"] = np.round(lon, 4)
    frame["Source"] = "Citizens Connect App"
    frame.to_csv(path, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=ROOT / "bench" / "_work")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    csv_path = args.workdir / f"boston_synthetic_{args.rows}.csv"
    if not csv_path.exists():
        t = time.perf_counter()
        make_file(csv_path, args.rows)
        print(
            f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s"
        )

    t = time.perf_counter()
    baseline = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    read_s = time.perf_counter() - t
    del baseline

    db = args.workdir / "import_bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    store = Store(f"sqlite:///{db}")
    catalogue = load_catalogue(ROOT / "data" / "services.toml")
    t = time.perf_counter()
    summary = import_file(
        store, csv_path, catalogue, ImportOptions(rejects_path=args.workdir / "rejects.csv")
    )
    import_s = time.perf_counter() - t
    t = time.perf_counter()
    again = import_file(
        store, csv_path, catalogue, ImportOptions(rejects_path=args.workdir / "rejects.csv")
    )
    reimport_s = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024

    print(f"rows: {args.rows:,}  stored new: {summary.new:,}  rejected: {summary.rejected}")
    print(f"{'what':44s} {'seconds':>8s} {'rows/s':>10s}")
    print(
        f"{'pandas.read_csv (baseline, parse only)':44s} {read_s:8.2f} {args.rows / read_s:10,.0f}"
    )
    print(
        f"{'geo311 import -> SQLite (end-to-end)':44s} {import_s:8.2f} {args.rows / import_s:10,.0f}"
    )
    print(
        f"{'geo311 re-import (all unchanged)':44s} {reimport_s:8.2f} {args.rows / reimport_s:10,.0f}"
    )
    print(f"re-import: new {again.new}, unchanged {again.unchanged:,}")
    print(f"geo311 / read_csv time ratio: {import_s / read_s:.1f}x")
    print(
        f"peak memory (max RSS): this process {peak_mb:,.0f} MB, parsing child {child_mb:,.0f} MB"
    )
    target = 50_000
    verdict = "meets" if args.rows / import_s >= target else "misses"
    print(f"target >= {target:,} rows/s end-to-end: {verdict}")


if __name__ == "__main__":
    main()
