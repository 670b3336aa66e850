"""Dispatch benchmark: the OR-Tools plan vs a naive oldest-first dispatch, same mornings, same run.

For several weekday mornings of 2015 it plans the embedded Boston data with
``routing.dispatch.plan_day`` and, on the *same* routing problem (same jobs, travel-time matrix,
shifts, lunch breaks and capacities), with a naive dispatcher: jobs oldest first; the crew that
is free earliest drives to the oldest job left; a crew stops for the day when that job no longer
fits before its shift ends (or its capacity is used up); lunch is taken when the next job would
run past the break window. Prints jobs served, crew hours, travel, distance, overdue work served,
SLA breaches implied (due before the next shift and not served) and SLA lateness (minutes past
due when the job is finished, summed over served jobs), side by side.

    .venv/bin/python bench/dispatch_bench.py [--time-limit 10] [--days 2015-09-15,...]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from geo311.city.catalogue import load_catalogue
from geo311.db.store import Store
from geo311.ingest.importer import ImportOptions, import_file
from geo311.settings import Settings
from geo311.workorders import repo as work_order_repo
from geo311.workorders.grouping import rebuild_work_orders
from routing.dispatch import DayOptions, DayPlan, default_graph, plan_day
from routing.engine.problem import PRIORITY_OVERDUE, Crew, Problem

WORK = Path(__file__).resolve().parent / "_work"
DAYS = ("2015-09-15", "2015-10-06", "2015-10-20", "2015-11-04", "2015-11-17")
TZ = ZoneInfo("America/New_York")


@dataclass
class Outcome:
    served: list[str]
    crew_hours: float
    travel_h: float
    km: float
    overdue_served: int
    breaches: int
    late_min: float


def _take_break(clock: float, crew: Crew, taken: set[str], need_until: float) -> float:
    """Take every pending break whose window would be missed by working until need_until."""
    for b in crew.breaks:
        if b.id in taken:
            continue
        w = b.windows[0]
        if need_until > w.end_s or clock >= w.start_s:
            start = max(clock, w.start_s)
            if start <= w.end_s:
                clock = start + b.duration_s
                taken.add(b.id)
    return clock


def naive(problem: Problem, day_plan: DayPlan) -> Outcome:
    d, dist = problem.durations_s, problem.distances_m
    opened = {j.id: day_plan.work_orders[j.id].opened for j in problem.jobs}
    queue = sorted(problem.jobs, key=lambda j: (opened[j.id], j.id))
    served: list[str] = []
    done_at: dict[str, float] = {}
    hours = travel = metres = 0.0
    for skill in sorted({j.skill for j in queue}):
        jobs = [j for j in queue if j.skill == skill]
        state = {}
        for c in problem.crews:
            if skill in c.skills:
                dep = problem.depot(c.start_depot)
                start = max(c.shift.start_s, dep.open_s)
                state[c.id] = {
                    "crew": c,
                    "clock": start,
                    "start": start,
                    "loc": dep.location_index,
                    "load": 0.0,
                    "taken": set(),
                    "jobs": 0,
                    "travel": 0.0,
                    "m": 0.0,
                }
        active = list(state)
        while jobs and active:
            cid = min(active, key=lambda c: (state[c]["clock"], c))
            s = state[cid]
            crew: Crew = s["crew"]
            job = jobs[0]
            end_dep = problem.depot(crew.end_depot)
            latest = min(crew.shift.end_s, end_dep.close_s)
            leg = float(d[s["loc"], job.location_index])
            back = float(d[job.location_index, end_dep.location_index])
            taken = set(s["taken"])
            clock = _take_break(s["clock"], crew, taken, s["clock"] + leg + job.service_s)
            finish = clock + leg + job.service_s
            after = (
                _take_break(finish, crew, set(taken), latest)
                if len(taken) < len(crew.breaks)
                else finish
            )
            fits = after + back <= latest and s["load"] + job.demand <= crew.capacity + 1e-9
            if not fits:
                active.remove(cid)
                continue
            s.update(
                clock=finish,
                loc=job.location_index,
                taken=taken,
                jobs=s["jobs"] + 1,
                load=s["load"] + job.demand,
                travel=s["travel"] + leg,
                m=s["m"] + float(dist[s["loc"], job.location_index]),
            )
            served.append(job.id)
            done_at[job.id] = finish
            jobs.pop(0)
        for s in state.values():
            if not s["jobs"]:
                continue
            crew = s["crew"]
            end_dep = problem.depot(crew.end_depot)
            back = float(d[s["loc"], end_dep.location_index])
            clock = _take_break(
                s["clock"], crew, s["taken"], min(crew.shift.end_s, end_dep.close_s)
            )
            hours += (clock + back - s["start"]) / 3600.0
            travel += (s["travel"] + back) / 3600.0
            metres += s["m"] + float(dist[s["loc"], end_dep.location_index])
    return _outcome(problem, day_plan, done_at, hours, travel, metres)


def _outcome(
    problem: Problem,
    dp: DayPlan,
    done_at: dict[str, float],
    hours: float,
    travel_h: float,
    metres: float,
) -> Outcome:
    """Summarise a dispatch; ``done_at`` maps each served job to its finish time (s)."""
    jobs = {j.id: j for j in problem.jobs}
    served = list(done_at)
    limit = dp.plan.next_shift_start_s
    breaches = sum(1 for j in problem.jobs if j.id not in done_at and (j.sla_due_s or 0.0) < limit)
    overdue = sum(1 for j in served if jobs[j].priority == PRIORITY_OVERDUE)
    late_s = sum(
        max(0.0, t - due) for j, t in done_at.items() if (due := jobs[j].sla_due_s) is not None
    )
    return Outcome(served, hours, travel_h, metres / 1000.0, overdue, breaches, late_s / 60.0)


def optimised(dp: DayPlan) -> Outcome:
    routes = [r for r in dp.plan.routes if r.job_ids]
    done_at = {s.job_id: s.departure_s for r in routes for s in r.steps if s.type == "job"}
    return _outcome(
        dp.problem,
        dp,
        {j: t for j, t in done_at.items() if j is not None},
        sum(r.duration_s for r in routes) / 3600.0,
        sum(r.travel_s for r in routes) / 3600.0,
        sum(r.distance_m for r in routes),
    )


def store_for(settings: Settings) -> Store:
    store = Store(settings.database_url)
    if not work_order_repo.query_work_orders(store, limit=1):
        catalogue = load_catalogue(settings.services_file)
        import_file(
            store,
            settings.sample_requests_file,
            catalogue,
            ImportOptions(timezone=settings.timezone),
        )
        rebuild_work_orders(store, catalogue)
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time-limit", type=float, default=10.0, help="solver seconds per morning")
    ap.add_argument("--days", default=",".join(DAYS), help="comma-separated dates (07:00 local)")
    ap.add_argument("--workers", type=int, default=None, help="parallel OR-Tools searches")
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    settings = Settings(database_url=f"sqlite:///{WORK / 'dispatch_bench.db'}")
    catalogue = load_catalogue(settings.services_file)
    graph = default_graph()
    header = (
        f"{'morning':<11}{'jobs':>5} | {'served':>6}{'crew h':>8}{'travel h':>9}{'km':>7}"
        f"{'overdue':>8}{'breach':>7}{'late min':>11} | {'served':>6}{'crew h':>8}"
        f"{'travel h':>9}{'km':>7}{'overdue':>8}{'breach':>7}{'late min':>11} | {'solve s':>7}"
    )
    print(f"{'':<17}| {'OR-Tools plan':^56}| {'naive oldest-first':^56}|")
    print(header)
    tot = {"opt": [0, 0.0, 0.0, 0.0], "naive": [0, 0.0, 0.0, 0.0]}
    with store_for(settings) as store:
        for day in args.days.split(","):
            at = datetime.fromisoformat(f"{day}T07:00").replace(tzinfo=TZ)
            t0 = time.perf_counter()
            dp = plan_day(
                store,
                catalogue,
                at=at,
                options=DayOptions(graph=graph, time_limit_s=args.time_limit, workers=args.workers),
            )
            secs = time.perf_counter() - t0
            o, n = optimised(dp), naive(dp.problem, dp)
            for key, x in (("opt", o), ("naive", n)):
                tot[key][0] += len(x.served)
                tot[key][1] += x.crew_hours
                tot[key][2] += x.travel_h
                tot[key][3] += x.late_min
            print(
                f"{day:<11}{len(dp.problem.jobs):>5} | {len(o.served):>6}{o.crew_hours:>8.2f}"
                f"{o.travel_h:>9.2f}{o.km:>7.1f}{o.overdue_served:>8}{o.breaches:>7}"
                f"{o.late_min:>11,.0f} | {len(n.served):>6}{n.crew_hours:>8.2f}{n.travel_h:>9.2f}"
                f"{n.km:>7.1f}{n.overdue_served:>8}{n.breaches:>7}{n.late_min:>11,.0f} | "
                f"{secs:>7.1f}"
            )
    (os_, oh, ot, ol), (ns, nh, nt, nl) = tot["opt"], tot["naive"]
    print(
        f"total: plan {os_} jobs in {oh:.1f} crew h ({os_ / max(oh, 1e-9):.2f} jobs/crew-h, "
        f"{ot:.2f} h driving, SLA lateness {ol:,.0f} min); naive {ns} jobs in {nh:.1f} crew h "
        f"({ns / max(nh, 1e-9):.2f} jobs/crew-h, {nt:.2f} h driving, SLA lateness {nl:,.0f} min)"
    )


if __name__ == "__main__":
    main()
