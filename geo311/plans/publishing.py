"""Publishing a day plan: crews see it, reports get its ETAs, reporters are told, at once.

:func:`publish` is the one publishing step of the dispatcher's console, of
``POST /plans/{id}/publish`` and of the demo. In ONE store transaction
(:func:`publish_plan`) it records the publication (what the crews' phones
show), sets each stop's ETA as the Open311 ``expected_datetime`` of the stop's open reports
(an ETA an earlier published plan gave and this one no longer has goes back to the report's
SLA target), appends the
``scheduled`` / ``unscheduled`` request updates and queues the ``scheduled`` notifications in
the outbox. A failure anywhere leaves nothing of it behind, so publishing again just works.
The ETAs the other districts' plans of the same day gave are kept (:func:`district_siblings`).
Publishing never moves a report's SLA target (``sla_target_datetime``) nor a work order's
``sla_due``: SLA counts, breaches and priorities do not change because a plan was published.

The stops' ETAs are read from the stored plan document (``geo311.plans.repo.get_plan``: the JSON that
``geo311.plans.document.PlanDocument`` writes): each route's ``job`` steps, their ``ref`` (the
work order id) and ``arrival`` (an ISO 8601 time with its offset). geo311 reads only these
keys and imports nothing of ``routing``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo311.db import auth_schema
from geo311.db.schema import plans, requests
from geo311.db.store import Store
from geo311.errors import ConflictError, InputError, NotFoundError
from geo311.notify import Event, enqueue
from geo311.plans import repo as plan_repo
from geo311.requests import repo as request_repo
from geo311.requests import updates as update_log
from geo311.staff.store import write_audit
from geo311.workorders import repo as work_order_repo

__all__ = [
    "PublishResult",
    "district_siblings",
    "eta_text",
    "expected_times",
    "plan_etas",
    "publish",
    "publish_plan",
    "record_publication",
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
        The stored plan document (``geo311.plans.repo.get_plan``); only ``routes[].steps[]`` with
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
    for wo in work_order_repo.query_work_orders(store, ids=sorted(etas)) if etas else []:
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
        The stored plan document (``geo311.plans.repo.get_plan``).
    """
    day, district = doc.get("day"), doc.get("district")
    if not day or not district:
        return []
    siblings = []
    for other_id in plan_repo.plan_ids_on(store, str(day).split("/")[0]):
        if other_id == doc.get("plan_id"):
            continue
        other = plan_repo.get_plan(store, other_id)
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
    doc = plan_repo.get_plan(store, plan_id)
    expected = expected_times(store, plan_etas(doc), tz=tz)
    at = at or datetime.now(UTC)

    with store.begin() as conn:  # the publication and its audit row commit together
        counts = publish_plan(
            store,
            plan_id,
            expected,
            plan_date=str(doc.get("plan_date") or ""),
            published_by=by,
            at=at,
            keep_plans=district_siblings(store, doc),
        )
        if audit is not None:
            write_audit(
                conn, at=at, actor=by, action="plan.publish", obj=f"plan:{plan_id}",
                before={"published": False}, after={**audit, "published": True, **counts},
            )  # fmt: skip
    return PublishResult(plan_id=plan_id, **counts)


def publish_plan(
    store: Store,
    plan_id: int,
    expected: dict[str, tuple[datetime, str]],
    *,
    plan_date: str,
    published_by: str,
    at: datetime | None = None,
    keep_plans: Sequence[int] = (),
) -> dict[str, int]:
    """Publish a plan: crews see it, its stops' ETAs become the reports' ``expected_datetime``.

    All in one transaction (:func:`geo311.plans.publishing.publish` is the caller): the
    publication is recorded (``plan_publications``: what the crews' phones show) and the
    plan marked published; every open request in ``expected`` gets its ETA, a
    ``scheduled`` update with the given text, a new ``updated_datetime`` and a
    ``scheduled`` notification in the outbox; every open request whose ETA came from
    another published plan (but those of ``keep_plans``) and is not in this one has it
    cleared (an ``unscheduled`` update; its expected time is its SLA target again). Only
    ``expected_datetime`` moves: the SLA target (``sla_target_datetime``) and the work
    orders' ``sla_due`` never do. Any failure rolls all of it back.

    Parameters
    ----------
    plan_id
        The stored plan.
    expected
        ``service_request_id -> (ETA, public text of the update)``.
    plan_date
        The plan's day, ``YYYY-MM-DD`` (the crews' phones show the plan of their day).
    published_by
        Who publishes (user name or role).
    at
        When (default: now).
    keep_plans
        Published plans whose ETAs this one does not replace (the other districts' plans
        of the same day).

    Returns
    -------
    dict
        ``{"scheduled": n, "cleared": m, "notified": k}`` (``k`` outbox rows queued).

    Raises
    ------
    NotFoundError
        If no plan has this id.
    ConflictError
        If the plan is published already (nothing is changed).
    """
    at = at or datetime.now(UTC)
    try:
        with store.begin() as conn:
            record_publication(conn, plan_id, plan_date, published_by, at)
            stale = _clear_stale_etas(store, conn, [plan_id, *keep_plans], set(expected), at)
            scheduled = _set_etas(conn, plan_id, expected, at)
            texts = {rid: expected[rid][1] for rid in scheduled}
            update_log.record_updates(conn, scheduled, kind="scheduled", at=at, descriptions=texts)
            notified = _tell_scheduled(conn, plan_id, {r: expected[r][0] for r in scheduled}, at)
            counts = {"scheduled": len(scheduled), "cleared": len(stale), "notified": notified}
    except sa.exc.IntegrityError:
        # Another transaction published the same plan at the same moment: read what it
        # committed on a connection of its own (an enclosing transaction is aborted).
        with store.engine.connect() as conn:
            if not _has_publication(conn, plan_id):
                raise
        raise _already_published(plan_id) from None
    return counts


