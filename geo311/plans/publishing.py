"""Publishing a day plan: crews see it, reports get its ETAs, reporters are told, at once.

:func:`publish` is the one publishing step of the dispatcher's console, of
``POST /plans/{id}/publish`` and of the demo. In ONE store transaction
(:meth:`geo311.db.store.Store.publish_plan`) it records the publication (what the crews' phones
show), sets each stop's ETA as the Open311 ``expected_datetime`` of the stop's open reports
(an ETA an earlier published plan gave and this one no longer has goes back to the report's
SLA target), appends the
``scheduled`` / ``unscheduled`` request updates and queues the ``scheduled`` notifications in
the outbox. A failure anywhere leaves nothing of it behind, so publishing again just works.
The ETAs the other districts' plans of the same day gave are kept (:func:`district_siblings`).
Publishing never moves a report's SLA target (``sla_target_datetime``) nor a work order's
``sla_due``: SLA counts, breaches and priorities do not change because a plan was published.

The stops' ETAs are read from the stored plan document (``store.get_plan``: the JSON that
``routing.plan_document.PlanDocument`` writes): each route's ``job`` steps, their ``ref`` (the
work order id) and ``arrival`` (an ISO 8601 time with its offset). geo311 reads only these
keys and imports nothing of ``routing``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from geo311.db.store import ETA_HALF_WINDOW, Store
from geo311.errors import InputError
from geo311.staff.store import write_audit

__all__ = [
    "PublishResult",
    "district_siblings",
    "eta_text",
    "expected_times",
    "plan_etas",
    "publish",
]


@dataclass(frozen=True)
class PublishResult:
    """What publishing a plan did.

    Attributes
    ----------
    plan_id
        The plan published.
    scheduled
        Open reports given an ETA.
    cleared
        Open reports whose ETA an earlier published plan gave and this one no longer has.
    notified
        Notifications queued in the outbox (e-mails to reporters with a contact, webhooks).
    """

    plan_id: int
    scheduled: int
    cleared: int
    notified: int

    def counts(self) -> dict[str, int]:
        """Return the public answer of ``POST /plans/{id}/publish`` (no notification count)."""
        return {"plan_id": self.plan_id, "scheduled": self.scheduled, "cleared": self.cleared}


def eta_text(eta: datetime, tz: ZoneInfo) -> str:
    """Return the public text of a ``scheduled`` update: the day and the ETA window."""
    start, end = (eta - ETA_HALF_WINDOW).astimezone(tz), (eta + ETA_HALF_WINDOW).astimezone(tz)
    return (
        f"Scheduled: a crew is expected on {start:%A %d %B %Y} "
        f"between {start:%H:%M} and {end:%H:%M}."
    )


def _arrival(value: Any, plan_id: Any, ref: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise InputError(
            f"plan {plan_id}: the arrival {value!r} of the stop of work order {ref} is not an "
            "ISO 8601 time with an offset (e.g. 2015-10-06T07:10:00-04:00); plan the day again",
            field="arrival",
        )
    return when


def plan_etas(doc: Mapping[str, Any]) -> dict[int, datetime]:
    """Return ``work_order_id -> ETA`` (the stop's arrival) of every stop of a plan document.

    Parameters
    ----------
    doc
        The stored plan document (``Store.get_plan``); only ``routes[].steps[]`` with
        ``type == "job"``, their ``ref`` and ``arrival`` are read. A work order visited twice
        keeps its first stop's ETA; steps without a work order id or an arrival are skipped.

    Returns
    -------
    dict
        The ETAs, timezone-aware.

    Raises
    ------
    InputError
        If an arrival is not an ISO 8601 time with an offset.
    """
    etas: dict[int, datetime] = {}
    for route in doc.get("routes") or []:
        for step in route.get("steps") or []:
            ref = step.get("ref")
            if step.get("type") != "job" or not isinstance(ref, str) or not ref.isdigit():
                continue
            arrival = _arrival(step.get("arrival"), doc.get("plan_id"), ref)
            if arrival is not None:
                etas.setdefault(int(ref), arrival)
    return etas


def expected_times(
    store: Store, etas: Mapping[int, datetime], *, tz: ZoneInfo
) -> dict[str, tuple[datetime, str]]:
    """Return ``service_request_id -> (ETA, public text)`` for every member of the stops' work orders.

    Parameters
    ----------
    store
        The store holding the work orders.
    etas
        ``work_order_id -> ETA`` (:func:`plan_etas`).
    tz
        The city's zone, for the text of the ``scheduled`` updates.
    """
    expected: dict[str, tuple[datetime, str]] = {}
    for wo in store.query_work_orders(ids=sorted(etas)) if etas else []:
        eta = etas[wo.work_order_id]
        for rid in wo.member_ids:
            expected[rid] = (eta, eta_text(eta, tz))
    return expected


def district_siblings(store: Store, doc: Mapping[str, Any]) -> list[int]:
    """Return the other districts' plans stored with a district plan (the same ``day`` id).

    Publishing one district's plan must not clear the ETAs another district's plan of the
    same day gave. A plan without ``district`` and ``day`` (a city-wide plan, a re-plan) has
    none: it replaces every earlier published ETA it does not repeat.

    Parameters
    ----------
    store
        The store holding the plans.
    doc
        The stored plan document (``Store.get_plan``).
    """
    day, district = doc.get("day"), doc.get("district")
    if not day or not district:
        return []
    siblings = []
    for other_id in store.plan_ids_on(str(day).split("/")[0]):
        if other_id == doc.get("plan_id"):
            continue
        other = store.get_plan(other_id)
        if other.get("day") == day and other.get("district") not in (None, "", district):
            siblings.append(other_id)
    return siblings


def publish(
    store: Store,
    plan_id: int,
    *,
    by: str,
    tz: ZoneInfo,
    at: datetime | None = None,
    audit: Mapping[str, Any] | None = None,
) -> PublishResult:
    """Publish a stored plan to the crews and the citizens, in one transaction.

    Parameters
    ----------
    store
        The store holding the plan.
    plan_id
        The plan.
    by
        Who publishes (a user name, a role, ``demo``): kept with the publication.
    tz
        The city's zone, for the text of the ``scheduled`` updates.
    at
        When (default: now).
    audit
        When given, a ``plan.publish`` audit row by ``by`` is written in the same transaction,
        ``after`` holding these details, ``published`` and the counts.

    Returns
    -------
    PublishResult
        Reports scheduled and cleared, notifications queued.

    Raises
    ------
    NotFoundError
        If no plan has this id.
    ConflictError
        If the plan is published already (nothing is changed).
    InputError
        If a stop's arrival in the plan is not a time with an offset.
    """
    doc = store.get_plan(plan_id)
    expected = expected_times(store, plan_etas(doc), tz=tz)
    at = at or datetime.now(UTC)

    def record(conn: Connection, counts: dict[str, int]) -> None:
        after = {**(audit or {}), "published": True, **counts}
        write_audit(
            conn, at=at, actor=by, action="plan.publish", obj=f"plan:{plan_id}",
            before={"published": False}, after=after,
        )  # fmt: skip

    counts = store.publish_plan(
        plan_id,
        expected,
        plan_date=str(doc.get("plan_date") or ""),
        published_by=by,
        at=at,
        keep_plans=district_siblings(store, doc),
        also=record if audit is not None else None,
    )
    return PublishResult(plan_id=plan_id, **counts)
