"""Crew itineraries rendered: printable HTML, plain text, GPX, and the files of a plan.

The itinerary data (stops, legs, directions, ETAs) comes from :mod:`routing.itinerary`;
this module only presents it, with distances in the itinerary's units (the city's feet /
miles or metres / km). :func:`write_itineraries`, declared as a ``geo311.plan_writers``
entry point, makes ``geo311 plan``, ``geo311 replan`` and the demo write the itineraries
beside ``plan.json`` without ``routing`` importing ``maps``. The words are in the language
of the ``i18n`` :class:`~geo311.i18n.Localizer` given (default: the city's own); the
turn-by-turn directions come from :mod:`routing` and stay in English.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo311.city.profile import default_city
from geo311.i18n import N_, Localizer
from geo311.plans.document import PlanDocument
from routing.engine.directions import Instruction
from routing.itinerary import (
    CrewItinerary,
    ItineraryBreak,
    ItineraryLeg,
    ItineraryStop,
    crew_itineraries,
)

__all__ = [
    "instruction_text",
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


def city_i18n(language: str | None = None) -> Localizer:
    """Return the :class:`~geo311.i18n.Localizer` of a language in the city (default its own)."""
    return default_city().words(language)


def _header(it: CrewItinerary, tr: Localizer) -> _Header:
    plan = tr.gettext(" - plan %(id)s") % {"id": it.plan_id} if it.plan_id else ""
    stops = tr.ngettext("%(n)d stop", "%(n)d stops", len(it.stops)) % {"n": len(it.stops)}
    return _Header(
        crew=f"{it.crew_label} ({it.crew_id})",
        plan=it.plan_date + plan,
        day=tr.gettext("Leave %(yard)s at %(start)s, back at %(end)s")
        % {"yard": it.yard[0], "start": it.hm(it.start), "end": it.hm(it.end)},
        totals=tr.gettext("%(stops)s, %(distance)s driving (%(drive)s), %(site)s on site")
        % {
            "stops": stops,
            "distance": it.distance(it.distance_m),
            "drive": tr.duration(it.travel_s),
            "site": tr.duration(it.service_s),
        },
    )


def _stop_line(it: CrewItinerary, s: ItineraryStop, tr: Localizer, wo: str = "") -> str:
    """Return a stop's second line: service, work order (``wo`` instead), on site, reports, SLA."""
    reports = s.report_count or 1
    words = tr.gettext("%(service)s - work order %(wo)s - %(site)s on site") % {
        "service": s.service_name,
        "wo": wo or s.work_order_id,
        "site": tr.duration(s.on_site_min * 60),
    }
    words += " - " + tr.ngettext("%(n)d report", "%(n)d reports", reports) % {"n": reports}
    if s.sla_due:
        words += " - " + tr.gettext("SLA due %(when)s") % {"when": tr.datetime(s.sla_due, "short")}
    return words + (f" - {s.priority}" if s.priority else "")


# ---------------------------------------------------------------- text


def itinerary_text(it: CrewItinerary, *, i18n: Localizer | None = None) -> str:
    """Return a plain-text itinerary (for a phone message or a terminal).

    Parameters
    ----------
    it : CrewItinerary
        The itinerary.
    i18n : Localizer, keyword-only, optional
        The reader's language and formats; default the city's.

    Returns
    -------
    str
        Numbered stops with ETAs and the directions between them.
    """
    tr = i18n or city_i18n()
    head = _header(it, tr)
    lines = [f"{head.crew} - {head.plan}", f"{head.day}; {head.totals}", ""]
    for kind, item in it.timeline:
        if kind == "leg":
            lines += _text_leg(it, item, tr)
        elif kind == "break":
            words = tr.gettext("Break (%(id)s)") % {"id": item.id}
            lines += [f"  {it.hm(item.start)}-{it.hm(item.end)}  {words}", ""]
        else:
            s: ItineraryStop = item
            done = "  [" + tr.gettext("done") + "]" if s.done else ""
            address = s.address or tr.gettext("(no address)")
            lines += ["", f"{s.number}. {it.hm(s.arrival)}  {address}{done}"]
            lines += [f"   {_stop_line(it, s, tr)}", ""]
    return "\n".join(lines).rstrip() + "\n"


def _text_leg(it: CrewItinerary, leg: ItineraryLeg, tr: Localizer) -> list[str]:
    drive = tr.gettext("Drive to %(place)s (%(distance)s, %(time)s)") % {
        "place": leg.destination,
        "distance": it.distance(leg.distance_m),
        "time": tr.duration(leg.duration_s),
    }
    lines = [f"  {drive}"]
    for t in leg.instructions:
        dist = f" - {it.distance(t.instruction.distance_m)}" if t.instruction.distance_m else ""
        said = instruction_text(t.instruction, tr, destination=leg.destination)
        lines.append(f"    {it.hm(t.eta)}  {said}{dist}")
    return lines


# ------------------------------------------------------- directions

