"""The planner dashboard on the demo data (15,409 requests of 2015): what one page costs.

Imports the demo requests into a fresh SQLite store, then times (best of ``--rounds``):

* ``dashboard``: everything the page computes now (metrics by service and neighbourhood, the
  trend by week, the backlog by age, the open-work points and the Gi* hot-spot cells), with no
  filter and with one service;
* baseline, in the same run: what the page computed before (the two metrics tables and the
  backlog), and the folium hot-spot map a planner had to open on its own page before.

    .venv/bin/python bench/planner_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from api.planner.maps import render_map
from api.web import planner_charts
from api.web.planner_filters import PlannerFilters, requests_with_points
from api.web.planner_view import dashboard, filtered_metrics
from geo311.city.catalogue import load_catalogue
from geo311.db.store import Store
from geo311.ingest.importer import ImportOptions, import_file
from geo311.settings import get_settings
from geo311.workorders.grouping import rebuild_work_orders


def best(fn: Callable[[], object], rounds: int) -> float:
    """Return the fastest of ``rounds`` calls, in seconds."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    settings = get_settings()
    catalogue = load_catalogue()
    tz = ZoneInfo(settings.timezone)
    at = datetime(2015, 12, 31, 23, 0, tzinfo=tz)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        sample = settings.city.file("sample_requests")
        assert sample is not None, "the city has no sample requests (data/city.toml)"
        import_file(store, sample, catalogue, ImportOptions(rejects_path=Path(tmp) / "rejects.csv"))
        rebuild_work_orders(store, catalogue)
        city = settings.city

        def page(filters: PlannerFilters) -> Callable[[], object]:
            return lambda: dashboard(
                store, catalogue, city, requests_with_points(store), filters, at, tz
            )

        def before() -> object:
            frame = requests_with_points(store)
            for by in ("service", "neighborhood"):
                filtered_metrics(frame, by, filters=PlannerFilters(), tz=tz)
            return planner_charts.backlog_table(store, catalogue, at=at)

        page(PlannerFilters())()  # warm up: imports (esda, h3), caches
        figures = {
            "dashboard, no filter": best(page(PlannerFilters()), rounds),
            "dashboard, one service": best(page(PlannerFilters(service="pothole")), rounds),
            "baseline: the page's figures before": best(before, rounds),
            "baseline: the folium hot-spot map": best(
                lambda: render_map("hotspots", store, catalogue, settings, plan_id=None), rounds
            ),
        }
        store.close()
    load = os.getloadavg()[0]
    for name, seconds in figures.items():
        print(f"{name:<40}{seconds * 1000:>9.0f} ms   (load {load:.1f})")


if __name__ == "__main__":
    main()
