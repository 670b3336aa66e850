"""What the dispatcher's plan page shows, read from a stored plan document."""

from __future__ import annotations

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


def map_data(doc: dict[str, Any]) -> dict[str, Any]:
    """Return the plan's routes and stops for the page's Leaflet map (``[lat, lon]`` pairs)."""
    routes = []
    for route in doc.get("routes") or []:
        stops = [
            {"lat": s["lat"], "lon": s["lon"], "label": _label(doc, str(s.get("job_id")))}
            for s in route.get("steps") or []
            if s.get("type") == "job" and s.get("lat") is not None and s.get("lon") is not None
        ]
        line = route.get("geometry") or [[s["lat"], s["lon"]] for s in stops]
        routes.append({"crew_id": route.get("crew_id"), "line": line, "stops": stops})
    depots = [
        {"lat": d["lat"], "lon": d["lon"], "label": d.get("label", "yard")}
        for d in doc.get("depots") or []
        if d.get("lat") is not None
    ]
    return {"routes": routes, "depots": depots}
