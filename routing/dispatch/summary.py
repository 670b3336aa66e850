"""The printable summary of a planned day: the crew table, unassigned reasons, SLA breaches."""

from __future__ import annotations

from typing import Any

from geo311.plans.document import local_hm
from routing.dispatch.build import OUTSIDE_GRAPH
from routing.dispatch.day import DayPlan
from routing.engine.problem import PRIORITY_NAMES
from routing.engine.solve import Route

__all__ = ["format_summary", "route_summary_rows"]


def _row(day_plan: DayPlan, route: Route) -> dict[str, Any]:
    tz = day_plan.crew_config.tz
    jobs = [s for s in route.steps if s.type == "job"]
    etas = [local_hm(day_plan.problem.clock(s.arrival_s), tz) for s in jobs]
    return {
        "crew": route.crew_id,
        "stops": len(jobs),
        "travel_min": route.travel_s / 60.0,
        "on_site_min": route.service_s / 60.0,
        "km": route.distance_m / 1000.0,
        "first_eta": etas[0] if etas else "-",
        "last_eta": etas[-1] if etas else "-",
        "day_h": route.duration_s / 3600.0 if jobs else 0.0,
    }


def route_summary_rows(day_plan: DayPlan) -> list[dict[str, Any]]:
    """Return one summary row per crew: stops, travel/on-site minutes, km, first/last ETA.

    Parameters
    ----------
    day_plan : DayPlan
        The plan.

    Returns
    -------
    list of dict
        Keys ``crew``, ``stops``, ``travel_min``, ``on_site_min``, ``km``, ``first_eta``,
        ``last_eta`` (local ``HH:MM`` or ``-``), ``day_h``.
    """
    return [_row(day_plan, r) for r in day_plan.plan.routes]


def _crew_table(day_plan: DayPlan) -> list[str]:
    lines = [
        f"{'crew':<16}{'stops':>6}{'travel min':>12}{'on-site min':>13}{'km':>7}"
        f"{'first ETA':>11}{'last ETA':>10}{'day h':>7}"
    ]
    for row in route_summary_rows(day_plan):
        lines.append(
            f"{row['crew']:<16}{row['stops']:>6}{row['travel_min']:>12.1f}"
            f"{row['on_site_min']:>13.1f}{row['km']:>7.2f}{row['first_eta']:>11}"
            f"{row['last_eta']:>10}{row['day_h']:>7.2f}"
        )
    return lines


def _unassigned_lines(day_plan: DayPlan, max_listed: int) -> list[str]:
    un = day_plan.unassigned
    if not un:
        return []
    by_code: dict[str, int] = {}
    for u in un:
        by_code[u.code] = by_code.get(u.code, 0) + 1
    lines = [
        "",
        f"unassigned ({len(un)}): " + ", ".join(f"{c} {n}" for c, n in sorted(by_code.items())),
    ]
    shown = sorted(un, key=lambda u: (u.code == OUTSIDE_GRAPH, -u.priority, u.job_id))
    for u in shown[:max_listed]:
        lines.append(
            f"  {u.job_id} [{PRIORITY_NAMES.get(u.priority, u.priority)}] {u.code}: {u.reason}"
        )
    if len(un) > max_listed:
        lines.append(f"  ... and {len(un) - max_listed} more (see plan.json 'unassigned')")
    return lines


def _breach_lines(day_plan: DayPlan, max_listed: int) -> list[str]:
    breaches = day_plan.sla_breaches()
    in_graph = [b for b in breaches if b.code != OUTSIDE_GRAPH]
    lines = [
        "",
        f"SLA breaches implied (unserved, due before the next shift starts at "
        f"{day_plan.problem.clock(day_plan.plan.next_shift_start_s):%Y-%m-%d %H:%M}): "
        f"{len(breaches)} ({len(in_graph)} on the street graph, "
        f"{len(breaches) - len(in_graph)} outside it)",
    ]
    tz = day_plan.crew_config.tz
    for b in in_graph[:max_listed]:
        due = day_plan.problem.clock(b.sla_due_s or 0.0).astimezone(tz)
        lines.append(f"  {b.job_id} due {due:%Y-%m-%d %H:%M} ({b.code})")
    if len(in_graph) > max_listed:
        lines.append(f"  ... and {len(in_graph) - max_listed} more")
    return lines


def format_summary(day_plan: DayPlan, *, max_listed: int = 10) -> list[str]:
    """Return the printable summary: the crew table, unassigned reasons and SLA breaches.

    Parameters
    ----------
    day_plan : DayPlan
        The plan.
    max_listed : int, keyword-only
        How many unassigned work orders and SLA breaches to list one by one.

    Returns
    -------
    list of str
        Lines to print.
    """
    s = day_plan.plan.summary
    head = [
        f"plan for {day_plan.plan_date} (open work orders at {day_plan.at.isoformat()}): "
        f"{len(day_plan.work_orders)} open work orders, {len(day_plan.problem.jobs)} on the "
        f"street graph, {s.jobs_served} served, {len(day_plan.unassigned)} unassigned; "
        f"solved in {s.solve_time_s:.1f} s, feasible: {s.is_feasible}",
        "",
    ]
    return (
        head
        + _crew_table(day_plan)
        + _unassigned_lines(day_plan, max_listed)
        + _breach_lines(day_plan, max_listed)
    )
