"""The notification events a state change can raise, and their idempotent ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geo311.errors import InputError

#: Event types, in the order a citizen meets them.
EVENT_TYPES = ("received", "merged", "scheduled", "closed", "reopened")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something a reporter should hear about, raised by a state change of one request.

    Parameters
    ----------
    type : str
        One of :data:`EVENT_TYPES`: ``received`` (acknowledgement), ``merged`` (joined an
        existing work order), ``scheduled`` (in a published plan, with an ETA window),
        ``closed`` (fixed or closed, with the crew's note), ``reopened`` (failed repair).
    service_request_id : str
        The request whose reporter is told.
    occurred_at : datetime
        When the change happened (timezone-aware).
    work_order_id : int, optional
        The work order the request belongs to.
    status : str
        The request's status after the change (e.g. ``fixed``, ``duplicate``).
    note : str
        The note a citizen reads (the crew's closing note, a reopening reason).
    eta_start, eta_end : datetime, optional
        The ETA window of ``scheduled`` (timezone-aware).
    plan_id : int, optional
        The published plan of ``scheduled``.
    event_id : str
        Stable id of the event; default derived from the type, the request and what tells
        two such events apart (plan, time), so raising the same event twice queues it once.
    """

    type: str
    service_request_id: str
    occurred_at: datetime
    work_order_id: int | None = None
    status: str = ""
    note: str = ""
    eta_start: datetime | None = None
    eta_end: datetime | None = None
    plan_id: int | None = None
    event_id: str = ""

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise InputError(
                f"event type {self.type!r} is unknown; use one of {', '.join(EVENT_TYPES)}",
                field="type",
            )
        if not self.service_request_id:
            raise InputError(
                "service_request_id is empty; give the request the event is about",
                field="service_request_id",
            )
        for name in ("occurred_at", "eta_start", "eta_end"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise InputError(
                    f"{name} must be timezone-aware (e.g. 2015-10-06T14:00-04:00)", field=name
                )
        if len(self.id) > 200:
            raise InputError(
                f"event id {self.id[:40]!r}... is longer than 200 characters; give a shorter "
                "event_id",
                field="event_id",
            )
        if self.type == "scheduled" and (self.eta_start is None or self.eta_end is None):
            raise InputError(
                "a scheduled event needs eta_start and eta_end (the stop's ETA window)",
                field="eta_start",
            )

    @property
    def id(self) -> str:
        """The event id: :attr:`event_id` or one derived from the event's identity."""
        if self.event_id:
            return self.event_id
        rid = self.service_request_id
        if self.type == "received":
            return f"received:{rid}"
        if self.type == "merged":
            return f"merged:{rid}:{self.work_order_id}"
        if self.type == "scheduled":
            start = self.eta_start.isoformat() if self.eta_start else ""
            return f"scheduled:{rid}:{self.plan_id if self.plan_id is not None else start}"
        return f"{self.type}:{rid}:{self.occurred_at.isoformat()}"


@dataclass(frozen=True, kw_only=True)
class WorkOrderEvent:
    """An event of a whole work order, told to the reporter of each of its requests.

    Parameters
    ----------
    type : str
        One of :data:`EVENT_TYPES` (a work order is ``closed``, ``reopened`` or ``scheduled``).
    work_order_id : int
        The work order; each member request's reporter is told.
    occurred_at, status, note, eta_start, eta_end, plan_id
        As in :class:`Event`.
    """

    type: str
    work_order_id: int
    occurred_at: datetime
    status: str = ""
    note: str = ""
    eta_start: datetime | None = None
    eta_end: datetime | None = None
    plan_id: int | None = None

    def for_request(self, service_request_id: str) -> Event:
        """Return the :class:`Event` of one member request."""
        return Event(
            type=self.type,
            service_request_id=service_request_id,
            work_order_id=self.work_order_id,
            occurred_at=self.occurred_at,
            status=self.status,
            note=self.note,
            eta_start=self.eta_start,
            eta_end=self.eta_end,
            plan_id=self.plan_id,
        )
