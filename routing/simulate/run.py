"""Planner's what-if: replay a season of 311 reports with K crews and compare with the City.

:func:`run_simulation` replays the embedded Boston 2015 reports that lie inside the street
extract (snappable to the graph within its snap limit), in time order, entirely in memory:

* reports arrive at their historical ``requested_datetime`` and are merged into work orders with
  the anchor rule of :mod:`geo311.workorders.grouping` (same radius, same tie-breaks, through
  :func:`geo311.workorders.clustering.choose_work_order`); a work order is open until the simulated crew
  repairs it, and a report arriving before that joins it and is repaired with it;
* every working morning (Monday-Friday at ``plan_time``, default 07:00 local) the open work orders
  become one routing problem (a job per work order at its anchor's street point; on-site time,
  skill and load from the catalogue; priority from the SLA due time) solved by
  :func:`routing.engine.solve.solve`; a job is repaired at its planned service end, unserved work waits
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
import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from geo311.city.catalogue import Catalogue, load_catalogue
from geo311.errors import ConfigurationError, InputError
from routing.engine.crews import CrewConfig, CrewSpec, load_crews
from routing.simulate.core import (
    DayLog,
    ReplayOutput,
    ReplayStop,
    SimReport,
    SimulationParams,
    TravelMatrix,
    replay_core,
    working_days,
)
from routing.simulate.result import (
    DAY_S,
    GroupResult,
    OutcomeStats,
    RunResult,
    SimulationResult,
)
from routing.simulate.season import (
    INTERNAL_POTHOLE_TYPE,
    Season,
    actual_backlog,
    actual_outcomes,
    load_season,
)

__all__ = [
    "DEFAULT_TARGET_MEDIAN_DAYS",
    "INTERNAL_POTHOLE_TYPE",
    "DayLog",
    "GroupResult",
    "OutcomeStats",
    "ReplayScope",
    "RunResult",
    "Season",
    "SimulationInputs",
    "SimulationParams",
    "Sweep",
    "TravelMatrix",
    "SimReport",
    "SimulationResult",
    "actual_outcomes",
    "load_season",
    "replay",
    "run_simulation",
]

DEFAULT_TARGET_MEDIAN_DAYS = {"potholes": 0.6, "streetlights": 7.0}
GROUPS = ("potholes", "streetlights")

# How run_simulation runs its replays: ``map_tasks(fn, {name: item}, shared=data)`` returns
# ``{name: fn(item, data)}`` (routing.distributed.strict_map runs them on a cluster).
TaskMap = Callable[..., Mapping[str, Any]]


def _map_here(
    fn: Callable[[Any, Any], Any], items: Mapping[str, Any], *, shared: Any
) -> dict[str, Any]:
    return {key: fn(item, shared) for key, item in items.items()}


@dataclass(frozen=True)
class _SweepData:
    """What every replay of a sweep needs (sent once to each worker of a cluster)."""

    season: Season
    config: CrewConfig
    catalogue: Catalogue
    start: date
    end: date
    params: SimulationParams


def _replay_task(task: tuple[str, int | None], data: _SweepData) -> RunResult:
    """Replay one (service group, crew count) of a sweep."""
    group, k = task
    cat = data.catalogue
    ssn = data.season
    return replay(
        [r for r in ssn.reports if cat.service(r.service_code).group == group],
        travel=TravelMatrix(ssn.durations_s, ssn.distances_m, ssn.yard_index),
        crew_config=data.config,
        scope=ReplayScope(group, data.start, data.end, crews=k),
        catalogue=cat,
        params=data.params,
    )


def _task_key(group: str, k: int | None) -> str:
    return f"{group} x{k if k is not None else 'file'}"


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


@dataclass(frozen=True)
class ReplayScope:
    """Which reports a replay measures and with how many crews.

    Attributes
    ----------
    group
        Service group (its catalogue skill picks the crews).
    start, end
        The measured season (local dates, inclusive).
    crews
        Use this many copies of the file's first crew with the group's skill; default every
        crew of the file with that skill.
    """

    group: str
    start: date
    end: date
    crews: int | None = None


def replay(
    reports: Sequence[SimReport],
    *,
    travel: TravelMatrix,
    crew_config: CrewConfig,
    scope: ReplayScope,
    catalogue: Catalogue | None = None,
    params: SimulationParams | None = None,
) -> RunResult:
    """Replay reports of one service group with given travel times (no street graph needed).

    Parameters
    ----------
    reports
        Reports of the group (any order); those requested from ``scope.start`` to
        ``scope.end`` (local dates, inclusive) are measured, later ones only add load.
    travel
        Travel times (and distances) over location indices, with the matrix index of every
        yard of ``crew_config``.
    crew_config
        Yards, and crews from which the group's crews are taken.
    scope
        The group, the measured season and the crew count.
    catalogue
        Services (on-site time, skill, load, radius); default ``data/services.toml``.
    params
        Morning plan time, drain days and the daily search (default
        :class:`routing.simulate.core.SimulationParams`).

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
    prm = params or SimulationParams()
    group, start, end = scope.group, scope.start, scope.end
    drain_days = prm.drain_days
    cat = catalogue or load_catalogue()
    if end < start:
        raise InputError(f"end {end} is before start {start}; swap the dates", field="end")
    if drain_days < 0:
        raise InputError(f"drain_days={drain_days} must be >= 0", field="drain_days")
    skill = _group_skill(cat, group)
    d = np.asarray(travel.durations_s, dtype=float)
    if d.ndim != 2 or d.shape[0] != d.shape[1]:
        raise InputError(f"durations_s must be square, got shape {d.shape}", field="durations_s")
    specs = _crews_of(crew_config, skill, scope.crews)
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
    t0 = _time.perf_counter()
    out = replay_core(
        mine,
        travel=TravelMatrix(
            durations_s=d,
            distances_m=None
            if travel.distances_m is None
            else np.asarray(travel.distances_m, dtype=float),
            yard_index=travel.yard_index,
        ),
        crew_config=replace(crew_config, crews=tuple(specs)),
        catalogue=cat,
        days=working_days(start, end + timedelta(days=drain_days)),
        params=prm,
        stop=ReplayStop(min_days=len(working_days(start, end)), until_repaired=measured),
    )
    return _run_result(out, mine, measured, specs, wall_time_s=_time.perf_counter() - t0)