# The turn-by-turn sentences (pybabel reads them; each is translated when drawn).
_TURNS = {
    ("left", False): N_("Turn left onto %(street)s"),
    ("right", False): N_("Turn right onto %(street)s"),
    ("slight left", False): N_("Turn slight left onto %(street)s"),
    ("slight right", False): N_("Turn slight right onto %(street)s"),
    ("sharp left", False): N_("Turn sharp left onto %(street)s"),
    ("sharp right", False): N_("Turn sharp right onto %(street)s"),
    ("uturn", False): N_("Make a U-turn onto %(street)s"),
    ("uturn", True): N_("Make a U-turn on %(street)s"),
    ("straight", False): N_("Continue onto %(street)s"),
    ("straight", True): N_("Continue on %(street)s"),
}
_HEADINGS = {
    "north": N_("north"),
    "northeast": N_("northeast"),
    "east": N_("east"),
    "southeast": N_("southeast"),
    "south": N_("south"),
    "southwest": N_("southwest"),
    "west": N_("west"),
    "northwest": N_("northwest"),
}


def instruction_text(ins: Instruction, tr: Localizer, *, destination: str) -> str:
    """Return one line of turn-by-turn directions in the reader's language.

    Parameters
    ----------
    ins
        The instruction (:func:`routing.engine.directions.directions`).
    tr
        The reader's language and formats.
    destination
        Where the leg ends (the ``arrive`` line names it).

    Returns
    -------
    str
        The sentence; the routing's own English text for an instruction it does not know.
    """
    if ins.kind == "depart" and ins.heading in _HEADINGS:
        heading = tr.gettext(_HEADINGS[ins.heading])
        return tr.gettext("Head %(heading)s on %(street)s") % {
            "heading": heading,
            "street": ins.street,
        }
    if ins.kind == "arrive":
        if ins.same_street:
            return tr.gettext("Arrive at %(place)s (same place)") % {"place": destination}
        return tr.gettext("Arrive at %(place)s") % {"place": destination}
    message = _TURNS.get((ins.modifier, ins.same_street)) or _TURNS.get((ins.modifier, False))
    if ins.kind == "turn" and message is not None:
        return tr.gettext(message) % {"street": ins.street}
    return ins.text


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


def _html_row(it: CrewItinerary, s: ItineraryStop, tr: Localizer) -> str:
    sla = tr.datetime(s.sla_due, "short") if s.sla_due else ""
    done = tr.gettext("done") if s.done else ""
    return (
        f"<tr><td>{s.number}</td><td class='eta'>{_e(it.hm(s.arrival))}</td><td>{_e(s.address)}</td>"
        f"<td>{_e(s.service_name)}</td><td>{_e(s.work_order_id)}</td><td>{s.on_site_min:.0f}</td>"
        f"<td>{_e(s.report_count)}</td><td>{_e(sla)}</td>"
        f"<td>{_e(s.priority)}</td><td>{_e(done)}</td></tr>"
    )


def _html_leg(it: CrewItinerary, leg: ItineraryLeg, tr: Localizer) -> str:
    lis = "".join(
        f"<li><span class='eta'>{_e(it.hm(t.eta))}</span> "
        f"{_e(instruction_text(t.instruction, tr, destination=leg.destination))}"
        + (
            f" <span class='small'>{_e(it.distance(t.instruction.distance_m))}</span>"
            if t.instruction.distance_m
            else ""
        )
        + "</li>"
        for t in leg.instructions
    )
    words = tr.gettext(
        "Drive to %(place)s: %(distance)s, %(time)s, leave %(leave)s, arrive %(arrive)s"
    ) % {
        "place": leg.destination,
        "distance": it.distance(leg.distance_m),
        "time": tr.duration(leg.duration_s),
        "leave": it.hm(leg.depart),
        "arrive": it.hm(leg.arrive),
    }
    return f"<div class='leg'><div class='small'>{_e(words)}</div><ol>{lis}</ol></div>"


def _html_break(it: CrewItinerary, b: ItineraryBreak, tr: Localizer) -> str:
    words = tr.gettext("break (%(id)s)") % {"id": b.id}
    return f"<div class='break'>{_e(it.hm(b.start))}-{_e(it.hm(b.end))} {_e(words)}</div>"


def _html_stop(it: CrewItinerary, s: ItineraryStop, tr: Localizer) -> str:
    work = tr.gettext("ETA %(eta)s, work %(start)s-%(end)s (%(site)s on site)") % {
        "eta": it.hm(s.arrival),
        "start": it.hm(s.service_start),
        "end": it.hm(s.departure),
        "site": tr.duration(s.on_site_min * 60),
    }
    address = s.address or tr.gettext("(no address)")
    line = _e(_stop_line(it, s, tr, wo="\x00")).replace("\x00", f"<b>{_e(s.work_order_id)}</b>")
    return (
        f"<div class='stop{' done' if s.done else ''}' id='stop-{s.number}'>"
        f"<span class='num'>{s.number}</span><b>{_e(address)}</b>"
        f"<div>{_e(work)}</div><div>{line}</div>"
        f"<div class='small'>{s.lat:.6f}, {s.lon:.6f}</div></div>"
    )


