"""Benchmark: build and write the open-work map for 1,000 / 10,000 / 100,000 work orders.

Prints build+write time and HTML size per size and mode. The baseline, measured in the same
run, is folium's per-marker MarkerCluster (one folium Marker + Popup per work order) at the
sizes where it is still practical; geo311 switches to browser-built markers (FastMarkerCluster
style, one compact row per work order) above ``FAST_THRESHOLD``.

With ``--browser`` it also opens each written map in headless Chromium (the system
``/usr/bin/chromium``, network blocked, tiles answered blank, as the map tests do) and
prints the time from navigation to the first drawn marker over ``--runs`` fresh pages
(median and p90), with every marker counted; the smallest size is the baseline of the same
run. (This was the timed test ``test_100k_open_work_map_loads_within_10_seconds``; the test
now only checks that all 100,000 markers draw.)

Run: .venv/bin/python bench/map_bench.py [--sizes 1000,10000,100000] [--browser --runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo311.city.catalogue import load_catalogue  # noqa: E402
from geo311.city.profile import default_city  # noqa: E402
from geo311.settings import REPO_DATA_DIR  # noqa: E402
from maps.base import write_map  # noqa: E402
from maps.openwork import open_work_map  # noqa: E402
from tests._browser import Watch, block_network, launch_chromium, record_errors  # noqa: E402
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


JS_MARKERS = """() => {
  let markers = 0;
  for (const k of Object.keys(window)) {
    let v; try { v = window[k]; } catch (e) { continue; }
    if (v instanceof L.MarkerClusterGroup) { markers += v.getLayers().length; }
  }
  return markers;
}"""


def browser_load(browser: object, path: Path, n: int) -> float:
    """Open a written map in a fresh page; return seconds to the first drawn marker."""
    context = browser.new_context(viewport={"width": 1200, "height": 800})  # type: ignore[attr-defined]
    try:
        page = context.new_page()
        watch = Watch()
        record_errors(page, watch)
        block_network(page, watch)
        t0 = time.perf_counter()
        page.goto(path.resolve().as_uri(), wait_until="load", timeout=300_000)
        page.wait_for_function(
            "() => document.querySelector('.leaflet-marker-icon')", timeout=300_000
        )
        elapsed = time.perf_counter() - t0
        drawn = page.evaluate(JS_MARKERS)
        if drawn != n:
            raise SystemExit(f"{path.name}: {drawn} markers drawn, expected {n}")
        watch.assert_clean()
        return elapsed
    finally:
        context.close()


def browser_table(sizes: list[int], runs: int, out: Path) -> None:
    """Print the load time of each size's map in Chromium (the smallest is the baseline)."""
    catalogue = load_catalogue(REPO_DATA_DIR / "services.toml")
    print(f"\nChromium, first marker drawn ({runs} runs each; load {os.getloadavg()[0]:.2f})")
    print(f"{'work orders':>12} {'median s':>9} {'p90 s':>7} {'x baseline':>11}")
    base = None
    with launch_chromium() as browser:
        for n in sorted(sizes):
            orders = synthetic_work_orders(n, catalogue, at=AT, seed=1)
            path = write_map(open_work_map(orders, catalogue, at=AT), out / f"load_{n}.html")
            times = sorted(browser_load(browser, path, n) for _ in range(runs))
            median = statistics.median(times)
            p90 = times[min(len(times) - 1, int(0.9 * len(times)))]
            base = base or median
            note = " (baseline)" if median == base else ""
            print(f"{n:>12,} {median:>9.2f} {p90:>7.2f} {median / base:>10.1f}x{note}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--baseline-max",
        type=int,
        default=10_000,
        help="largest size the per-marker baseline is run for",
    )
    parser.add_argument("--browser", action="store_true", help="also time loads in Chromium")
    parser.add_argument("--runs", type=int, default=5, help="page loads per size (--browser)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'work orders':>12} {'mode':>22} {'build+write s':>14} {'HTML MB':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            modes = ["fast"] + (["per-marker (baseline)"] if n <= args.baseline_max else [])
            for mode in modes:
                secs, size = run(n, "fast" if mode == "fast" else "markers", Path(tmp))
                print(f"{n:>12,} {mode:>22} {secs:>14.2f} {size / 1e6:>9.2f}")
        if args.browser:
            browser_table(sizes, args.runs, Path(tmp))


if __name__ == "__main__":
    main()
