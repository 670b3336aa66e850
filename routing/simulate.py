"""Planner's what-if: replay a season of 311 reports with K crews and compare with the City.

:func:`run_simulation` replays the embedded Boston 2015 reports that lie inside the street
extract (snappable to the graph within its snap limit), in time order, entirely in memory:

* reports arrive at their historical ``requested_datetime`` and are merged into work orders with
  the anchor rule of :mod:`geo311.workorders` (same radius, same tie-breaks, through
  :func:`geo311._cluster.choose_work_order`); a work order is open until the simulated crew
  repairs it, and a report arriving before that joins it and is repaired with it;
* every working morning (Monday-Friday at ``plan_time``, default 07:00 local) the open work orders
  become one routing problem (a job per work order at its anchor's street point; on-site time,
  skill and load from the catalogue; priority from the SLA due time) solved by
  :func:`routing.solve.solve`; a job is repaired at its planned service end, unserved work waits
  for the next morning;
* ``Pothole Repair (Internal)`` reports (crews logging their own repairs, opened and closed
  within seconds) are not citizen demand and are left out; the City's closures are ignored
  (the simulated crews do the repairs) except to report the City's actual figures for the same
  reports side by side.

Simplifications (written into every result's ``notes``): the replay starts with an empty
backlog; after the last day of the season it keeps running (with historical arrivals) until
every measured report is repaired or ``drain_days`` calendar days have passed, and a report still
open then counts as never repaired; public holidays are working days; a report joining a work
order after the morning does not lengthen that day's on-site time.

Determinism and speed: each day is solved with one worker and ``metaheuristic="NONE"``
(cheapest insertion, then greedy local search down to a local optimum, where the search stops by
itself), so the plan depends only on the problem and the seed, never on machine load; the time
limit (default 10 s per day) is only a safety net, and ``SimulationResult.notes`` says if a day
ever hit it. One caveat, measured: OR-Tools breaks *exact* objective ties (two plans of equal
travel in milliseconds) differently from one process to the next, so a replay whose days have
such ties can differ between processes; on real street travel times these ties are rare (two
3-month sweeps in separate processes gave identical tables). Guided local search never stops on its own and, measured on September 2015
streetlights, even with ``solution_limit=20`` often ran into a 30 s limit on 5-job days
(190 s for the month) for the same median as greedy descent (0.06 s for the month). The travel
matrix is computed once per run over the yards and every distinct snapped report point; each
day's matrix is a sub-matrix of it. Numbers: ``bench/simulate_bench.py``.
"""

from __future__ import annotations

import math
import tempfile
import time as _time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from geo311.catalogue import Catalogue, load_catalogue
from geo311.errors import ConfigurationError, InputError
from geo311.settings import REPO_DATA_DIR
from routing._simulate_core import (
    DayLog,
    ReplayOutput,
    SimReport,
    quantile,
    replay_core,
    working_days,
)
from routing.crews import CrewConfig, CrewSpec, load_crews

__all__ = [
    "DEFAULT_TARGET_MEDIAN_DAYS",
    "INTERNAL_POTHOLE_TYPE",
    "DayLog",
    "GroupResult",
    "OutcomeStats",
    "RunResult",
    "SimReport",
    "SimulationResult",
    "load_season",
    "replay",
    "run_simulation",
]