def _html_item(it: CrewItinerary, kind: str, item: Any, tr: Localizer) -> str:
    if kind == "leg":
        return _html_leg(it, item, tr)
    if kind == "break":
        return _html_break(it, item, tr)
    return _html_stop(it, item, tr)


def _html_heads(tr: Localizer) -> str:
    heads = [
        "#",
        tr.gettext("ETA"),
        tr.gettext("Address"),
        tr.gettext("Service"),
        tr.gettext("Work order"),
        tr.gettext("On site (min)"),
        tr.gettext("Reports"),
        tr.gettext("SLA due"),
        tr.gettext("Priority"),
        "",
    ]
    return "".join(f"<th>{_e(h)}</th>" for h in heads)


def itinerary_html(it: CrewItinerary, *, i18n: Localizer | None = None) -> str:
    """Return a printable, self-contained HTML itinerary (no external files or scripts).

    Parameters
    ----------
    it : CrewItinerary
        The itinerary.
    i18n : Localizer, keyword-only, optional
        The reader's language and formats (``<html lang>``); default the city's.

    Returns
    -------
    str
        An HTML5 page: a stop table, then the day in order with numbered stops (address,
        service, work order, ETA, on-site minutes, reports, SLA due) and directions between.
    """
    tr = i18n or city_i18n()
    title = f"{it.crew_label} - {it.plan_date}"
    rows = "".join(_html_row(it, s, tr) for s in it.stops)
    body = [_html_item(it, kind, item, tr) for kind, item in it.timeline]
    head = _header(it, tr)
    zone = tr.gettext("Times are %(zone)s.") % {"zone": it.timezone}
    leave = tr.gettext("leave %(yard)s") % {"yard": it.yard[0]}
    back = tr.gettext("back at the yard")
    printed = tr.gettext("Generated by geo311. Print with your browser (A4/Letter).")
    return (
        f"<!doctype html>\n<html lang='{_e(tr.language)}'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{_e(it.crew_label)} <span class='small'>({_e(it.crew_id)})</span></h1>"
        f"<p class='meta'>{_e(head.plan)}. {_e(head.day)}. {_e(head.totals)}. {_e(zone)}</p>"
        f"<table class='stops'><thead><tr>{_html_heads(tr)}</tr></thead>"
        f"<tbody>{rows}</tbody></table>"
        f"<div class='day'><div class='small'>{_e(it.hm(it.start))} {_e(leave)}</div>"
        + "".join(body)
        + f"<div class='small'>{_e(it.hm(it.end))} {_e(back)}</div></div>"
        f"<p class='small noprint'>{_e(printed)}</p>"
        "</body></html>\n"
    )


# ---------------------------------------------------------------- GPX


def itinerary_gpx(it: CrewItinerary, *, i18n: Localizer | None = None) -> str:
    """Return the itinerary as GPX 1.1: a street track, a route and numbered waypoints.

    Parameters
    ----------
    it : CrewItinerary
        The itinerary.
    i18n : Localizer, keyword-only, optional
        The language of the names and descriptions; default the city's.

    Returns
    -------
    str
        GPX XML: one track following the streets yard to yard, one route through the yard and
        the stops, and a waypoint per stop named ``"<n>. <address>"`` with its ETA as time.
    """
    import gpxpy.gpx

    tr = i18n or city_i18n()
    yard = tr.gettext("Yard")
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
    route.points.append(gpxpy.gpx.GPXRoutePoint(it.yard[1], it.yard[2], name=yard))
    for s in it.stops:
        label = f"{s.number}. {s.address or s.service_name}"
        route.points.append(gpxpy.gpx.GPXRoutePoint(s.lat, s.lon, name=label))
        gpx.waypoints.append(
            gpxpy.gpx.GPXWaypoint(
                s.lat,
                s.lon,
                time=s.arrival,
                name=label,
                description=_gpx_description(it, s, tr),
                symbol="Flag, Blue",
                type="stop",
            )
        )
    route.points.append(gpxpy.gpx.GPXRoutePoint(it.yard[1], it.yard[2], name=yard))
    gpx.routes.append(route)
    return str(gpx.to_xml(version="1.1"))


def _gpx_description(it: CrewItinerary, s: ItineraryStop, tr: Localizer) -> str:
    reports = s.report_count or 1
    return (
        tr.gettext("%(service)s; work order %(wo)s; ETA %(eta)s; %(site)s on site")
        % {
            "service": s.service_name,
            "wo": s.work_order_id,
            "eta": it.hm(s.arrival),
            "site": tr.duration(s.on_site_min * 60),
        }
        + "; "
        + tr.ngettext("%(n)d report", "%(n)d reports", reports) % {"n": reports}
    )


# ---------------------------------------------------------------- files


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "crew"


def write_itineraries(
    plan: PlanDocument,
    out_dir: str | Path,
    *,
    skip_empty: bool = True,
    units: str | None = None,
) -> list[Path]:
    """Write ``itinerary_<crew>.html``, ``.txt`` and ``.gpx`` for every crew.

    Parameters
    ----------
    plan : PlanDocument
        The plan document (a stored one: :func:`geo311.plans.repo.load_plan_document`).
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
