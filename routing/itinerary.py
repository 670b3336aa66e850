"""Crew itineraries: numbered stops, street paths and turn-by-turn directions; HTML, text, GPX.

An itinerary is built from a plan *document* (:meth:`routing.dispatch.DayPlan.to_dict`, as
stored), so the API can render one for a stored plan without loading the street graph: the
document carries each leg's street edges (names, lengths, times, bearings) and coordinates.
Directions merge consecutive edges of the same street and name the turn from the bearing
change (:mod:`routing._directions`); ETAs come from the plan's departure times plus the travel
time along the path.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from geo311.errors import InputError, NotFoundError
from routing._directions import (
    Instruction,
    Segment,
    directions,
    format_distance,
    turn_modifier,
)

__all__ = [
    "CrewItinerary",
    "Instruction",
    "ItineraryBreak",
    "ItineraryLeg",
    "ItineraryStop",
    "Segment",
    "crew_itineraries",
    "crew_itinerary",
    "directions",
    "itinerary_gpx",
    "itinerary_html",
    "itinerary_text",
    "turn_modifier",
    "write_itineraries",
]


@dataclass(frozen=True, slots=True)
class ItineraryStop:
    """One numbered stop of a crew's day.

    Attributes
    ----------
    number : int
        Visiting order, from 1.
    job_id : str
        Job id in the plan (``wo-<id>``).
    work_order_id : int or None
        The work order.
    service_name, address : str
        What and where.
    arrival, service_start, departure : datetime
        Planned times (aware).
    on_site_min : float
        Minutes on site.
    report_count : int or None
        Reports merged into the work order.
    sla_due : datetime or None
        SLA due time.
    priority : str
        ``overdue``, ``due today`` ...
    lat, lon : float
        The stop's street point.
    done : bool
        Whether the crew has marked it done.
    """

    number: int
    job_id: str
    work_order_id: int | None
    service_name: str
    address: str
    arrival: datetime
    service_start: datetime
    departure: datetime
    on_site_min: float
    report_count: int | None
    sla_due: datetime | None
    priority: str
    lat: float
    lon: float
    done: bool = False


@dataclass(frozen=True, slots=True)
class TimedInstruction:
    """A turn-by-turn instruction with its clock time.

    Attributes
    ----------
    instruction : Instruction
        The instruction.
    eta : datetime
        When the crew reaches it.
    """

    instruction: Instruction
    eta: datetime


@dataclass(frozen=True, slots=True)
class ItineraryLeg:
    """The drive to a stop (or back to the yard).

    Attributes
    ----------
    to_number : int or None
        Number of the stop driven to; None for the drive back to the yard.
    destination : str
        Where it goes.
    depart, arrive : datetime
        Departure from the previous place and arrival.
    distance_m, duration_s : float
        Length and driving time.
    coords : list of (lat, lon)
        The street path.
    instructions : list of TimedInstruction
        Turn-by-turn directions with ETAs.
    """

    to_number: int | None
    destination: str
    depart: datetime
    arrive: datetime
    distance_m: float
    duration_s: float
    coords: list[tuple[float, float]]
    instructions: list[TimedInstruction]


@dataclass(frozen=True, slots=True)
class ItineraryBreak:
    """A break in the crew's day (start and end, aware)."""

    id: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class CrewItinerary:
    """A crew's printable day.

    Attributes
    ----------
    plan_id : int or None
        The stored plan.
    crew_id, crew_label : str
        The crew.
    plan_date : str
        ``YYYY-MM-DD``.
    timezone : str
        Time zone of the clock times printed.
    yard : tuple
        ``(label, lat, lon)`` of the start depot.
    start, end : datetime
        Leaving and returning to the yard.
    stops : list of ItineraryStop
        The stops in order.
    legs : list of ItineraryLeg
        The drives in order (one more than the stops: the last returns to the yard).
    breaks : list of ItineraryBreak
        Breaks.
    timeline : list of tuple
        ``("leg" | "stop" | "break", item)`` in the order of the day.
    travel_s, distance_m, service_s : float
        Totals.
    geometry : list of (lat, lon)
        The whole street path, yard to yard.
    """

    plan_id: int | None
    crew_id: str
    crew_label: str
    plan_date: str
    timezone: str
    yard: tuple[str, float, float]
    start: datetime
    end: datetime
    stops: list[ItineraryStop]
    legs: list[ItineraryLeg]
    breaks: list[ItineraryBreak]
    timeline: list[tuple[str, Any]] = field(default_factory=list)
    travel_s: float = 0.0
    distance_m: float = 0.0
    service_s: float = 0.0
    geometry: list[tuple[float, float]] = field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo:
        """The time zone object."""
        return ZoneInfo(self.timezone)

    def hm(self, when: datetime | None) -> str:
        """Return ``HH:MM`` local time (``-`` for None)."""
        return when.astimezone(self.tz).strftime("%H:%M") if when is not None else "-"


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _as_doc(plan: Any) -> Mapping[str, Any]:
    if isinstance(plan, Mapping):
        return plan
    if hasattr(plan, "to_dict"):
        doc: Mapping[str, Any] = plan.to_dict()
        return doc
    raise InputError(
        f"plan is a {type(plan).__name__}; pass a DayPlan or its to_dict() document",
        field="plan",
    )