INTERNAL_POTHOLE_TYPE = "Pothole Repair (Internal)"
DEFAULT_TARGET_MEDIAN_DAYS = {"potholes": 0.6, "streetlights": 7.0}
GROUPS = ("potholes", "streetlights")
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class OutcomeStats:
    """Distribution of days from report to repair (or closure) of a set of reports.

    Attributes
    ----------
    reports : int
        Number of reports.
    repaired : int
        Reports repaired (closed) at all.
    median_days, p90_days : float
        Median and 90th percentile of days to repair; ``inf`` when more than half (resp. 10 %)
        were never repaired, ``nan`` for no reports.
    within_sla : float
        Share of reports repaired by their SLA due time (0..1; ``nan`` for no reports).
    days : tuple of float
        Days to repair of every report (``inf``: never repaired), for plots.
    """

    reports: int
    repaired: int
    median_days: float
    p90_days: float
    within_sla: float
    days: tuple[float, ...] = ()

    @classmethod
    def of(cls, days: Sequence[float], within: Sequence[bool]) -> OutcomeStats:
        """Summarise days to repair and SLA flags.

        Parameters
        ----------
        days : sequence of float
            Days to repair per report (``inf`` when never repaired).
        within : sequence of bool
            Whether each report was repaired by its SLA due time.

        Returns
        -------
        OutcomeStats
        """
        arr = np.asarray(days, dtype=float)
        n = int(arr.size)
        return cls(
            reports=n,
            repaired=int(np.isfinite(arr).sum()),
            median_days=quantile(arr, 0.5),
            p90_days=quantile(arr, 0.9),
            within_sla=float(np.mean(np.asarray(within, dtype=bool))) if n else math.nan,
            days=tuple(float(x) for x in arr),
        )

    def to_dict(self, *, with_days: bool = False) -> dict[str, Any]:
        """Return JSON-friendly data (``inf``/``nan`` become ``None``)."""
        out: dict[str, Any] = {
            "reports": self.reports,
            "repaired": self.repaired,
            "median_days": _num(self.median_days),
            "p90_days": _num(self.p90_days),
            "within_sla": _num(self.within_sla),
        }
        if with_days:
            out["days"] = [_num(d) for d in self.days]
        return out


@dataclass(frozen=True, slots=True)
class RunResult:
    """One replay of one service group with ``crews`` crews.

    Attributes
    ----------
    crews : int
        Number of crews.
    crew_ids : tuple of str
        Their ids.
    simulated : OutcomeStats
        Days to repair of the measured reports in the replay.
    utilisation : float
        Busy crew time (driving + on site) over crew time available (shift minus breaks), over
        every simulated working day.
    work_orders : int
        Work orders the measured reports formed.
    days : tuple of DayLog
        Every simulated working day (backlog, repairs, solver time).
    repaired_at : dict of str to datetime or None
        Simulated repair time of every measured report.
    wall_time_s : float
        Wall-clock time of the replay.
    """

    crews: int
    crew_ids: tuple[str, ...]
    simulated: OutcomeStats
    utilisation: float
    work_orders: int
    days: tuple[DayLog, ...]
    repaired_at: dict[str, datetime | None]
    wall_time_s: float

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-friendly data."""
        return {
            "crews": self.crews,
            "crew_ids": list(self.crew_ids),
            "simulated": self.simulated.to_dict(),
            "utilisation": _num(self.utilisation),
            "work_orders": self.work_orders,
            "wall_time_s": round(self.wall_time_s, 3),
            "days_hit_time_limit": sum(d.hit_time_limit for d in self.days),
            "backlog": [
                {
                    "day": d.day.isoformat(),
                    "open_work_orders": d.open_work_orders,
                    "open_reports": d.open_reports,
                    "served": d.served,
                    "busy_h": round(d.busy_s / 3600.0, 3),
                    "available_h": round(d.available_s / 3600.0, 3),
                }
                for d in self.days
            ],
        }


@dataclass(frozen=True, slots=True)
class GroupResult:
    """Simulated and actual outcomes of one service group.

    Attributes
    ----------
    group : str
        ``potholes`` or ``streetlights``.
    actual : OutcomeStats
        The City's figures for the same reports (``CLOSED_DT - OPEN_DT``; within ``TARGET_DT``).
    runs : tuple of RunResult
        One replay per crew count (several with a sweep).
    target_median_days : float
        Median days to repair the planner aims for.
    smallest_crews : int or None
        The smallest crew count whose simulated median meets the target (``None``: none did).
    actual_backlog : tuple of (date, int)
        Reports the City still had open at each working morning of the season.
    """

    group: str
    actual: OutcomeStats
    runs: tuple[RunResult, ...]
    target_median_days: float
    smallest_crews: int | None
    actual_backlog: tuple[tuple[date, int], ...] = ()

    def run(self, crews: int) -> RunResult:
        """Return the replay with ``crews`` crews.

        Raises
        ------
        InputError
            When no replay used that many crews.
        """
        for r in self.runs:
            if r.crews == crews:
                return r
        raise InputError(
            f"no replay of {self.group} with {crews} crews; ran {[r.crews for r in self.runs]}",
            field="crews",
        )

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-friendly data."""
        return {
            "group": self.group,
            "actual": self.actual.to_dict(),
            "runs": [r.to_dict() for r in self.runs],
            "target_median_days": self.target_median_days,
            "smallest_crews": self.smallest_crews,
            "actual_backlog": [
                {"day": d.isoformat(), "open_reports": n} for d, n in self.actual_backlog
            ],
        }


