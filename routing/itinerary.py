"""Crew itineraries as data: numbered stops, street legs, turn-by-turn directions and ETAs.

An itinerary is built from a plan document (:class:`geo311.plans.document.PlanDocument`, as
stored), so the API can give one for a stored plan without loading the street graph: the
document carries each leg's street edges (names, lengths, times, bearings) and coordinates.
Directions merge consecutive edges of the same street and name the turn from the bearing
change (:mod:`routing.engine.directions`); ETAs come from the plan's departure times plus the travel
time along the path. Distances are shown in the city's units (``units`` in ``city.toml``:
feet / miles or metres / km), see :func:`format_distance`. Rendering (HTML, text, GPX,
files) is :mod:`maps.itinerary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from geo311.city.profile import UNITS, default_city
from geo311.errors import InputError
from geo311.plans.document import DepotDoc, PlanDocument, RouteDoc, StepDoc, local_hm
from routing.engine.directions import Instruction, Segment, directions, turn_modifier

__all__ = [
    "CrewItinerary",
    "Instruction",
    "ItineraryBreak",
    "ItineraryLeg",
    "ItineraryStop",
    "Segment",
    "TimedInstruction",
    "crew_itineraries",
    "crew_itinerary",
    "directions",
    "format_distance",
    "turn_modifier",
]

FEET_PER_METRE = 1.0 / 0.3048
METRES_PER_MILE = 1609.344


def format_distance(metres: float, *, units: str = "metric") -> str:
    """Return a distance for a crew sheet in a city's units.

    Parameters
    ----------
    metres
        The distance in metres.
    units
        ``metric`` (``80 m``, ``1.2 km``) or ``imperial`` (feet to the nearest 10 below a
        tenth of a mile, ``250 ft``; else miles, ``0.3 mi``, ``1.2 mi``).

    Returns
    -------
    str
        The distance with its unit.

    Raises
    ------
    InputError
        For other units.
    """
    if units == "metric":
        if metres < 995:
            return f"{max(0.0, round(metres / 10.0) * 10.0):.0f} m"
        return f"{metres / 1000.0:.1f} km"
    if units != "imperial":
        raise InputError(
            f"units {units!r} is not one of {', '.join(UNITS)}; use the city's units (city.toml)",
            field="units",
        )
    miles = max(0.0, metres) / METRES_PER_MILE
    if miles < 0.1:
        return f"{round(max(0.0, metres) * FEET_PER_METRE / 10.0) * 10:.0f} ft"
    return f"{miles:.1f} mi"


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
    units : str
        ``imperial`` or ``metric``: how :meth:`distance` shows distances.
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
    units: str = "metric"

    @property
    def tz(self) -> ZoneInfo:
        """The time zone object."""
        return ZoneInfo(self.timezone)

    def hm(self, when: datetime | None) -> str:
        """Return ``HH:MM`` local time (``-`` for None)."""
        return local_hm(when, self.tz)

    def distance(self, metres: float) -> str:
        """Return a distance in the itinerary's units (``0.3 mi``, ``450 m`` ...)."""
        return format_distance(metres, units=self.units)


def _yard(doc: PlanDocument, steps: list[StepDoc], crew_id: str) -> tuple[str, float, float]:
    start_idx = steps[0].location_index if steps else None
    depot = next((d for d in doc.depots if d.location_index == start_idx), None)
    if depot is None:
        point = (
            doc.locations[start_idx]
            if start_idx is not None and 0 <= start_idx < len(doc.locations)
            else None
        )
        depot = DepotDoc(
            id="yard", lat=point[0] if point else None, lon=point[1] if point else None
        )
    if depot.lat is None or depot.lon is None:
        raise InputError(
            f"the plan document has no yard location for crew {crew_id!r} (no 'depots' entry "
            "and no 'locations' point for its start); make it with routing.dispatch.plan_day",
            field="depots",
        )
    return (depot.label, float(depot.lat), float(depot.lon))


def _when(value: datetime | None, what: str) -> datetime:
    if value is None:
        raise InputError(
            f"a step of the plan document has no {what} time; make it with "
            "routing.dispatch.plan_day",
            field=what,
        )
    return value


