"""The plan document: the one typed shape of a day plan as stored, drawn, rendered and served.

A day's plan travels from :mod:`routing.dispatch` to the store, to :mod:`maps`, to the API and
to the CLI as the JSON document described here (VROOM-like: ``summary``, ``routes[].steps[]``,
``unassigned[]`` with reasons, plus street ``legs``, ``locations``, ``jobs``, ``crews`` ...).
The pydantic models read a stored document (:meth:`PlanDocument.from_dict` /
:meth:`PlanDocument.from_json`) and write it back key for key: :meth:`PlanDocument.to_dict`
keeps exactly the keys that were set, so stored plans and older documents round-trip
unchanged. The API uses :class:`PlanDocument` as its ``response_model``.

Clock times are aware datetimes, written as ISO 8601 strings (``datetime.isoformat``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from geo311.errors import InputError, NotFoundError

__all__ = [
    "BreakDoc",
    "CrewDoc",
    "DepotDoc",
    "DirectionDoc",
    "DispatchDoc",
    "EdgeDoc",
    "IsoDateTime",
    "JobDoc",
    "LegDoc",
    "PlanDocument",
    "RouteDoc",
    "StepDoc",
    "SummaryDoc",
    "UnassignedDoc",
    "clock_at",
    "clock_iso",
    "local_hm",
    "unassigned_dict",
]

IsoDateTime = Annotated[
    datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str, when_used="always")
]
"""An aware datetime, written as ``datetime.isoformat()`` (``+00:00``, never ``Z``)."""


def clock_at(origin: datetime, t: float | None) -> datetime | None:
    """Return the clock time ``t`` seconds after ``origin`` (None for None)."""
    return None if t is None else origin + timedelta(seconds=t)


def clock_iso(origin: datetime, t: float | None) -> str | None:
    """Return the ISO clock time ``t`` seconds after ``origin`` (None for None).

    Parameters
    ----------
    origin : datetime
        Time 0 of the plan (aware).
    t : float or None
        Seconds from ``origin``.

    Returns
    -------
    str or None
        ``(origin + t).isoformat()``.
    """
    when = clock_at(origin, t)
    return None if when is None else when.isoformat()


def local_hm(when: datetime | None, tz: tzinfo) -> str:
    """Return ``HH:MM`` of ``when`` in ``tz`` (``-`` for None): the clock of crew sheets."""
    return when.astimezone(tz).strftime("%H:%M") if when is not None else "-"


def unassigned_dict(unassigned: Any, origin: datetime) -> dict[str, Any]:
    """Return an unassigned job (a :class:`routing.engine.solve.Unassigned`) as document data.

    Parameters
    ----------
    unassigned : Unassigned
        The dataclass (its fields are kept, plus ``sla_due`` as a clock time).
    origin : datetime
        Time 0 of the plan.

    Returns
    -------
    dict
        The fields of the dataclass and ``sla_due`` (ISO or None).

    Raises
    ------
    InputError
        When ``unassigned`` is not a dataclass instance.
    """
    if not is_dataclass(unassigned) or isinstance(unassigned, type):
        raise InputError(
            f"unassigned is a {type(unassigned).__name__}; pass a routing.engine.solve.Unassigned",
            field="unassigned",
        )
    data = asdict(unassigned)
    data["sla_due"] = clock_iso(origin, data.get("sla_due_s"))
    return data


class _Doc(BaseModel):
    """Base of the document parts: unknown keys are kept, so nothing stored is lost."""

    model_config = ConfigDict(extra="allow")


class SummaryDoc(_Doc):
    """Plan totals (VROOM's ``summary``; :class:`routing.engine.solve.Summary`)."""

    cost: float = 0.0
    routes: int = 0
    travel_s: float = 0.0
    distance_m: float = 0.0
    service_s: float = 0.0
    waiting_s: float = 0.0
    break_s: float = 0.0
    jobs_served: int = 0
    jobs_unassigned: int = 0
    solve_time_s: float = 0.0
    objective: int = 0
    is_feasible: bool = True


class StepDoc(_Doc):
    """One step of a route: the solver's step, its clock times, street point and work order.

    ``location`` (VROOM's ``[lon, lat]``) and ``job`` are read from VROOM-style input only.
    """

    type: str
    arrival_s: float = 0.0
    departure_s: float = 0.0
    waiting_s: float = 0.0
    service_s: float = 0.0
    load: float = 0.0
    location_index: int | None = None
    job_id: str | None = None
    ref: str | None = None
    break_id: str | None = None
    distance_m: float = 0.0
    duration_s: float = 0.0
    arrival: IsoDateTime | None = None
    departure: IsoDateTime | None = None
    lat: float | None = None
    lon: float | None = None
    work_order_id: int | None = None
    location: list[float] | None = Field(default=None, exclude=True)
    job: str | int | None = Field(default=None, exclude=True)


class EdgeDoc(_Doc):
    """A street edge driven along a leg (what directions are computed from)."""

    name: str | list[str] = ""
    highway: str = ""
    length_m: float = 0.0
    travel_time_s: float = 0.0
    bearing_start: float = 0.0
    bearing_end: float = 0.0


class DirectionDoc(_Doc):
    """One turn-by-turn instruction (:class:`routing.engine.directions.Instruction`)."""

    kind: str
    modifier: str = ""
    street: str = ""
    distance_m: float = 0.0
    duration_s: float = 0.0
    offset_s: float = 0.0
    heading: str = ""
    text: str = ""


class LegDoc(_Doc):
    """The drive between two steps of a route along the streets."""

    from_step: int
    to_step: int
    duration_s: float = 0.0
    distance_m: float = 0.0
    coords: list[list[float]] = Field(default_factory=list)
    edges: list[EdgeDoc] = Field(default_factory=list)
    directions: list[DirectionDoc] = Field(default_factory=list)


class RouteDoc(_Doc):
    """One crew's route: steps, totals, street geometry and legs.

    ``vehicle`` (VROOM's crew number) is read from VROOM-style input only.
    """

    crew_id: str | None = None
    steps: list[StepDoc] = Field(default_factory=list)
    travel_s: float = 0.0
    distance_m: float = 0.0
    service_s: float = 0.0
    waiting_s: float = 0.0
    break_s: float = 0.0
    cost: float = 0.0
    geometry: list[list[float]] = Field(default_factory=list)
    legs: list[LegDoc] = Field(default_factory=list)
    vehicle: str | int | None = Field(default=None, exclude=True)

    @property
    def has_legs(self) -> bool:
        """Whether the document gave this route its street ``legs``."""
        return "legs" in self.model_fields_set

    @property
    def job_steps(self) -> list[StepDoc]:
        """The job steps, in visiting order."""
        return [s for s in self.steps if s.type == "job"]


class UnassignedDoc(_Doc):
    """A work order left out of the plan, with its reason code and text."""

    job_id: str
    code: str
    reason: str = ""
    priority: int = 0
    ref: str | None = None
    location_index: int = -1
    sla_due_s: float | None = None
    sla_due: IsoDateTime | None = None


class JobDoc(_Doc):
    """Facts of one work order of the plan (served, unassigned or outside the graph)."""

    work_order_id: int | None = None
    service_code: str | None = None
    service_name: str | None = None
    service_group: str | None = None
    address: str | None = None
    report_count: int | None = None
    member_ids: list[str] = Field(default_factory=list)
    opened: IsoDateTime | None = None
    sla_due: IsoDateTime | None = None
    lat: float | None = None
    lon: float | None = None
    location_index: int | None = None
    on_site_min: float | None = None
    skill: str = ""
    demand: float | None = None
    priority: int | None = None
    priority_name: str = ""
    snap_distance_m: float | None = None


class BreakDoc(_Doc):
    """A crew break: its length and allowed windows (clock times)."""

    id: str
    minutes: float = 0.0
    windows: list[list[IsoDateTime | None]] = Field(default_factory=list)


class CrewDoc(_Doc):
    """A crew of the plan: skills, shift, capacity, cost and breaks."""

    id: str
    label: str = ""
    skills: list[str] = Field(default_factory=list)
    shift_start: IsoDateTime | None = None
    shift_end: IsoDateTime | None = None
    capacity: float | None = None
    capacity_unit: str = ""
    cost_per_hour: float = 0.0
    breaks: list[BreakDoc] = Field(default_factory=list)


class DepotDoc(_Doc):
    """A yard: where crews start and end."""

    id: str
    label: str = "yard"
    location_index: int | None = None
    lat: float | None = None
    lon: float | None = None
    assumed: bool = False


class DispatchDoc(_Doc):
    """How the plan was made: counts, sources and re-plan facts."""

    work_orders_open: int = 0
    jobs: int = 0
    outside_street_graph: int = 0
    graph: str = ""
    crews_file: str = ""
    replanned_from: int | None = None
    locked: dict[str, list[str]] = Field(default_factory=dict)
    new_work_orders: list[int] = Field(default_factory=list)


_STORE_KEYS = ("plan_id", "kind", "parent_plan_id")


class PlanDocument(_Doc):
    """A day plan as stored (``geo311.plans.repo.save_plan``), drawn by ``maps`` and served by ``api``.

    The solver's plan (``origin``, ``summary``, ``routes``, ``unassigned``, ``sla_breaches``,
    ``violations``, ``next_shift_start[_s]``, ``meta``), the dispatch facts (``at``,
    ``plan_date``, ``timezone``, ``locations``, ``labels``, ``jobs``, ``crews``, ``depots``,
    ``dispatch``), the store's ``plan_id`` / ``kind`` / ``parent_plan_id``, the crews'
    progress (``done``, ``done_at``, ``cant_do``, ``stop_states``: built by the store from its
    stop rows, :mod:`geo311.plans.stop_states`, never stored in the document) and, for a plan of one district, its ``district``, the
    ``day`` id shared by the district plans stored together and their ``outside_districts``
    (open work orders in no planned district, per neighbourhood).
    """

    origin: IsoDateTime | None = None
    summary: SummaryDoc = Field(default_factory=SummaryDoc)
    routes: list[RouteDoc] = Field(default_factory=list)
    unassigned: list[UnassignedDoc] = Field(default_factory=list)
    sla_breaches: list[str] = Field(default_factory=list)
    violations: list[str] = Field(default_factory=list)
    next_shift_start_s: float | None = None
    next_shift_start: IsoDateTime | None = None
    meta: dict[str, Any] = Field(default_factory=dict)
    at: IsoDateTime | None = None
    plan_date: str | None = None
    timezone: str | None = None
    locations: list[list[float]] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    jobs: dict[str, JobDoc] = Field(default_factory=dict)
    crews: list[CrewDoc] = Field(default_factory=list)
    depots: list[DepotDoc] = Field(default_factory=list)
    dispatch: DispatchDoc | None = None
    plan_id: int | None = None
    kind: str | None = None
    parent_plan_id: int | None = None
    done: dict[str, list[str]] = Field(default_factory=dict)
    done_at: dict[str, str] = Field(default_factory=dict)
    cant_do: dict[str, dict[str, Any]] = Field(default_factory=dict)
    stop_states: dict[str, str] = Field(default_factory=dict)
    district: str | None = None
    day: str | None = None
    outside_districts: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | PlanDocument) -> PlanDocument:
        """Read a document from its dict (as stored); a :class:`PlanDocument` is returned as is.

        Raises
        ------
        InputError
            When ``data`` is neither a mapping nor a document.
        """
        if isinstance(data, PlanDocument):
            return data
        if not isinstance(data, Mapping):
            raise InputError(
                f"plan is a {type(data).__name__}; pass a PlanDocument or its dict",
                field="plan",
            )
        return cls.model_validate(dict(data))

    @classmethod
    def from_json(cls, text: str | bytes) -> PlanDocument:
        """Read a document from its JSON text (:meth:`to_json`)."""
        return cls.model_validate_json(text)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready dict: exactly the keys that were set (``model_dump``)."""
        return self.model_dump(exclude_unset=True)

    def to_json(self, *, indent: int | None = None) -> str:
        """Return the document as JSON text (the keys of :meth:`to_dict`)."""
        return self.model_dump_json(exclude_unset=True, indent=indent)

    def payload(self) -> dict[str, Any]:
        """Return :meth:`to_dict` without the store's ``plan_id``, ``kind``, ``parent_plan_id``."""
        return {k: v for k, v in self.to_dict().items() if k not in _STORE_KEYS}

    def crew_ids(self) -> list[str]:
        """Return the crew of every route, in plan order."""
        return [str(r.crew_id) for r in self.routes]

    def route(self, crew_id: str) -> RouteDoc:
        """Return one crew's route.

        Raises
        ------
        NotFoundError
            Naming the plan and the crews it has.
        """
        for r in self.routes:
            if r.crew_id == crew_id:
                return r
        where = f" in plan {self.plan_id}" if self.plan_id is not None else " in this plan"
        raise NotFoundError(
            f"crew {crew_id!r} has no route{where}; crews: {', '.join(self.crew_ids())}"
        )

    def done_for(self, crew_id: str) -> set[str]:
        """Return the job ids a crew has marked done."""
        return set(self.done.get(crew_id, []))

    def state_of(self, job_id: str) -> str:
        """Return a stop's state (``planned``, ``arrived``, ``done`` or ``cant_do``)."""
        return self.stop_states.get(job_id, "planned")
