"""Crew itineraries rendered: printable HTML, plain text, GPX, and the files of a plan.

The itinerary data (stops, legs, directions, ETAs) comes from :mod:`routing.itinerary`;
this module only presents it, with distances in the itinerary's units (the city's feet /
miles or metres / km). :func:`write_itineraries`, declared as a ``geo311.plan_writers``
entry point, makes ``geo311 plan``, ``geo311 replan`` and the demo write the itineraries
beside ``plan.json`` without ``routing`` importing ``maps``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo311.plans.document import PlanDocument
from routing.itinerary import (
    CrewItinerary,
    ItineraryBreak,
    ItineraryLeg,
    ItineraryStop,
    crew_itineraries,
)

__all__ = [
    "itinerary_gpx",
    "itinerary_html",
    "itinerary_text",
    "write_itineraries",
]


# ---------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class _Header:
    """The lines every rendering of an itinerary starts with (plain text, not escaped)."""

    crew: str  # "Crew 1 (c1)"
    plan: str  # "2015-10-06 - plan 3"
    day: str  # "Leave Yard at 07:00, back at 15:30"
    totals: str  # "12 stops, 8.1 mi driving (41 min), 190 min on site"


def _header(it: CrewItinerary) -> _Header:
    return _Header(
        crew=f"{it.crew_label} ({it.crew_id})",
        plan=it.plan_date + (f" - plan {it.plan_id}" if it.plan_id else ""),
        day=f"Leave {it.yard[0]} at {it.hm(it.start)}, back at {it.hm(it.end)}",
        totals=(
            f"{len(it.stops)} stops, {it.distance(it.distance_m)} driving "
            f"({it.travel_s / 60:.0f} min), {it.service_s / 60:.0f} min on site"
        ),
    )


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
    head = _header(it)
    lines = [f"{head.crew} - {head.plan}", f"{head.day}; {head.totals}", ""]
    for kind, item in it.timeline:
        if kind == "leg":
            lines.append(
                f"  Drive to {item.destination} ({it.distance(item.distance_m)}, "
                f"{item.duration_s / 60:.1f} min)"
            )
            for t in item.instructions:
                dist = (
                    f" - {it.distance(t.instruction.distance_m)}"
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


def _html_row(it: CrewItinerary, s: ItineraryStop) -> str:
    return (
        f"<tr><td>{s.number}</td><td class='eta'>{_e(it.hm(s.arrival))}</td><td>{_e(s.address)}</td>"
        f"<td>{_e(s.service_name)}</td><td>{_e(s.work_order_id)}</td><td>{s.on_site_min:.0f}</td>"
        f"<td>{_e(s.report_count)}</td>"
        f"<td>{_e(s.sla_due.astimezone(it.tz).strftime('%Y-%m-%d %H:%M') if s.sla_due else '')}</td>"
        f"<td>{_e(s.priority)}</td><td>{'done' if s.done else ''}</td></tr>"
    )


def _html_leg(it: CrewItinerary, leg: ItineraryLeg) -> str:
    lis = "".join(
        f"<li><span class='eta'>{_e(it.hm(t.eta))}</span> {_e(t.instruction.text)}"
        + (
            f" <span class='small'>{_e(it.distance(t.instruction.distance_m))}</span>"
            if t.instruction.distance_m
            else ""
        )
        + "</li>"
        for t in leg.instructions
    )
    return (
        f"<div class='leg'><div class='small'>Drive to {_e(leg.destination)}: "
        f"{_e(it.distance(leg.distance_m))}, {leg.duration_s / 60:.1f} min, "
        f"leave {_e(it.hm(leg.depart))}, arrive {_e(it.hm(leg.arrive))}</div><ol>{lis}</ol></div>"
    )


def _html_break(it: CrewItinerary, b: ItineraryBreak) -> str:
    return f"<div class='break'>{_e(it.hm(b.start))}-{_e(it.hm(b.end))} break ({_e(b.id)})</div>"


def _html_stop(it: CrewItinerary, s: ItineraryStop) -> str:
    sla = s.sla_due.astimezone(it.tz).strftime("%Y-%m-%d %H:%M") if s.sla_due else "-"
    return (
        f"<div class='stop{' done' if s.done else ''}' id='stop-{s.number}'>"
        f"<span class='num'>{s.number}</span><b>{_e(s.address or '(no address)')}</b>"
        f"<div>ETA <span class='eta'>{_e(it.hm(s.arrival))}</span>, work "
        f"{_e(it.hm(s.service_start))}-{_e(it.hm(s.departure))} ({s.on_site_min:.0f} min on site)</div>"
        f"<div>{_e(s.service_name)} - work order <b>{_e(s.work_order_id)}</b> - "
        f"{_e(s.report_count or 1)} report(s) - SLA due {_e(sla)}"
        + (f" - {_e(s.priority)}" if s.priority else "")
        + f"</div><div class='small'>{s.lat:.6f}, {s.lon:.6f}</div></div>"
    )


def _html_item(it: CrewItinerary, kind: str, item: Any) -> str:
    if kind == "leg":
        return _html_leg(it, item)
    if kind == "break":
        return _html_break(it, item)
    return _html_stop(it, item)


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
    rows = "".join(_html_row(it, s) for s in it.stops)
    body = [_html_item(it, kind, item) for kind, item in it.timeline]
    head = _header(it)
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{_e(it.crew_label)} <span class='small'>({_e(it.crew_id)})</span></h1>"
        f"<p class='meta'>{_e(head.plan)}. {_e(head.day)}. {_e(head.totals)}. "
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


def write_itineraries(
    plan: PlanDocument | Mapping[str, Any],
    out_dir: str | Path,
    *,
    skip_empty: bool = True,
    units: str | None = None,
) -> list[Path]:
    """Write ``itinerary_<crew>.html``, ``.txt`` and ``.gpx`` for every crew.

    Parameters
    ----------
    plan : PlanDocument or mapping
        The plan document (or its dict, as stored).
    out_dir : str or Path
        Folder (created if missing).
    skip_empty : bool, keyword-only
        Leave out crews without stops.
    units : str, keyword-only, optional
        ``imperial`` or ``metric`` distances; default the city's (``city.toml``).

    Returns
    -------
    list of Path
        The files written, three per crew (HTML, GPX, text).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for it in crew_itineraries(plan, skip_empty=skip_empty, units=units):
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