def _group_skill(cat: Catalogue, group: str) -> str:
    """Return the one skill of a service group's services (an error when there are several)."""
    skills = {s.skill for s in cat.services_in_group(group)}
    if len(skills) != 1:
        raise InputError(
            f"service group {group!r} has skills {sorted(skills)}; pick one of "
            f"{sorted({s.group for s in cat.services.values()})} whose services share one skill",
            field="group",
        )
    return skills.pop()


def _run_result(
    out: ReplayOutput,
    mine: Sequence[SimReport],
    measured: list[int],
    specs: Sequence[CrewSpec],
    *,
    wall_time_s: float,
) -> RunResult:
    """Summarise a replay: days to repair of the measured reports, utilisation, the daily log."""
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
        wall_time_s=wall_time_s,
    )


@dataclass(frozen=True)
class Sweep:
    """What :func:`run_simulation` replays: groups, crew counts and the target.

    Attributes
    ----------
    service
        ``potholes`` or ``streetlights``; default both.
    crews
        Crews per group (copies of the file's first crew with the group's skill); default every
        crew in the file with that skill.
    crews_sweep
        Replay once per crew count (e.g. ``range(1, 7)``); overrides ``crews``.
    target_median_days
        Target median days to repair; default 0.6 for potholes, 7 for streetlights.
    """

    service: str | None = None
    crews: int | None = None
    crews_sweep: Sequence[int] | None = None
    target_median_days: float | None = None


@dataclass(frozen=True)
class SimulationInputs:
    """Where :func:`run_simulation` reads its city from (every field: default the city's).

    Attributes
    ----------
    crews_file
        Crew file (yards, crews); default ``data/crews.toml``.
    catalogue
        Default ``data/services.toml``.
    data_file
        Boston CSV export; default the embedded 2015 file.
    graph
        Default the embedded street extract.
    season
        A season prepared by :func:`load_season` (skips loading; for repeated runs).
    """

    crews_file: str | Path | None = None
    catalogue: Catalogue | None = None
    data_file: str | Path | None = None
    graph: Any = None
    season: Season | None = None


