"""What the dispatcher's plan page shows, read from a stored plan document."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from routing.itinerary import format_distance


def clock(text: str | None, tz: ZoneInfo) -> str:
    """Return ``HH:MM`` local time of an ISO time ('' for None)."""
    if not text:
        return ""
    return datetime.fromisoformat(str(text)).astimezone(tz).strftime("%H:%M")


def _label(doc: dict[str, Any], job_id: str) -> str:
    labels = doc.get("labels") or {}
    if job_id in labels:
        return str(labels[job_id])
    job = (doc.get("jobs") or {}).get(job_id) or {}
    return ", ".join(str(x) for x in (job.get("service_name"), job.get("address")) if x) or job_id


def crew_columns(
    doc: dict[str, Any],
    tz: ZoneInfo,
    *,
    locks: dict[str, list[str]] | None = None,
    units: str = "metric",
) -> list[dict[str, Any]]:
    """Return one column per crew: label, ordered stops with ETAs, totals.

    Parameters
    ----------
    doc : dict
        A stored plan document (``routing.dispatch.DayPlan.to_dict`` and its ``plan_id``).
    tz : ZoneInfo
        The city's time zone for the ETAs.
    locks : dict, keyword-only, optional
        Crew id -> the stops the dispatcher locked (a prefix of its route).
    units : str, keyword-only
        The city's units for the distance (``metric`` or ``imperial``, city.toml).

    Returns
    -------
    list of dict
        ``crew_id``, ``label``, ``stops`` (``order``, ``job_id``, ``label``, ``eta``,
        ``work_order_id``, ``breach``, ``done``, ``cant``, ``state``, ``finished``, ``key``,
        ``locked``), ``travel_min``,
        ``distance`` (text in the city's units), ``locked`` (number of locked stops), ``back`` (return to the yard).
    """
    labels = {c.get("id"): c.get("label") for c in doc.get("crews") or []}
    breaches = set(doc.get("sla_breaches") or [])
    done = doc.get("done") or {}
    cant = doc.get("cant_do") or {}
    states = doc.get("stop_states") or {}
    columns = []
    for route in doc.get("routes") or []:
        crew = str(route.get("crew_id"))
        stops: list[dict[str, Any]] = []
        for step in route.get("steps") or []:
            if step.get("type") != "job":
                continue
            job_id = str(step.get("job_id"))
            stops.append(
                {
                    "order": len(stops) + 1,
                    "job_id": job_id,
                    "label": _label(doc, job_id),
                    "eta": clock(step.get("arrival"), tz),
                    "work_order_id": step.get("work_order_id") or step.get("ref"),
                    "breach": job_id in breaches,
                    "done": job_id in done.get(crew, []),
                    "cant": cant.get(job_id),
                    "state": states.get(job_id, "planned"),
                    "finished": states.get(job_id) in ("done", "cant_do"),
                    "key": uuid.uuid4().hex,  # the idempotency key of a "Reopen"
                    "locked": job_id in (locks or {}).get(crew, []),
                }
            )
        steps = route.get("steps") or []
        columns.append(
            {
                "crew_id": crew,
                "label": labels.get(crew) or crew,
                "stops": stops,
                "travel_min": round(float(route.get("travel_s") or 0) / 60.0),
                "distance": format_distance(float(route.get("distance_m") or 0), units=units),
                "locked": len((locks or {}).get(crew, [])),
                "back": clock(steps[-1].get("arrival"), tz) if stops else "",
            }
        )
    return columns


def unassigned(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the work left out of the plan with its reason, SLA breaches marked.

    ``routable`` says whether the job is on the street graph (a dispatcher may move it onto
    a route).
    """
    breaches = set(doc.get("sla_breaches") or [])
    jobs = doc.get("jobs") or {}
    return [
        {
            "job_id": str(u.get("job_id")),
            "label": _label(doc, str(u.get("job_id"))),
            "code": u.get("code", ""),
            "reason": u.get("reason", ""),
            "breach": u.get("job_id") in breaches,
            # on the street graph: a crew can be given it by hand
            "routable": (jobs.get(str(u.get("job_id"))) or {}).get("location_index") is not None,
        }
        for u in doc.get("unassigned") or []
    ]


# What each reason code means to a dispatcher: the group titles of the unassigned work.
REASON_TITLES = {
    "capacity_full": "No room left on the crews with the skill (capacity)",
    "not_enough_time": "No time left in the crews' shifts",
    "unreachable_in_shift": "Cannot be reached within a shift",
    "demand_above_capacity": "Bigger than any crew's capacity",
    "no_skill": "No crew on duty has the skill",
    "not_fitted": "Not fitted by the solver",
    "outside_street_graph": "Outside the mapped streets",
    "dropped_by_dispatcher": "Taken off the plan by a dispatcher",
}
# Work the crews have no room for comes first; work no crew can reach (the map) last.
REASON_ORDER = ("capacity_full", "not_enough_time", "unreachable_in_shift", "no_skill")
_PATH = re.compile(r"(?<!\S)(?:[A-Za-z]:)?[/\\][^\s,;)]+")


def plain_reason(text: str) -> str:
    """Return a reason without server file paths (the street graph's file, for one)."""
    return re.sub(r"\s{2,}", " ", _PATH.sub("", text)).strip().rstrip(":").strip()


def unassigned_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the unassigned rows grouped by reason code, the crews' shortfalls first.

    Each group has ``code``, ``title``, ``count``, ``breaches`` (SLA breaches among them),
    ``routable`` (whether a dispatcher can give its work to a crew) and ``rows`` (each row's
    ``reason`` without file paths).
    """
    groups: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = str(row["code"] or "other")
        group = groups.setdefault(
            code,
            {"code": code, "title": REASON_TITLES.get(code, code.replace("_", " ")),
             "count": 0, "breaches": 0, "routable": False, "rows": []},
        )  # fmt: skip
        group["count"] += 1
        group["breaches"] += bool(row["breach"])
        group["routable"] = group["routable"] or bool(row["routable"])
        group["rows"].append({**row, "reason": plain_reason(str(row["reason"]))})

    def rank(code: str) -> tuple[int, str]:
        known = REASON_ORDER.index(code) if code in REASON_ORDER else len(REASON_ORDER)
        return (known if code != "outside_street_graph" else len(REASON_ORDER) + 1, code)

    return [groups[c] for c in sorted(groups, key=rank)]


# Route colours: none is an SLA colour (dark red, brown, green) or the yard's white, and
# white numbers on each pass WCAG AA (4.5:1).
ROUTE_COLOURS = ("#0b4fb3", "#9c2f8e", "#006d6d", "#6f2da8", "#4b5563", "#4f46c8", "#00658a")


def route_colour(index: int) -> str:
    """Return the map and table colour of the ``index``-th route."""
    return ROUTE_COLOURS[index % len(ROUTE_COLOURS)]


def map_data(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the plan's routes and stops for the page's Leaflet map (``[lat, lon]`` pairs).

    Each stop has its number in route ``order`` and its ``job_id`` (the table row it links
    to); each route its ``colour`` (:func:`route_colour`, the same as its table column).
    """
    routes: list[dict[str, Any]] = []
    late = set(doc.get("sla_breaches") or [])
    for route in doc.get("routes") or []:
        jobs = [s for s in route.get("steps") or [] if s.get("type") == "job"]
        stops = [
            {"lat": s["lat"], "lon": s["lon"], "label": _label(doc, str(s.get("job_id"))),
             "order": n, "job_id": str(s.get("job_id")), "late": s.get("job_id") in late}
            for n, s in enumerate(jobs, start=1)
            if s.get("lat") is not None and s.get("lon") is not None
        ]  # fmt: skip
        line = route.get("geometry") or [[s["lat"], s["lon"]] for s in stops]
        routes.append(
            {"crew_id": route.get("crew_id"), "line": line, "stops": stops,
             "colour": route_colour(len(routes))}
        )  # fmt: skip
    depots = [
        {"lat": d["lat"], "lon": d["lon"], "label": d.get("label", "yard")}
        for d in doc.get("depots") or []
        if d.get("lat") is not None
    ]
    return {"routes": routes, "depots": depots}