def _clear_stale_etas(
    store: Store, conn: Connection, kept_plans: Sequence[int], keep: set[str], at: datetime
) -> list[str]:
    """Clear the ETAs other published plans gave to open requests not in ``keep``.

    Their expected time goes back to their SLA target.
    """
    c = requests.c
    stale = [
        rid
        for rid in conn.execute(
            sa.select(c.service_request_id).where(
                c.closed_datetime.is_(None),
                c.expected_plan_id.is_not(None),
                c.expected_plan_id.not_in(list(kept_plans)),
            )
        ).scalars()
        if rid not in keep
    ]
    request_repo.update_requests_in_open(
        store,
        conn,
        stale,
        expected_datetime=c.sla_target_datetime,
        expected_plan_id=None,
        updated_datetime=at,
    )
    update_log.record_updates(conn, stale, kind="unscheduled", at=at, descriptions={})
    return stale


def _set_etas(
    conn: Connection,
    plan_id: int,
    expected: dict[str, tuple[datetime, str]],
    at: datetime,
) -> list[str]:
    """Give the open requests of ``expected`` their ETA; return those now scheduled."""
    c = requests.c
    open_ = c.closed_datetime.is_(None)
    rows = [
        {"_id": rid, "_eta": eta, "_plan": plan_id, "_at": at}
        for rid, (eta, _text) in expected.items()
    ]
    if rows:
        conn.execute(
            requests.update()
            .where(c.service_request_id == sa.bindparam("_id"), open_)
            .values(
                expected_datetime=sa.bindparam("_eta"),
                expected_plan_id=sa.bindparam("_plan"),
                updated_datetime=sa.bindparam("_at"),
            ),
            rows,
        )
    scheduled = conn.execute(
        sa.select(c.service_request_id).where(c.expected_plan_id == plan_id, open_)
    ).scalars()
    return [rid for rid in scheduled if rid in expected]


# The ETA window a citizen is told: the stop's ETA, half an hour either side.
ETA_HALF_WINDOW = timedelta(minutes=30)


def _already_published(plan_id: int) -> ConflictError:
    return ConflictError(
        f"plan {plan_id} is already published; plan the day again (or re-plan) to publish "
        "a new plan"
    )


def _has_publication(conn: Connection, plan_id: int) -> bool:
    pub = auth_schema.plan_publications.c
    return conn.execute(sa.select(pub.plan_id).where(pub.plan_id == plan_id)).first() is not None


def record_publication(
    conn: Connection, plan_id: int, plan_date: str, published_by: str, at: datetime
) -> None:
    """Record a plan's publication (refused when it has one) and mark the plan published."""
    if _has_publication(conn, plan_id):
        raise _already_published(plan_id)
    res = conn.execute(plans.update().where(plans.c.plan_id == plan_id).values(published_at=at))
    if res.rowcount == 0:
        raise NotFoundError(f"plan {plan_id} does not exist; use an id from POST /plans")
    conn.execute(
        auth_schema.plan_publications.insert().values(
            plan_id=plan_id, plan_date=plan_date, published_at=at, published_by=published_by
        )
    )


def _tell_scheduled(conn: Connection, plan_id: int, etas: dict[str, datetime], at: datetime) -> int:
    """Queue the "scheduled" notification of each request given an ETA (same transaction).

    Returns the number of outbox rows queued.
    """
    queued = 0
    for rid, eta in etas.items():
        event = Event(
            type="scheduled",
            service_request_id=rid,
            occurred_at=at,
            eta_start=eta - ETA_HALF_WINDOW,
            eta_end=eta + ETA_HALF_WINDOW,
            plan_id=plan_id,
        )
        queued += enqueue(conn, event)
    return queued