@dataclass(frozen=True)
class SimulationResult:
    """Everything a planner sees from :func:`run_simulation`.

    Attributes
    ----------
    start, end : date
        The season (reports made from ``start`` 00:00 to ``end`` 24:00 local are measured).
    groups : dict of str to GroupResult
        Per service group.
    settings : dict
        Seed, solver limits, crew file, plan time, drain days.
    notes : tuple of str
        What was left out and why, and the simplifications of the model.
    """

    start: date
    end: date
    groups: dict[str, GroupResult]
    settings: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-friendly data (no per-report lists)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "groups": {g: r.to_dict() for g, r in self.groups.items()},
            "settings": dict(self.settings),
            "notes": list(self.notes),
        }

    def table(self) -> str:
        """Return a plain-text table: per group and crew count, simulated vs actual."""
        lines = [
            f"{'group':<13}{'crews':>6}{'reports':>8}{'median d':>10}{'p90 d':>9}"
            f"{'in SLA':>8}{'util':>7}"
        ]
        for g, gr in self.groups.items():
            a = gr.actual
            lines.append(
                f"{g:<13}{'City':>6}{a.reports:>8}{_fmt(a.median_days):>10}"
                f"{_fmt(a.p90_days):>9}{_pct(a.within_sla):>8}{'':>7}"
            )
            for r in gr.runs:
                s = r.simulated
                mark = " *" if gr.smallest_crews == r.crews else ""
                lines.append(
                    f"{g:<13}{r.crews:>6}{s.reports:>8}{_fmt(s.median_days):>10}"
                    f"{_fmt(s.p90_days):>9}{_pct(s.within_sla):>8}{_pct(r.utilisation):>7}{mark}"
                )
            target = f"target median <= {gr.target_median_days:g} days: "
            if gr.actual.reports == 0:
                verdict = "no reports of this group to replay in the season and extract"
            elif gr.smallest_crews is not None:
                verdict = f"smallest crew count meeting it = {gr.smallest_crews} (*)"
            else:
                verdict = "no crew count tried meets it"
            lines.append(target + verdict)
        return "\n".join(lines)