def _stops(doc: PlanDocument, steps: list[StepDoc], crew_id: str) -> dict[int, ItineraryStop]:
    """Return the numbered stops by step index."""
    done = doc.done_for(crew_id)
    out: dict[int, ItineraryStop] = {}
    for k, s in enumerate(steps):
        if s.type != "job":
            continue
        job_id = str(s.job_id)
        info = doc.jobs.get(job_id)
        arrival = _when(s.arrival, "arrival")
        lat = s.lat if s.lat is not None else (info.lat if info else None)
        lon = s.lon if s.lon is not None else (info.lon if info else None)
        out[k] = ItineraryStop(
            number=len(out) + 1,
            job_id=job_id,
            work_order_id=(
                info.work_order_id if info and info.work_order_id is not None else s.work_order_id
            ),
            service_name=(info.service_name if info else None) or doc.labels.get(job_id, ""),
            address=(info.address if info else None) or "",
            arrival=arrival,
            service_start=arrival + timedelta(seconds=s.waiting_s),
            departure=_when(s.departure, "departure"),
            on_site_min=s.service_s / 60.0,
            report_count=info.report_count if info else None,
            sla_due=info.sla_due if info else None,
            priority=info.priority_name if info else "",
            lat=float(lat or 0.0),
            lon=float(lon or 0.0),
            done=job_id in done,
        )
    return out


def _breaks(steps: list[StepDoc]) -> dict[int, ItineraryBreak]:
    """Return the breaks the crew takes, by step index: none after its last stop.

    A break after the last stop (or on a day with no stop) is no break: the crew drives back
    to the yard instead (see :func:`_without_idle_breaks`).
    """
    last = max((k for k, s in enumerate(steps) if s.type == "job"), default=-1)
    return {
        k: ItineraryBreak(
            s.break_id or "break", _when(s.arrival, "arrival"), _when(s.departure, "departure")
        )
        for k, s in enumerate(steps)
        if s.type == "break" and k < last
    }


def _without_idle_breaks(route: RouteDoc) -> RouteDoc:
    """Return the route with the yard arrival moved earlier by the breaks after its last stop.

    The solver keeps a crew's break in its day even when no stop follows it (a one-stop crew,
    an empty day), which made the crew "back at the yard" after a lunch it never takes.
    """
    steps = route.steps
    last = max((k for k, s in enumerate(steps) if s.type == "job"), default=-1)
    idle = sum(
        (_when(s.departure, "departure") - _when(s.arrival, "arrival")).total_seconds()
        for s in steps[last + 1 :]
        if s.type == "break" and s.arrival is not None and s.departure is not None
    )
    if not idle or not steps or steps[-1].type == "break" or steps[-1].arrival is None:
        return route
    end = steps[-1]
    moved = end.model_copy(
        update={
            "arrival": _when(end.arrival, "arrival") - timedelta(seconds=idle),
            "arrival_s": max(end.arrival_s - idle, 0.0),
        }
    )
    return route.model_copy(update={"steps": [*steps[:-1], moved]})


def _timed(
    instructions: list[Instruction],
    depart: datetime,
    arrive: datetime,
    pauses: list[ItineraryBreak],
) -> list[TimedInstruction]:
    timed = []
    for i in instructions:
        eta = depart + timedelta(seconds=i.offset_s)
        for b in pauses:
            if b.start <= eta:
                eta += b.end - b.start
        if i.kind == "arrive":
            eta = arrive
        timed.append(TimedInstruction(i, eta))
    return timed


def _legs(
    route: RouteDoc,
    stops: dict[int, ItineraryStop],
    breaks: dict[int, ItineraryBreak],
    yard_label: str,
) -> dict[int, ItineraryLeg]:
    """Return the drives by the step index they arrive at."""
    steps = route.steps
    out: dict[int, ItineraryLeg] = {}
    for leg in route.legs:
        ka, kb = leg.from_step, leg.to_step
        depart = _when(steps[ka].departure, "departure")
        arrive = _when(steps[kb].arrival, "arrival")
        to_stop = stops.get(kb)
        dest = (
            f"stop {to_stop.number}: {to_stop.address or to_stop.service_name}"
            if to_stop is not None
            else f"the yard ({yard_label})"
        )
        pauses = [b for k, b in breaks.items() if ka < k < kb]
        out[kb] = ItineraryLeg(
            to_number=to_stop.number if to_stop is not None else None,
            destination=dest,
            depart=depart,
            arrive=arrive,
            distance_m=leg.distance_m,
            duration_s=leg.duration_s,
            coords=[(float(p[0]), float(p[1])) for p in leg.coords],
            instructions=_timed(directions(leg.edges, destination=dest), depart, arrive, pauses),
        )
    return out