def crew_itinerary(plan: Any, crew_id: str) -> CrewItinerary:
    """Build one crew's itinerary from a plan.

    Parameters
    ----------
    plan : DayPlan or mapping
        A :class:`routing.dispatch.DayPlan` or its stored document.
    crew_id : str
        The crew.

    Returns
    -------
    CrewItinerary
        Stops, legs with directions and ETAs, breaks and totals.

    Raises
    ------
    NotFoundError
        When the plan has no route for ``crew_id`` (the message lists the crews).
    InputError
        When the document lacks the route legs written by ``DayPlan.to_dict``.
    """
    doc = _as_doc(plan)
    routes = doc.get("routes", [])
    route = next((r for r in routes if r.get("crew_id") == crew_id), None)
    if route is None:
        crews = ", ".join(str(r.get("crew_id")) for r in routes)
        raise NotFoundError(f"crew {crew_id!r} has no route in this plan; crews: {crews}")
    steps = route.get("steps", [])
    has_jobs = any(s.get("type") == "job" for s in steps)
    if has_jobs and "legs" not in route:
        raise InputError(
            "the plan document has no route 'legs' (street paths); make it with "
            "routing.dispatch.plan_day",
            field="legs",
        )
    tz_name = str(doc.get("timezone", "America/New_York"))
    jobs: Mapping[str, Any] = doc.get("jobs", {})
    labels: Mapping[str, str] = doc.get("labels", {})
    done = set((doc.get("done") or {}).get(crew_id, []))
    crew_doc: Mapping[str, Any] = next(
        (c for c in doc.get("crews", []) if c.get("id") == crew_id), {}
    )
    start_idx = steps[0].get("location_index") if steps else None
    locations = doc.get("locations") or []
    start_point = (
        locations[start_idx] if isinstance(start_idx, int) and start_idx < len(locations) else None
    )
    depot = next(
        (d for d in doc.get("depots", []) if d.get("location_index") == start_idx),
        {
            "label": "yard",
            "lat": start_point[0] if start_point else None,
            "lon": start_point[1] if start_point else None,
        },
    )
    yard_lat, yard_lon = depot.get("lat"), depot.get("lon")
    if yard_lat is None or yard_lon is None:
        raise InputError(
            f"the plan document has no yard location for crew {crew_id!r} (no 'depots' entry "
            "and no 'locations' point for its start); make it with routing.dispatch.plan_day",
            field="depots",
        )
    yard = (str(depot.get("label", "yard")), float(yard_lat), float(yard_lon))

    stops: list[ItineraryStop] = []
    stop_at_step: dict[int, ItineraryStop] = {}
    for k, s in enumerate(steps):
        if s.get("type") != "job":
            continue
        job_id = str(s.get("job_id"))
        info = jobs.get(job_id, {})
        arrival = _time(s.get("arrival"))
        departure = _time(s.get("departure"))
        assert arrival is not None and departure is not None
        stop = ItineraryStop(
            number=len(stops) + 1,
            job_id=job_id,
            work_order_id=info.get("work_order_id", s.get("work_order_id")),
            service_name=str(info.get("service_name") or labels.get(job_id, "")),
            address=str(info.get("address", "")),
            arrival=arrival,
            service_start=arrival + timedelta(seconds=float(s.get("waiting_s", 0.0))),
            departure=departure,
            on_site_min=float(s.get("service_s", 0.0)) / 60.0,
            report_count=info.get("report_count"),
            sla_due=_time(info.get("sla_due")),
            priority=str(info.get("priority_name", "")),
            lat=float(s.get("lat", info.get("lat", 0.0))),
            lon=float(s.get("lon", info.get("lon", 0.0))),
            done=job_id in done,
        )
        stops.append(stop)
        stop_at_step[k] = stop

    breaks_at: dict[int, ItineraryBreak] = {}
    for k, s in enumerate(steps):
        if s.get("type") == "break":
            b0, b1 = _time(s.get("arrival")), _time(s.get("departure"))
            assert b0 is not None and b1 is not None
            breaks_at[k] = ItineraryBreak(str(s.get("break_id") or "break"), b0, b1)

    legs: list[ItineraryLeg] = []
    leg_at_step: dict[int, ItineraryLeg] = {}
    for leg in route.get("legs", []):
        ka, kb = int(leg["from_step"]), int(leg["to_step"])
        depart = _time(steps[ka].get("departure"))
        arrive = _time(steps[kb].get("arrival"))
        assert depart is not None and arrive is not None
        pauses = [b for k, b in breaks_at.items() if ka < k < kb]
        to_stop = stop_at_step.get(kb)
        dest = (
            f"stop {to_stop.number}: {to_stop.address or to_stop.service_name}"
            if to_stop is not None
            else f"the yard ({yard[0]})"
        )
        ins = directions(leg.get("edges", []), destination=dest)
        timed = []
        for i in ins:
            eta = depart + timedelta(seconds=i.offset_s)
            for b in pauses:
                if b.start <= eta:
                    eta += b.end - b.start
            if i.kind == "arrive":
                eta = arrive
            timed.append(TimedInstruction(i, eta))
        item = ItineraryLeg(
            to_number=to_stop.number if to_stop is not None else None,
            destination=dest,
            depart=depart,
            arrive=arrive,
            distance_m=float(leg.get("distance_m", 0.0)),
            duration_s=float(leg.get("duration_s", 0.0)),
            coords=[(float(a), float(b)) for a, b in leg.get("coords", [])],
            instructions=timed,
        )
        legs.append(item)
        leg_at_step[kb] = item

    timeline: list[tuple[str, Any]] = []
    for k in range(len(steps)):
        if k in breaks_at:
            timeline.append(("break", breaks_at[k]))
        if k in leg_at_step:
            timeline.append(("leg", leg_at_step[k]))
        if k in stop_at_step:
            timeline.append(("stop", stop_at_step[k]))
    start = _time(steps[0].get("departure")) if steps else None
    end = _time(steps[-1].get("arrival")) if steps else None
    origin = _time(doc.get("origin"))
    fallback = origin or datetime.now(ZoneInfo(tz_name))
    return CrewItinerary(
        plan_id=doc.get("plan_id"),
        crew_id=crew_id,
        crew_label=str(crew_doc.get("label") or crew_id),
        plan_date=str(doc.get("plan_date") or (origin.date().isoformat() if origin else "")),
        timezone=tz_name,
        yard=yard,
        start=start or fallback,
        end=end or fallback,
        stops=stops,
        legs=legs,
        breaks=list(breaks_at.values()),
        timeline=timeline,
        travel_s=float(route.get("travel_s", 0.0)),
        distance_m=float(route.get("distance_m", 0.0)),
        service_s=float(route.get("service_s", 0.0)),
        geometry=[(float(a), float(b)) for a, b in route.get("geometry", [])],
    )


