"""Benchmark: build and write the open-work map for 1,000 / 10,000 / 100,000 work orders.

Prints build+write time and HTML size per size and mode. The baseline, measured in the same
run, is folium's per-marker MarkerCluster (one folium Marker + Popup per work order) at the
sizes where it is still practical; geo311 switches to browser-built markers (FastMarkerCluster
style, one compact row per work order) above ``FAST_THRESHOLD``.

Run: .venv/bin/python bench/map_bench.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo311.catalogue import load_catalogue  # noqa: E402
from geo311.city import default_city  # noqa: E402
from geo311.settings import REPO_DATA_DIR  # noqa: E402
from maps.base import write_map  # noqa: E402
from maps.openwork import open_work_map  # noqa: E402
from tests.maps.synthetic import synthetic_work_orders  # noqa: E402

AT = datetime(2015, 10, 6, 7, 0, tzinfo=default_city().tz)


def run(n: int, mode: str, out: Path) -> tuple[float, int]:
    catalogue = load_catalogue(REPO_DATA_DIR / "services.toml")
    orders = synthetic_work_orders(n, catalogue, at=AT, seed=n)
    threshold = 0 if mode == "fast" else n + 1
    t0 = time.perf_counter()
    m = open_work_map(orders, catalogue, at=AT, fast_threshold=threshold)
    path = write_map(m, out / f"open_{mode}_{n}.html")
    return time.perf_counter() - t0, path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=10_000,
        help="largest size the per-marker baseline is run for",
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'work orders':>12} {'mode':>22} {'build+write s':>14} {'HTML MB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            modes = ["fast"] + (["per-marker (baseline)"] if n <= args.baseline_max else [])
            for mode in modes:
                secs, size = run(n, "fast" if mode == "fast" else "markers", Path(tmp))
                print(f"{n:>12,} {mode:>22} {secs:>14.2f} {size / 1e6:>9.2f}")


if __name__ == "__main__":
    main()
