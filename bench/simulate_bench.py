"""Speed of the season replay (routing.simulate.run) on the embedded 2015 data.

Prints the time to prepare the season (import, snap, one travel matrix), the 3-month
streetlight replay with the default deterministic settings (greedy descent, one worker), and a
baseline measured in the same run: guided local search with a 1 s time limit per day on the
first month (load-dependent, not reproducible), with the medians of both for quality.

Run: .venv/bin/python bench/simulate_bench.py
"""

from __future__ import annotations

import time
from datetime import date

from geo311.city.catalogue import load_catalogue
from geo311.settings import REPO_DATA_DIR
from routing.engine.crews import load_crews
from routing.simulate.run import (
    ReplayScope,
    SimulationParams,
    TravelMatrix,
    load_season,
    replay,
)

START, END, MONTH_END = date(2015, 9, 1), date(2015, 11, 30), date(2015, 9, 30)


def main() -> None:
    cat = load_catalogue(REPO_DATA_DIR / "services.toml")
    cfg = load_crews()
    t = time.perf_counter()
    season = load_season(
        start=START, end=END, groups=["streetlights"], crew_config=cfg, catalogue=cat
    )
    print(
        f"prepare season: {time.perf_counter() - t:6.2f} s  ({len(season.reports)} reports, "
        f"matrix {season.durations_s.shape[0]}x{season.durations_s.shape[1]})"
    )
    travel = TravelMatrix(season.durations_s, season.distances_m, season.yard_index)
    common = dict(travel=travel, crew_config=cfg, catalogue=cat)
    for k in (1, 2, 6):
        scope = ReplayScope("streetlights", START, END, crews=k)
        run = replay(season.reports, scope=scope, **common)  # type: ignore[arg-type]
        print(
            f"3 months, {k} crew(s), greedy descent (default): {run.wall_time_s:6.2f} s, "
            f"{len(run.days)} days, median {run.simulated.median_days:.3f} d, "
            f"utilisation {run.utilisation:.1%}"
        )
    for name, kw in (
        ("greedy descent (default)", {}),
        ("baseline GLS 1 s/day", {"metaheuristic": "GUIDED_LOCAL_SEARCH", "time_limit_s": 1.0}),
    ):
        scope = ReplayScope("streetlights", START, MONTH_END, crews=2)
        params = SimulationParams(**kw)  # type: ignore[arg-type]
        run = replay(season.reports, scope=scope, params=params, **common)  # type: ignore[arg-type]
        print(
            f"September, 2 crews, {name:<26}: {run.wall_time_s:6.2f} s, median "
            f"{run.simulated.median_days:.4f} d, p90 {run.simulated.p90_days:.4f} d, "
            f"utilisation {run.utilisation:.4%}"
        )


if __name__ == "__main__":
    main()
