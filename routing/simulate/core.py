"""The replay loop of routing.simulate.run: in-memory work orders, one routing problem per morning.

Pure in-memory: no store, no street graph. Travel comes as a global matrix over location indices
(yards and report points); each day's problem takes the sub-matrix of the yards and that day's
jobs. Clustering uses the anchor rule of :mod:`geo311.workorders.grouping` through its one-report core
:func:`geo311.workorders.clustering.choose_work_order`, with the simulated repair time as each work order's
close time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np

from geo311.city.catalogue import Catalogue
from geo311.workorders.clustering import (
    INF_TIME,
    Candidates,
    choose_work_order,
    project,
    to_micros,
)
from geo311.workorders.grouping import GroupRule, group_rules
from routing.engine.crews import CrewConfig
from routing.engine.jobs import DayClock, work_order_job
from routing.engine.plan import Plan
from routing.engine.problem import Depot, Problem
from routing.engine.solve import SolveParams, solve


@dataclass(frozen=True, slots=True)
class SimReport:
    """One report replayed by the simulation.

    Attributes
    ----------
    id : str
        ``service_request_id``.
    service_code : str
        Catalogue service code (decides group, skill, on-site time, radius).
    requested : datetime
        When it arrived (aware).
    lat, lon : float
        Its point (EPSG:4326), used by the clustering rule.
    location_index : int
        Its row/column in the global travel matrix (a work order is driven to its anchor's).
    sla_due : datetime
        SLA due time (aware).
    actual_closed : datetime or None
        When the City closed it (for the side-by-side comparison only).
    """

    id: str
    service_code: str
    requested: datetime
    lat: float
    lon: float
    location_index: int
    sla_due: datetime
    actual_closed: datetime | None = None


@dataclass
class SimWorkOrder:
    """A work order inside the replay (mutable while the replay runs)."""

    number: int
    group: str
    service_code: str
    anchor: int  # index of the anchor report
    x: float
    y: float
    members: list[int] = field(default_factory=list)
    close_us: int = INF_TIME  # planned repair time (microseconds), INF while unplanned
    repaired: datetime | None = None
    crew_id: str | None = None


@dataclass(frozen=True, slots=True)
class DayLog:
    """What happened on one simulated working day.

    Attributes
    ----------
    day : date
        The local date.
    morning : datetime
        The planning moment.
    open_work_orders, open_reports : int
        Backlog at the planning moment (before the day's work).
    served : int
        Work orders repaired that day.
    busy_s, available_s : float
        Crew time spent driving and on site, and crew time available (shift minus breaks).
    solve_time_s : float
        Wall-clock solver time.
    hit_time_limit : bool
        Whether the solver stopped at its time limit (then the day may not be reproducible).
    travel_s : float
        Crew time spent driving.
    """

    day: date
    morning: datetime
    open_work_orders: int
    open_reports: int
    served: int
    busy_s: float
    available_s: float
    solve_time_s: float
    hit_time_limit: bool
    travel_s: float = 0.0


# A day's problem -> the problem to solve (e.g. priorities from a week's horizon).
PrepareDay = Callable[[Problem], Problem]


@dataclass(frozen=True)
class SimulationParams:
    """How a replay plans each working morning and how long it goes on.

    Attributes
    ----------
    plan_time
        Local clock time of the morning plan.
    drain_days
        Calendar days after the season the replay may go on until every measured report is
        repaired.
    time_limit_s, seed, solution_limit, metaheuristic
        The daily search, as for :func:`routing.engine.solve.solve` (one worker; ``NONE``:
        greedy descent, deterministic).
    prepare
        Turns each morning's problem into the one solved (default: solved as built).
    """

    plan_time: time = time(7, 0)
    drain_days: int = 21
    time_limit_s: float = 10.0
    seed: int = 0
    solution_limit: int | None = None
    metaheuristic: str = "NONE"
    prepare: PrepareDay | None = None


@dataclass(frozen=True)
class TravelMatrix:
    """The season's travel matrices over location indices (yards and report points).

    Attributes
    ----------
    durations_s
        Square travel-time matrix (seconds).
    distances_m
        Travel distances (metres), same shape; None: the durations.
    yard_index
        Yard id -> location index.
    """

    durations_s: np.ndarray
    distances_m: np.ndarray | None
    yard_index: dict[str, int]

    @property
    def distances(self) -> np.ndarray:
        """Return the distances, or the durations when there are none."""
        return self.durations_s if self.distances_m is None else self.distances_m


@dataclass(frozen=True)
class ReplayStop:
    """When a replay may stop before its last day.

    Attributes
    ----------
    min_days
        Days replayed at least.
    until_repaired
        Report indices that must all be repaired before it stops.
    """

    min_days: int
    until_repaired: Sequence[int] = ()


@dataclass
class ReplayOutput:
    """Raw output of :func:`replay_core`: repair time per report, daily logs, work orders."""

    repaired: list[datetime | None]
    work_order_of: list[int]
    days: list[DayLog]
    work_orders: list[SimWorkOrder]


def working_days(start: date, end: date) -> list[date]:
    """Return Monday-Friday dates from ``start`` to ``end`` inclusive."""
    out = []
    d = start
    while d <= end:
        if d.weekday() < 5:
            out.append(d)
        d += timedelta(days=1)
    return out


def replay_core(
    reports: Sequence[SimReport],
    *,
    travel: TravelMatrix,
    crew_config: CrewConfig,
    catalogue: Catalogue,
    days: Sequence[date],
    params: SimulationParams,
    stop: ReplayStop | None = None,
) -> ReplayOutput:
    """Replay the reports over ``days``: each morning plan the open work, repair what is planned.

    Parameters
    ----------
    reports
        Every report of the season (any order; replayed by arrival time).
    travel
        Global travel matrices over location indices, and the yards' indices.
    crew_config
        The yards and the crews of this replay (a subset or copies of the file's crews).
    catalogue
        The service catalogue (groups, skills, on-site times, clustering radii).
    days
        Working days to plan, in order.
    params
        The morning plan's time and the daily search (``drain_days`` is not used here:
        ``days`` already covers it).
    stop
        Stop after ``stop.min_days`` days once every report of ``stop.until_repaired`` is
        repaired; default replay every day.

    Returns
    -------
    ReplayOutput
        Repair time per report, one log per planned day, the work orders.
    """
    cfg = crew_config
    state = _Replay(reports, catalogue)
    for d_i, day in enumerate(days):
        if (
            stop is not None
            and d_i >= stop.min_days
            and all(state.repaired[i] is not None for i in stop.until_repaired)
        ):
            break
        morning = datetime.combine(day, params.plan_time, tzinfo=cfg.tz)
        state.arrive_until(morning)
        m_us = to_micros(morning)
        open_wos = [w for w in state.wos if w.close_us > m_us and w.repaired is None]
        plan, problem = _plan_day(
            open_wos,
            reports,
            travel=travel,
            cfg=cfg,
            catalogue=catalogue,
            day=(day, morning),
            params=params,
        )
        served, busy = state.apply_plan(plan, problem)
        state.logs.append(
            DayLog(
                day=day,
                morning=morning,
                open_work_orders=len(open_wos),
                open_reports=sum(len(w.members) for w in open_wos),
                served=served,
                busy_s=busy,
                available_s=_available_s(problem),
                solve_time_s=plan.summary.solve_time_s,
                hit_time_limit=bool(open_wos)
                and plan.summary.solve_time_s >= 0.95 * params.time_limit_s,
                travel_s=sum(r.travel_s for r in plan.routes if r.job_ids),
            )
        )
    # reports arriving after the last morning (up to the end of the replay) still count
    if state.logs:
        last_end = datetime.combine(state.logs[-1].day + timedelta(days=1), time(0), tzinfo=cfg.tz)
        state.arrive_until(last_end)
    return ReplayOutput(
        repaired=state.repaired, work_order_of=state.wo_of, days=state.logs, work_orders=state.wos
    )


def _available_s(problem: Problem) -> float:
    """Crew time available in a day's problem: every shift minus its breaks."""
    return sum(
        c.shift.end_s - c.shift.start_s - sum(b.duration_s for b in c.breaks) for c in problem.crews
    )


class _Replay:
    """The replay's state: work orders, which report joined which, repair times, day logs."""

    def __init__(self, reports: Sequence[SimReport], catalogue: Catalogue) -> None:
        n = len(reports)
        self.reports = reports
        self.catalogue = catalogue
        self.rules: dict[str, GroupRule] = group_rules(catalogue)
        self.order = sorted(range(n), key=lambda i: (reports[i].requested, reports[i].id))
        if n:
            self.xs, self.ys = project([r.lat for r in reports], [r.lon for r in reports])
        else:
            self.xs = self.ys = np.zeros(0)
        self.wos: list[SimWorkOrder] = []
        self.open_by_group: dict[str, list[int]] = {}
        self.wo_of = [-1] * n
        self.repaired: list[datetime | None] = [None] * n
        self.logs: list[DayLog] = []
        self.pos = 0

    def arrive_until(self, limit: datetime | None) -> None:
        """Let every report requested up to ``limit`` arrive: join a work order or open one."""
        reports = self.reports
        while self.pos < len(reports) and (
            limit is None or reports[self.order[self.pos]].requested <= limit
        ):
            i = self.order[self.pos]
            self.pos += 1
            self._arrive(i)

    def _arrive(self, i: int) -> None:
        """Cluster report ``i`` by the anchor rule of its service group."""
        rep, wos = self.reports[i], self.wos
        svc = self.catalogue.service(rep.service_code)
        rule = self.rules.get(svc.group)
        t_us = to_micros(rep.requested)
        cands = self.open_by_group.setdefault(svc.group, [])
        # drop work orders repaired by now; the rest stay in opening order
        cands[:] = [w for w in cands if wos[w].close_us > t_us]
        best = -1
        x, y = float(self.xs[i]), float(self.ys[i])
        if rule is not None and cands:
            best, _ = choose_work_order(
                x,
                y,
                t_us,
                t_us,
                rule.radius_m * rule.radius_m,
                Candidates(
                    [wos[w].x for w in cands],
                    [wos[w].y for w in cands],
                    [wos[w].close_us for w in cands],
                ),
            )
        if best >= 0:
            wo = wos[cands[best]]
            wo.members.append(i)
            if wo.repaired is not None:  # joins before the planned repair: fixed with it
                self.repaired[i] = wo.repaired
        else:
            wo = SimWorkOrder(
                number=len(wos),
                group=svc.group,
                service_code=rep.service_code,
                anchor=i,
                x=x,
                y=y,
                members=[i],
            )
            wos.append(wo)
            cands.append(wo.number)
        self.wo_of[i] = wo.number

    def apply_plan(self, plan: Plan, problem: Problem) -> tuple[int, float]:
        """Repair the planned work orders at their service end; return (served, busy seconds)."""
        served = 0
        busy = 0.0
        for route in plan.routes:
            if route.job_ids:
                busy += route.travel_s + route.service_s
            for step in route.steps:
                if step.type != "job" or step.ref is None:
                    continue
                wo = self.wos[int(step.ref)]
                when = problem.clock(step.departure_s)
                wo.close_us = to_micros(when)
                wo.repaired = when
                wo.crew_id = route.crew_id
                for i in wo.members:
                    self.repaired[i] = when
                served += 1
        return served, busy


def _plan_day(
    open_wos: list[SimWorkOrder],
    reports: Sequence[SimReport],
    *,
    travel: TravelMatrix,
    cfg: CrewConfig,
    catalogue: Catalogue,
    day: tuple[date, datetime],
    params: SimulationParams,
) -> tuple[Plan, Problem]:
    """Build the morning's problem over the open work orders and solve it with one worker.

    ``day`` is the working day and its morning (the planning time).
    """
    origin = cfg.origin(day[0])
    morning = day[1]
    # local location indices: yards first (in file order), then one per job
    yard_ids = [y.id for y in cfg.yards]
    glob = [travel.yard_index[y] for y in yard_ids]
    jobs = []
    for k, wo in enumerate(open_wos):
        glob.append(reports[wo.anchor].location_index)
        jobs.append(
            work_order_job(
                work_order_id=wo.number,
                service=catalogue.service(wo.service_code),
                report_count=len(wo.members),
                sla_due=min(reports[i].sla_due for i in wo.members),
                location_index=len(yard_ids) + k,
                clock=DayClock(origin=origin, day_start=morning),
            )
        )
    idx = np.asarray(glob, dtype=np.int64)
    depots: tuple[Depot, ...] = cfg.depots({y: i for i, y in enumerate(yard_ids)}, origin=origin)
    problem = Problem(
        depots=depots,
        crews=cfg.crews_for(origin=origin),
        jobs=tuple(jobs),
        durations_s=travel.durations_s[np.ix_(idx, idx)],
        distances_m=travel.distances[np.ix_(idx, idx)],
        origin=origin,
    )
    if params.prepare is not None:
        problem = params.prepare(problem)
    plan = solve(
        problem,
        SolveParams(
            time_limit_s=params.time_limit_s,
            seed=params.seed,
            workers=1,
            solution_limit=params.solution_limit,
            metaheuristic=params.metaheuristic,
        ),
    )
    return plan, problem


def quantile(values: np.ndarray, q: float) -> float:
    """Linear quantile where ``inf`` (never repaired) counts as larger than everything."""
    if values.size == 0:
        return math.nan
    big = 1e12
    v = float(np.quantile(np.where(np.isfinite(values), values, big), q))
    return math.inf if v >= big / 2 else v