def run_simulation(
    *,
    start: date,
    end: date,
    sweep: Sweep | None = None,
    params: SimulationParams | None = None,
    inputs: SimulationInputs | None = None,
    map_tasks: TaskMap | None = None,
) -> SimulationResult:
    """Replay the embedded 2015 season with K crews per service group and compare with the City.

    Parameters
    ----------
    start, end
        The season (local dates, inclusive), e.g. 2015-09-01 .. 2015-11-30.
    sweep
        Groups, crew counts and target (default :class:`Sweep`: both groups, the file's crews).
    params
        Morning plan time, drain days and the daily search (default
        :class:`routing.simulate.core.SimulationParams`: 07:00, 21 days, greedy descent).
    inputs
        Crew file, catalogue, data file, graph or a prepared season (default the city's).
    map_tasks
        Runs the replays (one per group and crew count): ``map_tasks(fn, items, shared=data)``
        returns ``{name: fn(item, data)}``; default one after another here
        (:func:`routing.distributed.simulate_sweep` runs them on a Dask cluster).

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
    sw, prm, src = sweep or Sweep(), params or SimulationParams(), inputs or SimulationInputs()
    cat = src.catalogue or load_catalogue()
    groups, counts = _check_simulation_args(start, end, sw, prm)
    config = load_crews(src.crews_file)
    ssn = src.season or load_season(
        start=start,
        end=end,
        groups=groups,
        crew_config=config,
        catalogue=cat,
        data_file=src.data_file,
        graph=src.graph,
    )
    data = _SweepData(ssn, config, cat, start, end, prm)
    tasks = {_task_key(g, k): (g, k) for g in groups for k in counts}
    runs = (map_tasks or _map_here)(_replay_task, tasks, shared=data)
    out: dict[str, GroupResult] = {}
    notes = list(ssn.notes)
    for g in groups:
        target = (
            sw.target_median_days
            if sw.target_median_days is not None
            else DEFAULT_TARGET_MEDIAN_DAYS[g]
        )
        out[g] = _group_result(data, g, [runs[_task_key(g, k)] for k in counts], target=target)
        notes += _time_limit_notes(out[g], prm.time_limit_s)
    notes += _model_notes(end, prm.drain_days)
    return SimulationResult(
        start=start,
        end=end,
        groups=out,
        settings=_result_settings(config, out, prm),
        notes=tuple(notes),
    )


def _check_simulation_args(
    start: date, end: date, sw: Sweep, prm: SimulationParams
) -> tuple[list[str], list[int | None]]:
    """Check the arguments of :func:`run_simulation`; return the groups and crew counts."""
    service, crews, crews_sweep = sw.service, sw.crews, sw.crews_sweep
    time_limit_s, solution_limit = prm.time_limit_s, prm.solution_limit
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
    if crews_sweep is None:
        return groups, [crews]
    wanted = sorted({int(k) for k in crews_sweep})
    if not wanted or wanted[0] < 1:
        raise InputError(
            f"crews_sweep {list(crews_sweep)} must list crew counts >= 1 (e.g. 1..6)",
            field="crews_sweep",
        )
    return groups, list(wanted)


def _group_result(
    data: _SweepData, group: str, runs: list[RunResult], *, target: float
) -> GroupResult:
    """Compare one group's replays (one per crew count) with the City's figures."""
    ssn, config, catalogue = data.season, data.config, data.catalogue
    start, end, prm = data.start, data.end, data.params
    tz = config.tz
    lo = datetime.combine(start, time(0), tzinfo=tz)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    mine = [r for r in ssn.reports if catalogue.service(r.service_code).group == group]
    measured = [r for r in mine if lo <= r.requested < hi]
    meeting = [r.crews for r in runs if r.simulated.median_days <= target]
    return GroupResult(
        group=group,
        actual=actual_outcomes(measured),
        runs=tuple(runs),
        target_median_days=target,
        smallest_crews=min(meeting) if meeting else None,
        actual_backlog=actual_backlog(mine, working_days(start, end), prm.plan_time, tz),
    )


def _result_settings(
    config: CrewConfig, out: dict[str, GroupResult], prm: SimulationParams
) -> dict[str, Any]:
    """Return the settings a result records: crew file and counts, seed, solver options."""
    return {
        "crews_file": config.source,
        "crew_counts": [r.crews for r in next(iter(out.values())).runs],
        "seed": prm.seed,
        "time_limit_s": prm.time_limit_s,
        "solution_limit": prm.solution_limit,
        "metaheuristic": prm.metaheuristic,
        "plan_time": prm.plan_time.isoformat(timespec="minutes"),
        "drain_days": prm.drain_days,
        "workers": 1,
    }


def _time_limit_notes(gr: GroupResult, time_limit_s: float) -> list[str]:
    """Return a note when some days of the group's replays stopped at the solver time limit."""
    hits = sum(d.hit_time_limit for r in gr.runs for d in r.days)
    if not hits:
        return []
    return [
        f"{gr.group}: {hits} day(s) stopped at the solver time limit ({time_limit_s:g} s) "
        "; raise time_limit_s for numbers that repeat exactly"
    ]


def _model_notes(end: date, drain_days: int) -> list[str]:
    """Return the simplifications of the replay, written into every result."""
    return [
        "the replay starts with an empty backlog on the first day",
        f"after {end} the replay goes on with the historical arrivals for up to {drain_days} "
        "days until every measured report is repaired; a report still open then counts as "
        "never repaired",
        "a work order is driven to its first report's street point; holidays are working days",
        "City figures: CLOSED_DT - OPEN_DT of the same reports, within SLA = closed by TARGET_DT "
        "(the City's closures include duplicates and invalid reports)",
    ]