def _timeline(
    n_steps: int,
    stops: dict[int, ItineraryStop],
    breaks: dict[int, ItineraryBreak],
    legs: dict[int, ItineraryLeg],
) -> list[tuple[str, Any]]:
    timeline: list[tuple[str, Any]] = []
    for k in range(n_steps):
        if k in breaks:
            timeline.append(("break", breaks[k]))
        if k in legs:
            timeline.append(("leg", legs[k]))
        if k in stops:
            timeline.append(("stop", stops[k]))
    return timeline


def crew_itinerary(plan: PlanDocument, crew_id: str, *, units: str | None = None) -> CrewItinerary:
    """Build one crew's itinerary from a plan document.

    Parameters
    ----------
    plan : PlanDocument
        The plan document (a stored one: :func:`geo311.plans.repo.load_plan_document`).
    crew_id : str
        The crew.
    units : str, keyword-only, optional
        ``imperial`` or ``metric`` for the distances shown; default the city's
        (``city.toml``).

    Returns
    -------
    CrewItinerary
        Stops, legs with directions and ETAs, breaks and totals.

    Raises
    ------
    NotFoundError
        When the plan has no route for ``crew_id`` (the message lists the crews).
    InputError
        When the document lacks the route legs written by ``routing.dispatch``.
    """
    doc = plan
    route = _without_idle_breaks(doc.route(crew_id))
    steps = route.steps
    if route.job_steps and not route.has_legs:
        raise InputError(
            "the plan document has no route 'legs' (street paths); make it with "
            "routing.dispatch.plan_day",
            field="legs",
        )
    tz_name = doc.timezone or default_city().timezone
    yard = _yard(doc, steps, crew_id)
    stops = _stops(doc, steps, crew_id)
    breaks = _breaks(steps)
    legs = _legs(route, stops, breaks, yard[0])
    fallback = doc.origin or datetime.now(ZoneInfo(tz_name))
    crew = next((c for c in doc.crews if c.id == crew_id), None)
    return CrewItinerary(
        plan_id=doc.plan_id,
        crew_id=crew_id,
        crew_label=(crew.label if crew else "") or crew_id,
        plan_date=doc.plan_date or (doc.origin.date().isoformat() if doc.origin else ""),
        timezone=tz_name,
        yard=yard,
        start=(steps[0].departure if steps else None) or fallback,
        end=(steps[-1].arrival if steps else None) or fallback,
        stops=list(stops.values()),
        legs=list(legs.values()),
        breaks=list(breaks.values()),
        timeline=_timeline(len(steps), stops, breaks, legs),
        travel_s=route.travel_s,
        distance_m=route.distance_m,
        service_s=route.service_s,
        geometry=[(float(p[0]), float(p[1])) for p in route.geometry],
        units=_units(units),
    )


def _units(units: str | None) -> str:
    chosen = units or default_city().units
    format_distance(0.0, units=chosen)  # InputError for unknown units
    return chosen


def crew_itineraries(
    plan: PlanDocument,
    *,
    skip_empty: bool = True,
    units: str | None = None,
) -> list[CrewItinerary]:
    """Build every crew's itinerary.

    Parameters
    ----------
    plan : PlanDocument
        The plan document (a stored one: :func:`geo311.plans.repo.load_plan_document`).
    skip_empty : bool, keyword-only
        Leave out crews without stops.
    units : str, keyword-only, optional
        ``imperial`` or ``metric``; default the city's (``city.toml``).

    Returns
    -------
    list of CrewItinerary
        In the plan's crew order.
    """
    doc = plan
    out = [crew_itinerary(doc, crew, units=units) for crew in doc.crew_ids()]
    return [it for it in out if it.stops or not skip_empty]
