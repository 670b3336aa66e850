"""Crew route maps: every crew's street path in its own colour, numbered stops, the yard.

Distances in the legends and stop popups are in the city's units (``units`` in
``city.toml``: feet / miles or metres / km). The maps depend only on :class:`CrewRoute`
(drawing input defined here);
:func:`route_drawings_from_plan` converts a plan document
(:class:`geo311.plans.document.PlanDocument`, or its stored dict).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import folium

from geo311.city.profile import default_city
from geo311.errors import InputError
from geo311.plans.document import PlanDocument, RouteDoc, StepDoc, local_hm
from maps.base import Legend, add_boundary, add_streets, base_map, tooltip, write_map
from maps.streetlayer import StreetLines
from routing.itinerary import format_distance

PALETTE = (
    "#1c7ed6",
    "#e8590c",
    "#2f9e44",
    "#ae3ec9",
    "#f03e3e",
    "#0c8599",
    "#f59f00",
    "#5c940d",
    "#d6336c",
    "#495057",
)
"""Crew colours, assigned in plan order (distinguishable on the OSM base map)."""

LatLon = tuple[float, float]


@dataclass(frozen=True, slots=True)
class RouteStop:
    """One numbered stop of a crew's route.

    Attributes
    ----------
    number : int
        Visiting order, from 1.
    lat, lon : float
        Where the crew stops (EPSG:4326).
    eta : datetime or None
        Planned arrival (timezone-aware).
    label : str
        What the job is (service and address).
    job_id : str
        The job (or work-order) id.
    distance_m : float or None
        Driven from the yard to the stop, metres (``None``: unknown).
    """

    number: int
    lat: float
    lon: float
    eta: datetime | None
    label: str
    job_id: str
    distance_m: float | None = None


@dataclass(frozen=True, slots=True)
class CrewRoute:
    """What the routes map draws for one crew.

    Attributes
    ----------
    crew_id : str
        The crew.
    color : str
        CSS colour of its line and stops.
    polyline : tuple of (lat, lon)
        The path along the streets, yard to yard.
    stops : tuple of RouteStop
        The jobs in visiting order.
    yard : (lat, lon)
        Start and end depot.
    itinerary_href, gpx_href : str or None
        Relative links to the crew's printable itinerary and GPX file.
    distance_m : float or None
        The whole drive, yard to yard, metres (``None``: unknown).
    """

    crew_id: str
    color: str
    polyline: tuple[LatLon, ...]
    stops: tuple[RouteStop, ...]
    yard: LatLon
    itinerary_href: str | None = None
    gpx_href: str | None = None
    distance_m: float | None = None


def _stop_icon(number: int, color: str) -> folium.DivIcon:
    return folium.DivIcon(
        html=f'<div class="g311-stop" style="background:{html.escape(color)}">{number}</div>',
        icon_size=(24, 24),
        icon_anchor=(12, 12),
        class_name="",
    )


def _yard_icon() -> folium.DivIcon:
    return folium.DivIcon(
        html='<div class="g311-yard"><i class="fa-solid fa-warehouse"></i></div>',
        icon_size=(28, 28),
        icon_anchor=(14, 14),
        class_name="",
    )


def _eta(stop: RouteStop, tz: ZoneInfo) -> str:
    return local_hm(stop.eta, tz)


def _links(route: CrewRoute) -> str:
    parts = []
    if route.itinerary_href:
        parts.append(f'<a href="{html.escape(route.itinerary_href)}">printable itinerary</a>')
    if route.gpx_href:
        parts.append(f'<a href="{html.escape(route.gpx_href)}" download>GPX</a>')
    return " · ".join(parts)


def _units(units: str | None) -> str:
    chosen = units or default_city().units
    format_distance(0.0, units=chosen)  # InputError naming the units for unknown ones
    return chosen


def _summary(route: CrewRoute, units: str) -> str:
    """``5 stops`` or ``5 stops, 3.2 mi`` (the drive, yard to yard)."""
    stops = f"{len(route.stops)} stops"
    if route.distance_m is None:
        return stops
    return f"{stops}, {format_distance(route.distance_m, units=units)}"


def _popup(route: CrewRoute, stop: RouteStop, tz: ZoneInfo, units: str) -> str:
    driven = (
        f"<tr><td>Driven</td><td>{html.escape(format_distance(stop.distance_m, units=units))}"
        " from the yard</td></tr>"
        if stop.distance_m is not None
        else ""
    )
    return (
        f'<div class="g311-popup"><b>Crew {html.escape(route.crew_id)}, stop {stop.number}</b>'
        f"<table><tr><td>ETA</td><td>{html.escape(_eta(stop, tz))}</td></tr>{driven}"
        f"<tr><td>Job</td><td>{html.escape(stop.job_id)}</td></tr>"
        f"<tr><td>What</td><td>{html.escape(stop.label)}</td></tr></table></div>"
    )


def _draw_route(
    target: Any, route: CrewRoute, tz: ZoneInfo, units: str, *, show_yard: bool
) -> None:
    if len(route.polyline) >= 2:
        folium.PolyLine(
            route.polyline,
            color=route.color,
            weight=5,
            opacity=0.85,
            tooltip=tooltip(f"crew {route.crew_id}"),
            class_name=f"g311-route g311-route-{_css_id(route.crew_id)}",
        ).add_to(target)
    for stop in route.stops:
        folium.Marker(
            [stop.lat, stop.lon],
            icon=_stop_icon(stop.number, route.color),
            popup=folium.Popup(_popup(route, stop, tz, units), max_width=300),
            tooltip=tooltip(f"{route.crew_id} #{stop.number} ETA {_eta(stop, tz)}"),
        ).add_to(target)
    if show_yard:
        folium.Marker(route.yard, icon=_yard_icon(), tooltip="Yard").add_to(target)


def _css_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)


def _bounds(routes: Sequence[CrewRoute]) -> list[list[float]]:
    pts = [p for r in routes for p in r.polyline] + [
        (s.lat, s.lon) for r in routes for s in r.stops
    ]
    pts += [r.yard for r in routes]
    return [
        [min(p[0] for p in pts), min(p[1] for p in pts)],
        [max(p[0] for p in pts), max(p[1] for p in pts)],
    ]


def routes_map(
    routes: Sequence[CrewRoute],
    *,
    title: str = "Crew routes",
    boundary: str | Path | None = None,
    timezone: str | None = None,
    units: str | None = None,
) -> folium.Map:
    """Draw every crew's route: one coloured polyline and numbered stops per crew, the yard.

    Parameters
    ----------
    routes : sequence of CrewRoute
        The crews to draw (at least one).
    title : str, keyword-only
        Legend heading.
    boundary : str or Path, keyword-only, optional
        District outline GeoJSON.
    timezone : str, keyword-only, optional
        Time zone of the ETAs; default the city's (``data/city.toml``).
    units : str, keyword-only, optional
        ``imperial`` or ``metric`` distances; default the city's (``data/city.toml``).

    Returns
    -------
    folium.Map
        One layer per crew with a LayerControl and a legend linking each itinerary.

    Raises
    ------
    InputError
        If ``routes`` is empty.
    """
    if not routes:
        raise InputError("routes is empty; pass at least one CrewRoute", field="routes")
    tz = ZoneInfo(timezone or default_city().timezone)
    chosen = _units(units)
    m = base_map(location=routes[0].yard, zoom_start=15)
    add_boundary(m, boundary)
    for route in routes:
        group = folium.FeatureGroup(name=f"crew {route.crew_id} ({_summary(route, chosen)})")
        _draw_route(group, route, tz, chosen, show_yard=False)
        group.add_to(m)
    yards = {r.yard for r in routes}
    for yard in yards:
        folium.Marker(yard, icon=_yard_icon(), tooltip="Yard").add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    links = "".join(
        f"<div>{html.escape(r.crew_id)}: {_links(r)}</div>" for r in routes if _links(r)
    )
    Legend(
        title,
        [(r.color, f"crew {r.crew_id}: {_summary(r, chosen)}") for r in routes],
        extra_html=links,
    ).add_to(m)
    m.fit_bounds(_bounds(routes), padding=(20, 20))
    return m


def crew_route_map(
    route: CrewRoute,
    *,
    boundary: str | Path | None = None,
    timezone: str | None = None,
    units: str | None = None,
) -> folium.Map:
    """Draw one crew's route for a tablet in the truck, with links to its itinerary and GPX.

    Parameters
    ----------
    route : CrewRoute
        The crew's route.
    boundary : str or Path, keyword-only, optional
        District outline GeoJSON.
    timezone : str, keyword-only, optional
        Time zone of the ETAs; default the city's (``data/city.toml``).
    units : str, keyword-only, optional
        ``imperial`` or ``metric`` distances; default the city's (``data/city.toml``).

    Returns
    -------
    folium.Map
        The map, fitted to the route.
    """
    tz = ZoneInfo(timezone or default_city().timezone)
    chosen = _units(units)
    m = base_map(location=route.yard, zoom_start=16)
    add_boundary(m, boundary)
    _draw_route(m, route, tz, chosen, show_yard=True)
    stops = "".join(
        f"<div>{s.number}. {html.escape(_eta(s, tz))} {html.escape(s.label)}</div>"
        for s in route.stops
    )
    Legend(
        f"Crew {route.crew_id}",
        [(route.color, _summary(route, chosen))],
        position="topright",
        extra_html=f"<div>{_links(route)}</div>{stops}",
    ).add_to(m)
    m.fit_bounds(_bounds([route]), padding=(30, 30))
    return m


def write_route_maps(
    routes: Sequence[CrewRoute],
    out_dir: str | Path,
    *,
    boundary: str | Path | None = None,
    timezone: str | None = None,
    units: str | None = None,
    streets: StreetLines | None = None,
) -> list[Path]:
    """Write ``routes.html`` (all crews) and ``route_<crew>.html`` (one per crew).

    Parameters
    ----------
    routes : sequence of CrewRoute
        The crews.
    out_dir : str or Path
        Output folder; the links in each CrewRoute are relative to it.
    boundary : str or Path, keyword-only, optional
        District outline GeoJSON.
    timezone : str, keyword-only, optional
        Time zone of the ETAs; default the city's (``data/city.toml``).
    units : str, keyword-only, optional
        ``imperial`` or ``metric`` distances; default the city's (``data/city.toml``).
    streets : StreetLines, keyword-only, optional
        The city's street lines (:func:`maps.streetlayer.city_streets`), drawn into each file
        around its routes so it shows streets opened from disk; ``None``: online tiles only.

    Returns
    -------
    list of Path
        The files written, the all-crews map first.
    """
    out = Path(out_dir)
    every = routes_map(routes, boundary=boundary, timezone=timezone, units=units)
    add_streets(every, streets)
    paths = [write_map(every, out / "routes.html")]
    for route in routes:
        m = crew_route_map(route, boundary=boundary, timezone=timezone, units=units)
        add_streets(m, streets)
        paths.append(write_map(m, out / f"route_{_css_id(route.crew_id)}.html"))
    return paths


_Placed = tuple[int | None, LatLon, StepDoc]


def _placed_steps(route: RouteDoc, crew: str, locations: Sequence[LatLon]) -> list[_Placed]:
    """Return ``(location index, point, step)`` of every step with a place (breaks skipped)."""
    out: list[_Placed] = []
    for step in route.steps:
        if step.type == "break":
            continue
        idx = step.location_index
        if idx is not None:
            if not 0 <= idx < len(locations):
                raise InputError(
                    f"crew {crew!r}: step location_index {idx} is outside locations "
                    f"(0..{len(locations) - 1}); pass the plan's matrix locations",
                    field="locations",
                )
            out.append((idx, (float(locations[idx][0]), float(locations[idx][1])), step))
        elif step.location is not None:
            lon, lat = step.location
            out.append((None, (float(lat), float(lon)), step))
    return out


def _polyline(
    route: RouteDoc,
    placed: list[_Placed],
    path_between: Callable[[int, int], Sequence[LatLon]] | None,
) -> list[LatLon]:
    if route.geometry:
        return [(float(p[0]), float(p[1])) for p in route.geometry]
    polyline: list[LatLon] = []
    for (a_idx, a_pt, _), (b_idx, b_pt, _) in zip(placed, placed[1:], strict=False):
        leg = (
            list(path_between(a_idx, b_idx))
            if path_between is not None and a_idx is not None and b_idx is not None
            else [a_pt, b_pt]
        )
        if polyline and leg and tuple(leg[0]) == polyline[-1]:
            leg = leg[1:]
        polyline.extend((float(p[0]), float(p[1])) for p in leg)
    return polyline


def _route_stops(
    jobs: list[_Placed], labels: Mapping[str, str], *, distances: bool
) -> list[RouteStop]:
    stops = []
    for n, (_, point, step) in enumerate(jobs, start=1):
        job_id = str(step.job_id if step.job_id is not None else (step.job or ""))
        ref = step.ref
        label = labels.get(job_id) or (labels.get(str(ref)) if ref is not None else None)
        stops.append(
            RouteStop(
                number=n,
                lat=point[0],
                lon=point[1],
                eta=step.arrival,
                label=label or (f"work order {ref}" if ref else f"job {job_id}"),
                job_id=job_id,
                distance_m=step.distance_m if distances else None,
            )
        )
    return stops


def route_drawings_from_plan(
    plan: PlanDocument,
    *,
    locations: Sequence[LatLon],
    path_between: Callable[[int, int], Sequence[LatLon]] | None = None,
    labels: Mapping[str, str] | None = None,
    links: Callable[[str], tuple[str | None, str | None]] | None = None,
    colors: Sequence[str] = PALETTE,
    skip_empty: bool = True,
) -> list[CrewRoute]:
    """Convert a plan document (:class:`geo311.plans.document.PlanDocument`) into drawings.

    Reads each route's crew (``crew_id``, or VROOM's ``vehicle``) and of each step its
    ``type`` (``start``/``job``/``break``/``end``), ``location_index`` (or VROOM's
    ``location`` ``[lon, lat]``), ``arrival``, ``job_id`` (or ``job``) and ``ref``. A route's
    ``geometry`` (``[[lat, lon], ...]`` along the streets) is used as its line when present;
    otherwise ``path_between`` gives each leg.

    Parameters
    ----------
    plan : PlanDocument
        The plan document (a stored one: :func:`geo311.plans.repo.load_plan_document`).
    locations : sequence of (lat, lon), keyword-only
        Point of every matrix index used by the plan.
    path_between : callable, keyword-only, optional
        ``(from_index, to_index) -> [(lat, lon), ...]`` street path between two matrix
        indices (e.g. from ``routing.engine.graph``); without it legs are straight lines.
    labels : mapping, keyword-only, optional
        Job id (or ref) to a stop label such as "Pothole repair, 145 Ipswich St".
    links : callable, keyword-only, optional
        ``crew_id -> (itinerary_href, gpx_href)`` relative links.
    colors : sequence of str, keyword-only
        Crew colours, cycled in plan order.
    skip_empty : bool, keyword-only
        Leave out crews without jobs.

    Returns
    -------
    list of CrewRoute
        One per crew drawn.

    Raises
    ------
    InputError
        If the plan has no ``routes`` list or a step points at an unknown location.
    """
    doc = plan
    out: list[CrewRoute] = []
    for route in doc.routes:
        crew = str(route.crew_id or route.vehicle or len(out) + 1)
        placed = _placed_steps(route, crew, locations)
        jobs = [p for p in placed if p[2].type == "job"]
        if skip_empty and not jobs:
            continue
        # A document without distances (VROOM-style input) has 0 everywhere: unknown.
        known = route.distance_m > 0
        stops = _route_stops(jobs, labels or {}, distances=known)
        itinerary, gpx = links(crew) if links else (None, None)
        out.append(
            CrewRoute(
                crew_id=crew,
                color=colors[len(out) % len(colors)],
                polyline=tuple(_polyline(route, placed, path_between)),
                stops=tuple(stops),
                yard=placed[0][1] if placed else (stops[0].lat, stops[0].lon),
                itinerary_href=itinerary,
                gpx_href=gpx,
                distance_m=route.distance_m if known else None,
            )
        )
    return out


def plan_map(
    plan: PlanDocument,
    *,
    boundary: str | Path | None = None,
    timezone: str | None = None,
    units: str | None = None,
    streets: StreetLines | None = None,
) -> folium.Map:
    """Draw a stored plan's crew routes; an empty map of the city when no crew has a stop.

    Parameters
    ----------
    plan : PlanDocument
        The plan document (with ``locations``, ``labels`` and route ``geometry``).
    boundary : str or Path, keyword-only, optional
        District outline GeoJSON.
    timezone : str, keyword-only, optional
        Time zone of the ETAs; default the plan's, else the city's.
    units : str, keyword-only, optional
        ``imperial`` or ``metric`` distances; default the city's (``data/city.toml``).
    streets : StreetLines, keyword-only, optional
        The city's street lines, drawn into the page around the routes (works offline).

    Returns
    -------
    folium.Map
        :func:`routes_map` of the plan titled ``Plan <id>``, or the bare base map.
    """
    doc = plan
    drawings = route_drawings_from_plan(doc, locations=plan_locations(doc), labels=doc.labels)
    if not drawings:
        empty = base_map()
        add_streets(empty, streets)
        return empty
    m = routes_map(
        drawings,
        title=f"Plan {doc.plan_id}",
        boundary=boundary,
        timezone=timezone or doc.timezone,
        units=units,
    )
    add_streets(m, streets)
    return m


def plan_locations(doc: PlanDocument) -> list[LatLon]:
    """Return a plan's points per matrix index as ``(lat, lon)`` (its ``locations``)."""
    return [(float(p[0]), float(p[1])) for p in doc.locations]