def _num(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def _fmt(x: float) -> str:
    return "-" if math.isnan(x) else ("never" if math.isinf(x) else f"{x:.2f}")


def _pct(x: float) -> str:
    return "-" if math.isnan(x) else f"{100 * x:.0f}%"


def _crews_of(config: CrewConfig, skill: str, count: int | None) -> list[CrewSpec]:
    having = [c for c in config.crews if skill in c.skills]
    if not having:
        raise ConfigurationError(
            f"crew file {config.source} has no crew with skill {skill!r}; add one "
            f"(e.g. [crews.x] skills = [{skill!r}])",
            field="crews",
        )
    if count is None:
        return having
    if count < 1:
        raise InputError(f"crew count {count} must be at least 1", field="crews")
    base = having[0]
    return [
        replace(base, id=f"{base.id}#{k + 1}", label=f"{base.label} #{k + 1}") for k in range(count)
    ]


def replay(
    reports: Sequence[SimReport],
    *,
    durations_s: np.ndarray,
    distances_m: np.ndarray | None = None,
    yard_index: dict[str, int],
    crew_config: CrewConfig,
    group: str,
    start: date,
    end: date,
    crews: int | None = None,
    catalogue: Catalogue | None = None,
    plan_time: time = time(7, 0),
    drain_days: int = 21,
    time_limit_s: float = 10.0,
    seed: int = 0,
    solution_limit: int | None = None,
    metaheuristic: str = "NONE",
) -> RunResult:
    """Replay reports of one service group with given travel times (no street graph needed).

    Parameters
    ----------
    reports : sequence of SimReport
        Reports of the group (any order); those requested from ``start`` to ``end`` (local
        dates, inclusive) are measured, later ones only add load.
    durations_s : numpy.ndarray
        Square travel-time matrix (seconds) over location indices (yards and report points).
    distances_m : numpy.ndarray, optional
        Travel distances (metres), same shape; default the durations.
    yard_index : dict of str to int
        Matrix index of every yard of ``crew_config``.
    crew_config : CrewConfig
        Yards, and crews from which the group's crews are taken.
    group : str
        Service group (its catalogue skill picks the crews).
    start, end : date
        The measured season.
    crews : int, optional
        Use this many copies of the file's first crew with the group's skill; default every
        crew of the file with that skill.
    catalogue : Catalogue, optional
        Services (on-site time, skill, load, radius); default ``data/services.toml``.
    plan_time : datetime.time
        Local clock time of the morning plan.
    drain_days : int
        Calendar days after ``end`` the replay may go on until every measured report is repaired.
    time_limit_s : float
        Solver safety time limit per day (seconds).
    seed : int
        Solver seed.
    solution_limit : int, optional
        Stop each day's search after this many solutions (default: none, greedy descent stops
        by itself).
    metaheuristic : str
        OR-Tools metaheuristic per day; ``NONE`` (default) is deterministic and fast.

    Returns
    -------
    RunResult
        Simulated outcome of the measured reports, utilisation and the daily log.

    Raises
    ------
    InputError
        When the dates, matrix or group are invalid.
    ConfigurationError
        When the crew file has no crew for the group.
    """
    cat = catalogue or load_catalogue(REPO_DATA_DIR / "services.toml")
    if end < start:
        raise InputError(f"end {end} is before start {start}; swap the dates", field="end")
    if drain_days < 0:
        raise InputError(f"drain_days={drain_days} must be >= 0", field="drain_days")
    skills = {s.skill for s in cat.services_in_group(group)}
    if len(skills) != 1:
        raise InputError(
            f"service group {group!r} has skills {sorted(skills)}; pick one of "
            f"{sorted({s.group for s in cat.services.values()})} whose services share one skill",
            field="group",
        )
    d = np.asarray(durations_s, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise InputError(f"durations_s must be square, got shape {d.shape}", field="durations_s")
    specs = _crews_of(crew_config, skills.pop(), crews)
    tz = crew_config.tz
    lo = datetime.combine(start, time(0), tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    stop = hi + timedelta(days=drain_days)
    mine = sorted(
        (
            r
            for r in reports
            if cat.service(r.service_code).group == group and lo <= r.requested < stop
        ),
        key=lambda r: (r.requested, r.id),
    )
    measured = [i for i, r in enumerate(mine) if r.requested < hi]
    days = working_days(start, end + timedelta(days=drain_days))
    n_season = len(working_days(start, end))
    t0 = _time.perf_counter()
    out: ReplayOutput = replay_core(
        mine,
        durations_s=d,
        distances_m=None if distances_m is None else np.asarray(distances_m, dtype=float),
        yard_index=yard_index,
        crew_config=crew_config,
        crews=specs,
        catalogue=cat,
        days=days,
        plan_time=plan_time,
        time_limit_s=time_limit_s,
        seed=seed,
        solution_limit=solution_limit,
        metaheuristic=metaheuristic,
        min_days=n_season,
        until_repaired=measured,
    )
    wall = _time.perf_counter() - t0
    day_list: list[float] = []
    within: list[bool] = []
    repaired_at: dict[str, datetime | None] = {}
    for i in measured:
        r = mine[i]
        when = out.repaired[i]
        repaired_at[r.id] = when
        day_list.append(math.inf if when is None else (when - r.requested).total_seconds() / DAY_S)
        within.append(when is not None and when <= r.sla_due)
    busy = sum(x.busy_s for x in out.days)
    avail = sum(x.available_s for x in out.days)
    return RunResult(
        crews=len(specs),
        crew_ids=tuple(c.id for c in specs),
        simulated=OutcomeStats.of(day_list, within),
        utilisation=busy / avail if avail > 0 else math.nan,
        work_orders=len({out.work_order_of[i] for i in measured}),
        days=tuple(out.days),
        repaired_at=repaired_at,
        wall_time_s=wall,
    )


def actual_outcomes(reports: Iterable[SimReport]) -> OutcomeStats:
    """Return the City's figures: days from report to ``CLOSED_DT`` and closure by ``TARGET_DT``.

    Parameters
    ----------
    reports : iterable of SimReport
        The reports (``actual_closed`` None: never closed).

    Returns
    -------
    OutcomeStats
    """
    days: list[float] = []
    within: list[bool] = []
    for r in reports:
        c = r.actual_closed
        days.append(math.inf if c is None else max(0.0, (c - r.requested).total_seconds()) / DAY_S)
        within.append(c is not None and c <= r.sla_due)
    return OutcomeStats.of(days, within)


@dataclass(frozen=True)
class Season:
    """Reports ready to replay, with the travel matrix over their street points.

    Attributes
    ----------
    reports : tuple of SimReport
        Replayable reports (location index into the matrix).
    durations_s, distances_m : numpy.ndarray
        Travel matrix over yards and report points.
    yard_index : dict of str to int
        Matrix index of every yard.
    notes : tuple of str
        What was left out and why.
    """

    reports: tuple[SimReport, ...]
    durations_s: np.ndarray
    distances_m: np.ndarray
    yard_index: dict[str, int]
    notes: tuple[str, ...] = ()


def load_season(
    *,
    start: date,
    end: date,
    groups: Sequence[str],
    crew_config: CrewConfig,
    catalogue: Catalogue,
    data_file: str | Path | None = None,
    graph: Any = None,
) -> Season:
    """Read the embedded 2015 reports and prepare them for replay.

    Imports the Boston export into a temporary SQLite store with :func:`geo311.ingest.import_file`,
    keeps the groups' reports made from ``start`` to ``end`` (plus the drain period, 60 days),
    drops ``Pothole Repair (Internal)`` and reports without a location, snaps the rest to the
    street graph (those beyond its snap limit lie outside the extract and are dropped) and
    computes one travel matrix over the yards and every snapped report point.

    Parameters
    ----------
    start, end : date
        The season.
    groups : sequence of str
        Service groups to keep.
    crew_config : CrewConfig
        Its yards are snapped too.
    catalogue : Catalogue
        Services.
    data_file : str or Path, optional
        A Boston CSV export; default the embedded 2015 file.
    graph : StreetGraph, optional
        Default :func:`routing.graph.load_street_graph` (the embedded extract).

    Returns
    -------
    Season
    """
    from geo311.ingest import import_file
    from geo311.store import Store
    from routing.graph import SnapError, load_street_graph
    from routing.matrix import travel_time_matrix

    g = graph if graph is not None else load_street_graph()
    path = (
        Path(data_file)
        if data_file is not None
        else REPO_DATA_DIR / "boston311" / ("boston311_2015_streetlights_potholes.csv.gz")
    )
    tz = crew_config.tz
    lo = datetime.combine(start, time(0), tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=61), time(0), tzinfo=tz)
    with tempfile.TemporaryDirectory(prefix="geo311-sim-") as tmp:
        store = Store(f"sqlite:///{tmp}/season.db")
        try:
            import_file(
                store,
                path,
                catalogue,
                timezone=crew_config.timezone,
                rejects_path=Path(tmp) / "rejects.csv",
            )
            reqs = store.query_requests(start=lo, end=hi)
        finally:
            store.close()
    notes: list[str] = []
    keep = [r for r in reqs if catalogue.service(r.service_code).group in groups]
    internal = [r for r in keep if r.source_type == INTERNAL_POTHOLE_TYPE]
    keep = [r for r in keep if r.source_type != INTERNAL_POTHOLE_TYPE]
    notes.append(
        f"left out {len(internal)} '{INTERNAL_POTHOLE_TYPE}' reports: crews logging their own "
        "repairs, not citizen demand"
    )
    no_loc = [r for r in keep if r.lat is None or r.long is None]
    keep = [r for r in keep if r.lat is not None and r.long is not None]
    notes.append(
        f"left out {len(no_loc)} reports without a location (City Hall placeholder, not geocoded)"
    )
    lats = [float(r.lat) for r in keep if r.lat is not None]
    lons = [float(r.long) for r in keep if r.long is not None]
    far: set[int] = set()
    try:
        g.snap_many(lats, lons)
    except SnapError as exc:
        far = set(exc.indices)
    inside = [r for k, r in enumerate(keep) if k not in far]
    notes.append(
        f"left out {len(far)} reports outside the street extract (farther than "
        f"{g.max_snap_distance_m:g} m from its streets); {len(inside)} replayable"
    )
    snaps = g.snap_many([y.lat for y in crew_config.yards], [y.lon for y in crew_config.yards])
    pts = g.snap_many([float(r.lat) for r in inside], [float(r.long) for r in inside])  # type: ignore[arg-type]
    # one matrix row per distinct street point
    key_of: dict[tuple[int, float], int] = {}
    uniq = list(snaps)
    loc: list[int] = []
    for s in pts:
        k = (s.edge, round(s.fraction, 9))
        if k not in key_of:
            key_of[k] = len(uniq)
            uniq.append(s)
        loc.append(key_of[k])
    m = travel_time_matrix(g, uniq)
    reports = tuple(
        SimReport(
            id=r.service_request_id,
            service_code=r.service_code,
            requested=r.requested_datetime,
            lat=float(r.lat),  # type: ignore[arg-type]
            lon=float(r.long),  # type: ignore[arg-type]
            location_index=loc[k],
            sla_due=r.expected_datetime
            or (r.requested_datetime + catalogue.service(r.service_code).sla),
            actual_closed=r.closed_datetime,
        )
        for k, r in enumerate(inside)
    )
    return Season(
        reports=reports,
        durations_s=m.durations_s,
        distances_m=m.distances_m,
        yard_index={y.id: i for i, y in enumerate(crew_config.yards)},
        notes=tuple(notes),
    )


def _actual_backlog(
    reports: Sequence[SimReport], days: Sequence[date], plan_time: time, tz: Any
) -> tuple[tuple[date, int], ...]:
    out = []
    for d in days:
        t = datetime.combine(d, plan_time, tzinfo=tz)
        n = sum(
            1
            for r in reports
            if r.requested <= t and (r.actual_closed is None or r.actual_closed > t)
        )
        out.append((d, n))
    return tuple(out)


def run_simulation(
    *,
    start: date,
    end: date,
    crews_file: str | Path | None = None,
    service: str | None = None,
    crews: int | None = None,
    crews_sweep: Sequence[int] | None = None,
    target_median_days: float | None = None,
    time_limit_s: float = 10.0,
    solution_limit: int | None = None,
    metaheuristic: str = "NONE",
    seed: int = 0,
    plan_time: time = time(7, 0),
    drain_days: int = 21,
    catalogue: Catalogue | None = None,
    data_file: str | Path | None = None,
    graph: Any = None,
    season: Season | None = None,
) -> SimulationResult:
    """Replay the embedded 2015 season with K crews per service group and compare with the City.

    Parameters
    ----------
    start, end : date
        The season (local dates, inclusive), e.g. 2015-09-01 .. 2015-11-30.
    crews_file : str or Path, optional
        Crew file (yards, crews); default ``data/crews.toml``.
    service : str, optional
        ``potholes`` or ``streetlights``; default both.
    crews : int, optional
        Crews per group (copies of the file's first crew with the group's skill); default every
        crew in the file with that skill.
    crews_sweep : sequence of int, optional
        Replay once per crew count (e.g. ``range(1, 7)``); overrides ``crews``.
    target_median_days : float, optional
        Target median days to repair; default 0.6 for potholes, 7 for streetlights.
    time_limit_s : float
        Solver safety time limit per day.
    solution_limit : int, optional
        Stop each day's search after this many solutions (default none).
    metaheuristic : str
        OR-Tools metaheuristic per day (default ``NONE``: greedy descent, deterministic).
    seed : int
        Solver seed.
    plan_time : datetime.time
        Local time of the morning plan (default 07:00).
    drain_days : int
        Calendar days after ``end`` to keep replaying until every measured report is repaired.
    catalogue : Catalogue, optional
        Default ``data/services.toml``.
    data_file : str or Path, optional
        Boston CSV export; default the embedded 2015 file.
    graph : StreetGraph, optional
        Default the embedded street extract.
    season : Season, optional
        A season prepared by :func:`load_season` (skips loading; for repeated runs).

    Returns
    -------
    SimulationResult
        Per group: simulated and actual outcomes, utilisation, backlog, sweep and smallest K.

    Raises
    ------
    InputError
        When an argument is out of range.
    ConfigurationError
        When the crew file is invalid or lacks a crew for a group.
    """
    cat = catalogue or load_catalogue(REPO_DATA_DIR / "services.toml")
    if end < start:
        raise InputError(f"end {end} is before start {start}; swap the dates", field="end")
    groups = list(GROUPS) if service is None else [service]
    for g in groups:
        if g not in GROUPS:
            raise InputError(
                f"service {g!r} is unknown; use one of {list(GROUPS)}", field="service"
            )
    if not time_limit_s > 0:
        raise InputError(f"time_limit_s={time_limit_s} must be > 0", field="time_limit_s")
    if solution_limit is not None and solution_limit < 1:
        raise InputError(f"solution_limit={solution_limit} must be >= 1", field="solution_limit")
    counts: list[int | None]
    if crews_sweep is not None:
        wanted = sorted({int(k) for k in crews_sweep})
        if not wanted or wanted[0] < 1:
            raise InputError(
                f"crews_sweep {list(crews_sweep)} must list crew counts >= 1 (e.g. 1..6)",
                field="crews_sweep",
            )
        counts = list(wanted)
    else:
        counts = [crews]
    config = load_crews(crews_file)
    ssn = season or load_season(
        start=start,
        end=end,
        groups=groups,
        crew_config=config,
        catalogue=cat,
        data_file=data_file,
        graph=graph,
    )
    tz = config.tz
    lo = datetime.combine(start, time(0), tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    season_days = working_days(start, end)
    out: dict[str, GroupResult] = {}
    notes = list(ssn.notes)
    for g in groups:
        mine = [r for r in ssn.reports if cat.service(r.service_code).group == g]
        measured = [r for r in mine if lo <= r.requested < hi]
        runs = [
            replay(
                mine,
                durations_s=ssn.durations_s,
                distances_m=ssn.distances_m,
                yard_index=ssn.yard_index,
                crew_config=config,
                group=g,
                start=start,
                end=end,
                crews=k,
                catalogue=cat,
                plan_time=plan_time,
                drain_days=drain_days,
                time_limit_s=time_limit_s,
                seed=seed,
                solution_limit=solution_limit,
                metaheuristic=metaheuristic,
            )
            for k in counts
        ]
        target = (
            target_median_days if target_median_days is not None else DEFAULT_TARGET_MEDIAN_DAYS[g]
        )
        meeting = [r.crews for r in runs if r.simulated.median_days <= target]
        out[g] = GroupResult(
            group=g,
            actual=actual_outcomes(measured),
            runs=tuple(runs),
            target_median_days=target,
            smallest_crews=min(meeting) if meeting else None,
            actual_backlog=_actual_backlog(mine, season_days, plan_time, tz),
        )
        hits = sum(d.hit_time_limit for r in runs for d in r.days)
        if hits:
            notes.append(
                f"{g}: {hits} day(s) stopped at the solver time limit ({time_limit_s:g} s) "
                "; raise time_limit_s for numbers that repeat exactly"
            )
    notes += [
        "the replay starts with an empty backlog on the first day",
        f"after {end} the replay goes on with the historical arrivals for up to {drain_days} "
        "days until every measured report is repaired; a report still open then counts as "
        "never repaired",
        "a work order is driven to its first report's street point; holidays are working days",
        "City figures: CLOSED_DT - OPEN_DT of the same reports, within SLA = closed by TARGET_DT "
        "(the City's closures include duplicates and invalid reports)",
    ]
    return SimulationResult(
        start=start,
        end=end,
        groups=out,
        settings={
            "crews_file": config.source,
            "crew_counts": [r.crews for r in next(iter(out.values())).runs],
            "seed": seed,
            "time_limit_s": time_limit_s,
            "solution_limit": solution_limit,
            "metaheuristic": metaheuristic,
            "plan_time": plan_time.isoformat(timespec="minutes"),
            "drain_days": drain_days,
            "workers": 1,
        },
        notes=tuple(notes),
    )
