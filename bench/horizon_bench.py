"""A week's horizon against one-day planning: five weeks of 2015 replayed, both ways, same run.

Replays the embedded 2015 reports inside the street extract (routing.simulate.run.replay: reports
arrive at their historical times, every working morning the open work orders are planned and
the planned work is repaired) for five weeks, once with today's one-day planning (priorities
from the SLA: overdue, due today, due tomorrow, later) as the baseline and once with the week's
horizon (routing.dispatch.horizon: the next working days as capacity buckets per crew, today's
priorities raised to the day the horizon gives each job). Both runs share the season, the crews
and the deterministic solver settings (greedy descent, one worker), so the difference is the
horizon's. Printed per service group and crew count: reports, share late (repaired after the
due time, or open at the end of the replay and past due by then), reports still open at the
end, SLA lateness (mean and total days past the due time, a report never repaired counts until
the end of the replay), median days to repair and crew driving hours; with the load average.

Run: PYTHONPATH=$PWD .venv/bin/python bench/horizon_bench.py [--groups streetlights]
     [--crews 1 2] [--hours 0 3 2 1.5 1] [--days 5] [--start 2015-09-07] [--weeks 5]

The embedded extract holds about five streetlight reports a working day and no citizen pothole
reports in these weeks, so one crew on the crew file's shift keeps up either way; ``--hours``
gives each crew fewer hours a day for the group (no breaks) to put the backlog over a day;
at 1.5 and 1 hour the week cannot hold the work (overload), where the horizon must still not
be worse than one-day planning.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from geo311.city.catalogue import load_catalogue
from geo311.settings import REPO_DATA_DIR
from routing.dispatch.horizon import horizon_days, horizon_problem, plan_horizon
from routing.engine.crews import CrewConfig, load_crews
from routing.engine.problem import Problem
from routing.simulate.run import (
    ReplayScope,
    RunResult,
    SimReport,
    SimulationParams,
    TravelMatrix,
    load_season,
    replay,
)

DAY_S = 86400.0


def horizon_of(days: int):
    """Return the replay's ``prepare``: today's problem with the horizon's priorities."""

    def prepare(problem: Problem) -> Problem:
        hz = plan_horizon(problem, days=horizon_days(problem.origin.date(), days))
        return horizon_problem(problem, hz)

    return prepare


def short_shifts(cfg: CrewConfig, hours: float | None) -> CrewConfig:
    """Return the crews with ``hours`` of work a day for this group (no breaks); None: as filed."""
    if hours is None:
        return cfg
    crews = []
    for c in cfg.crews:
        end = datetime.combine(date(2015, 1, 1), c.shift_start) + timedelta(hours=hours)
        crews.append(replace(c, shift_end=end.time(), breaks=()))
    return replace(cfg, crews=tuple(crews))


@dataclass(frozen=True)
class Lateness:
    """SLA lateness of a replay's measured reports.

    ``late`` counts reports repaired after their due time, or still open at the end of the
    replay and past due by then; ``open_at_end`` every report never repaired (some of them not
    due yet when the replay ends: open, not late). ``total_days`` sums the days past due (an
    open report until the end).
    """

    reports: int
    late: int
    open_at_end: int
    total_days: float

    @property
    def mean_days(self) -> float:
        """Return the mean days late over all measured reports."""
        return self.total_days / self.reports if self.reports else 0.0


def lateness(run: RunResult, reports: Sequence[SimReport], end: datetime) -> Lateness:
    """Return the lateness of a replay's measured reports, open ones counted until ``end``."""
    due = {r.id: r.sla_due for r in reports}
    late, still_open, total = 0, 0, 0.0
    for rid, when in run.repaired_at.items():
        past = ((when or end) - due[rid]).total_seconds() / DAY_S
        still_open += when is None
        if past > 0:
            late += 1
            total += past
    return Lateness(len(run.repaired_at), late, still_open, total)


def row(name: str, run: RunResult, reports: Sequence[SimReport], end: datetime) -> str:
    lt = lateness(run, reports, end)
    n = lt.reports
    drive_h = sum(d.travel_s for d in run.days) / 3600.0
    return (
        f"  {name:<18} reports {n:4d}  late {lt.late:4d} ({lt.late / max(n, 1):6.1%})  "
        f"open at end {lt.open_at_end:4d}  lateness mean {lt.mean_days:6.3f} d "
        f"total {lt.total_days:8.2f} d  median {run.simulated.median_days:6.2f} d"
        f"  driving {drive_h:7.2f} h  days {len(run.days):3d}  wall {run.wall_time_s:6.2f} s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", nargs="+", default=["streetlights"])
    ap.add_argument("--crews", nargs="+", type=int, default=[1])
    ap.add_argument("--days", type=int, default=5, help="working days in the horizon")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2015, 9, 7))
    ap.add_argument("--weeks", type=int, default=5)
    ap.add_argument(
        "--hours", nargs="+", type=float, default=[0.0, 3.0, 2.0, 1.5, 1.0],
        help="hours a day each crew gives the group (0: the crew file's shift)",
    )  # fmt: skip
    args = ap.parse_args()
    start = args.start
    end = start + timedelta(weeks=args.weeks) - timedelta(days=3)  # the fifth week's Friday
    cat = load_catalogue(REPO_DATA_DIR / "services.toml")
    cfg = load_crews()
    t = time.perf_counter()
    season = load_season(start=start, end=end, groups=args.groups, crew_config=cfg, catalogue=cat)
    print(f"season {start}..{end} ({args.weeks} weeks): {len(season.reports)} reports, "
          f"prepared in {time.perf_counter() - t:.1f} s; horizon {args.days} working days")  # fmt: skip
    print(f"load average at start: {os.getloadavg()}")
    for group in args.groups:
        for k, hours in [(k, h) for k in args.crews for h in args.hours]:
            crews = short_shifts(cfg, hours or None)
            common = dict(
                travel=TravelMatrix(season.durations_s, season.distances_m, season.yard_index),
                crew_config=crews, catalogue=cat, scope=ReplayScope(group, start, end, crews=k),
            )  # fmt: skip
            base = replay(season.reports, **common)  # type: ignore[arg-type]
            hz = replay(season.reports, params=SimulationParams(prepare=horizon_of(args.days)), **common)  # type: ignore[arg-type]  # fmt: skip
            stop = datetime.combine(
                max(base.days[-1].day, hz.days[-1].day) + timedelta(days=1), datetime.min.time(),
                tzinfo=cfg.tz,
            )  # fmt: skip
            shift = f"{hours:g} h a day" if hours else "shift of the crew file"
            print(f"{group}, {k} crew(s), {shift}:")
            print(row("one-day (baseline)", base, season.reports, stop))
            print(row(f"horizon {args.days} days", hz, season.reports, stop))
            print(f"  load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