def crew_itineraries(plan: Any, *, skip_empty: bool = True) -> list[CrewItinerary]:
    """Build every crew's itinerary.

    Parameters
    ----------
    plan : DayPlan or mapping
        The plan or its document.
    skip_empty : bool, keyword-only
        Leave out crews without stops.

    Returns
    -------
    list of CrewItinerary
        In the plan's crew order.
    """
    doc = _as_doc(plan)
    out = [crew_itinerary(doc, str(r.get("crew_id"))) for r in doc.get("routes", [])]
    return [it for it in out if it.stops or not skip_empty]


# ---------------------------------------------------------------- text


def itinerary_text(it: CrewItinerary) -> str:
    """Return a plain-text itinerary (for a phone message or a terminal).

    Parameters
    ----------
    it : CrewItinerary
        The itinerary.

    Returns
    -------
    str
        Numbered stops with ETAs and the directions between them.
    """
    lines = [
        f"{it.crew_label} ({it.crew_id}) - {it.plan_date}"
        + (f" - plan {it.plan_id}" if it.plan_id else ""),
        f"Leave {it.yard[0]} at {it.hm(it.start)}, back at {it.hm(it.end)}; {len(it.stops)} stops, "
        f"{format_distance(it.distance_m)} driving ({it.travel_s / 60:.0f} min), "
        f"{it.service_s / 60:.0f} min on site",
        "",
    ]
    for kind, item in it.timeline:
        if kind == "leg":
            lines.append(
                f"  Drive to {item.destination} ({format_distance(item.distance_m)}, {item.duration_s / 60:.1f} min)"
            )
            for t in item.instructions:
                dist = (
                    f" - {format_distance(t.instruction.distance_m)}"
                    if t.instruction.distance_m
                    else ""
                )
                lines.append(f"    {it.hm(t.eta)}  {t.instruction.text}{dist}")
        elif kind == "break":
            lines.append(f"  {it.hm(item.start)}-{it.hm(item.end)}  Break ({item.id})")
            lines.append("")
        else:
            s: ItineraryStop = item
            sla = f", SLA due {s.sla_due.astimezone(it.tz):%Y-%m-%d %H:%M}" if s.sla_due else ""
            lines += [
                "",
                f"{s.number}. {it.hm(s.arrival)}  {s.address or '(no address)'}"
                + ("  [done]" if s.done else ""),
                f"   {s.service_name} - work order {s.work_order_id} - {s.on_site_min:.0f} min on site"
                f" - {s.report_count or 1} report(s){sla}"
                + (f" - {s.priority}" if s.priority else ""),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------- HTML

_CSS = """
body { font: 11pt/1.35 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em; color: #111; }
h1 { font-size: 16pt; margin: 0 0 .2em; }
.meta { color: #444; margin: 0 0 1em; }
table.stops { border-collapse: collapse; width: 100%; margin: 0 0 1.2em; }
table.stops th, table.stops td { border: 1px solid #bbb; padding: 3px 6px; text-align: left; vertical-align: top; }
table.stops th { background: #eee; }
.stop { border: 2px solid #222; border-radius: 6px; padding: .4em .7em; margin: .6em 0; page-break-inside: avoid; }
.stop .num { display: inline-block; min-width: 1.6em; height: 1.6em; line-height: 1.6em; text-align: center;
  border-radius: 50%; background: #222; color: #fff; font-weight: bold; margin-right: .4em; }
.stop.done { opacity: .55; }
.leg { margin: .3em 0 .3em 1.2em; color: #222; page-break-inside: avoid; }
.leg ol { margin: .2em 0; padding-left: 1.4em; }
.leg .eta, .stop .eta { font-variant-numeric: tabular-nums; font-weight: bold; }
.break { margin: .5em 0 .5em 1.2em; font-style: italic; }
.small { color: #555; font-size: 9.5pt; }
@media print {
  body { margin: 0; font-size: 10pt; }
  a { color: inherit; text-decoration: none; }
  .noprint { display: none; }
  @page { size: A4 portrait; margin: 12mm; }
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value if value is not None else ""))


def itinerary_html(it: CrewItinerary) -> str:
    """Return a printable, self-contained HTML itinerary (no external files or scripts).

    Parameters
    ----------
    it : CrewItinerary
        The itinerary.

    Returns
    -------
    str
        An HTML5 page: a stop table, then the day in order with numbered stops (address,
        service, work order, ETA, on-site minutes, reports, SLA due) and directions between.
    """
    title = f"{it.crew_label} - {it.plan_date}"
    rows = "".join(
        f"<tr><td>{s.number}</td><td class='eta'>{_e(it.hm(s.arrival))}</td><td>{_e(s.address)}</td>"
        f"<td>{_e(s.service_name)}</td><td>{_e(s.work_order_id)}</td><td>{s.on_site_min:.0f}</td>"
        f"<td>{_e(s.report_count)}</td>"
        f"<td>{_e(s.sla_due.astimezone(it.tz).strftime('%Y-%m-%d %H:%M') if s.sla_due else '')}</td>"
        f"<td>{_e(s.priority)}</td><td>{'done' if s.done else ''}</td></tr>"
        for s in it.stops
    )
    body: list[str] = []
    for kind, item in it.timeline:
        if kind == "leg":
            lis = "".join(
                f"<li><span class='eta'>{_e(it.hm(t.eta))}</span> {_e(t.instruction.text)}"
                + (
                    f" <span class='small'>{_e(format_distance(t.instruction.distance_m))}</span>"
                    if t.instruction.distance_m
                    else ""
                )
                + "</li>"
                for t in item.instructions
            )
            body.append(
                f"<div class='leg'><div class='small'>Drive to {_e(item.destination)}: "
                f"{_e(format_distance(item.distance_m))}, {item.duration_s / 60:.1f} min, "
                f"leave {_e(it.hm(item.depart))}, arrive {_e(it.hm(item.arrive))}</div><ol>{lis}</ol></div>"
            )
        elif kind == "break":
            body.append(
                f"<div class='break'>{_e(it.hm(item.start))}-{_e(it.hm(item.end))} break ({_e(item.id)})</div>"
            )
        else:
            s: ItineraryStop = item
            sla = s.sla_due.astimezone(it.tz).strftime("%Y-%m-%d %H:%M") if s.sla_due else "-"
            body.append(
                f"<div class='stop{' done' if s.done else ''}' id='stop-{s.number}'>"
                f"<span class='num'>{s.number}</span><b>{_e(s.address or '(no address)')}</b>"
                f"<div>ETA <span class='eta'>{_e(it.hm(s.arrival))}</span>, work "
                f"{_e(it.hm(s.service_start))}-{_e(it.hm(s.departure))} ({s.on_site_min:.0f} min on site)</div>"
                f"<div>{_e(s.service_name)} - work order <b>{_e(s.work_order_id)}</b> - "
                f"{_e(s.report_count or 1)} report(s) - SLA due {_e(sla)}"
                + (f" - {_e(s.priority)}" if s.priority else "")
                + f"</div><div class='small'>{s.lat:.6f}, {s.lon:.6f}</div></div>"
            )
    plan = f" - plan {_e(it.plan_id)}" if it.plan_id else ""
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{_e(it.crew_label)} <span class='small'>({_e(it.crew_id)})</span></h1>"
        f"<p class='meta'>{_e(it.plan_date)}{plan}. Leave {_e(it.yard[0])} at {_e(it.hm(it.start))}, "
        f"back at {_e(it.hm(it.end))}. {len(it.stops)} stops, {_e(format_distance(it.distance_m))} "
        f"driving ({it.travel_s / 60:.0f} min), {it.service_s / 60:.0f} min on site. "
        f"Times are {_e(it.timezone)}.</p>"
        "<table class='stops'><thead><tr><th>#</th><th>ETA</th><th>Address</th><th>Service</th>"
        "<th>Work order</th><th>On site (min)</th><th>Reports</th><th>SLA due</th><th>Priority</th>"
        f"<th></th></tr></thead><tbody>{rows}</tbody></table>"
        f"<div class='day'><div class='small'>{_e(it.hm(it.start))} leave {_e(it.yard[0])}</div>"
        + "".join(body)
        + f"<div class='small'>{_e(it.hm(it.end))} back at the yard</div></div>"
        "<p class='small noprint'>Generated by geo311. Print with your browser (A4/Letter).</p>"
        "</body></html>\n"
    )


# ---------------------------------------------------------------- GPX


def itinerary_gpx(it: CrewItinerary) -> str:
    """Return the itinerary as GPX 1.1: a street track, a route and numbered waypoints.

    Parameters
    ----------
    it : CrewItinerary
        The itinerary.

    Returns
    -------
    str
        GPX XML: one track following the streets yard to yard, one route through the yard and
        the stops, and a waypoint per stop named ``"<n>. <address>"`` with its ETA as time.
    """
    import gpxpy.gpx

    gpx = gpxpy.gpx.GPX()
    gpx.name = f"{it.crew_label} {it.plan_date}"
    gpx.creator = "geo311"
    name = f"{it.crew_id} {it.plan_date}"
    track = gpxpy.gpx.GPXTrack(name=name)
    seg = gpxpy.gpx.GPXTrackSegment()
    points = it.geometry or [p for leg in it.legs for p in leg.coords]
    for lat, lon in points:
        seg.points.append(gpxpy.gpx.GPXTrackPoint(lat, lon))
    track.segments.append(seg)
    gpx.tracks.append(track)
    route = gpxpy.gpx.GPXRoute(name=name)
    route.points.append(gpxpy.gpx.GPXRoutePoint(it.yard[1], it.yard[2], name="Yard"))
    for s in it.stops:
        label = f"{s.number}. {s.address or s.service_name}"
        route.points.append(gpxpy.gpx.GPXRoutePoint(s.lat, s.lon, name=label))
        gpx.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                s.lat,
                s.lon,
                time=s.arrival,
                name=label,
                description=(
                    f"{s.service_name}; work order {s.work_order_id}; ETA {it.hm(s.arrival)}; "
                    f"{s.on_site_min:.0f} min on site; {s.report_count or 1} report(s)"
                ),
                symbol="Flag, Blue",
                type="stop",
            )
        )
    route.points.append(gpxpy.gpx.GPXRoutePoint(it.yard[1], it.yard[2], name="Yard"))
    gpx.routes.append(route)
    return str(gpx.to_xml(version="1.1"))


# ---------------------------------------------------------------- files


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "crew"


def write_itineraries(plan: Any, out_dir: str | Path, *, skip_empty: bool = True) -> list[Path]:
    """Write ``itinerary_<crew>.html``, ``.txt`` and ``.gpx`` for every crew.

    Parameters
    ----------
    plan : DayPlan or mapping
        The plan or its stored document.
    out_dir : str or Path
        Folder (created if missing).
    skip_empty : bool, keyword-only
        Leave out crews without stops.

    Returns
    -------
    list of Path
        The files written, three per crew (HTML, GPX, text).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for it in crew_itineraries(plan, skip_empty=skip_empty):
        stem = out / f"itinerary_{_safe(it.crew_id)}"
        for suffix, text in (
            (".html", itinerary_html(it)),
            (".gpx", itinerary_gpx(it)),
            (".txt", itinerary_text(it)),
        ):
            path = stem.with_suffix(suffix)
            path.write_text(text, encoding="utf-8")
            paths.append(path)
    return paths
