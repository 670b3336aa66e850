"""Queue notifications in the caller's transaction (the transactional outbox).

A state change (a request received, merged, scheduled, closed, reopened) calls
:func:`enqueue` with the SQLAlchemy ``Connection`` of its own transaction, so the outbox
rows commit or roll back together with the change: a committed change always has its
notifications queued, a rolled-back one never does. :mod:`geo311.notify.sender` delivers them.

Each row is one event for one recipient: the reporter's e-mail (when a contact exists and its
address confirmed and has not unsubscribed; an address that has not confirmed is sent the
confirmation instead, see :mod:`geo311.notify.confirm`) and every active webhook subscribed to
the event type. The idempotency key
(event id + recipient) is unique, so raising the same event again queues nothing new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from geo311.db.notify_schema import contacts, outbox, webhooks
from geo311.db.schema import requests
from geo311.errors import ConflictError, NotFoundError
from geo311.notify.confirm import address_state, confirmation_row
from geo311.notify.events import Event, WorkOrderEvent


def status_path(service_request_id: str) -> str:
    """Return the public status page path of a request (``/requests/{id}``)."""
    return f"/requests/{service_request_id}"


def _request_row(conn: Connection, event: Event) -> Any:
    """Read the event's request and its reporter's live contact (one round trip)."""
    live = sa.and_(
        contacts.c.service_request_id == requests.c.service_request_id,
        contacts.c.email != "",
        sa.not_(contacts.c.unsubscribed),
    )
    req = conn.execute(
        sa.select(
            requests.c.service_code,
            requests.c.service_name,
            requests.c.address,
            requests.c.requested_datetime,
            requests.c.work_order_id,
            contacts.c.email,
            contacts.c.first_name,
            contacts.c.language,
        )
        .select_from(requests.outerjoin(contacts, live))
        .where(requests.c.service_request_id == event.service_request_id)
        .limit(1)
    ).first()
    if req is None:
        raise NotFoundError(
            f"service request {event.service_request_id!r} does not exist; enqueue its events "
            "in the transaction that stores it"
        )
    return req


def _public_payload(conn: Connection, event: Event, req: Any) -> dict[str, Any]:
    work_order_id = event.work_order_id if event.work_order_id is not None else req.work_order_id
    reports = 1
    if work_order_id is not None:
        reports = int(
            conn.execute(
                sa.select(sa.func.count()).where(requests.c.work_order_id == work_order_id)
            ).scalar_one()
        )
    return {
        "event_id": event.id,
        "type": event.type,
        "service_request_id": event.service_request_id,
        "work_order_id": work_order_id,
        "service_code": req.service_code,
        "service_name": req.service_name,
        "address": req.address,
        "requested_datetime": req.requested_datetime.isoformat(),
        "status": event.status,
        "note": event.note,
        "neighbours": max(reports - 1, 0),
        "eta_start": event.eta_start.isoformat() if event.eta_start else None,
        "eta_end": event.eta_end.isoformat() if event.eta_end else None,
        "plan_id": event.plan_id,
        "occurred_at": event.occurred_at.isoformat(),
        "status_path": status_path(event.service_request_id),
    }


def _subscribed(events_field: str, event_type: str) -> bool:
    wanted = {e.strip() for e in events_field.split(",") if e.strip()}
    return "*" in wanted or event_type in wanted


def _hooks(conn: Connection, event: Event) -> list[Any]:
    """Return the active webhooks subscribed to the event's type."""
    rows = conn.execute(
        sa.select(webhooks.c.webhook_id, webhooks.c.url, webhooks.c.events).where(webhooks.c.active)
    ).all()
    return [hook for hook in rows if _subscribed(hook.events, event.type)]


def _recipient_rows(
    conn: Connection, event: Event, req: Any, hooks: list[Any]
) -> list[dict[str, Any]]:
    payload = _public_payload(conn, event, req)
    now = datetime.now(UTC)
    base = {
        "event_id": event.id,
        "event_type": event.type,
        "service_request_id": event.service_request_id,
        "work_order_id": payload["work_order_id"],
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "last_error": "",
    }
    rows = []
    state = address_state(conn, req.email) if req.email is not None else "unsubscribed"
    if state == "confirmed":
        personal = {**payload, "first_name": req.first_name, "language": req.language}
        rows.append(
            base
            | {
                "channel": "email",
                "address": req.email,
                "webhook_id": None,
                "idempotency_key": f"{event.id}|email:{req.email}",
                "payload": json.dumps(personal, sort_keys=True),
            }
        )
    elif state == "unconfirmed":
        # Anyone can type any address: until it confirms, it only gets the confirmation.
        asked = confirmation_row(conn, req.email, base, payload | {"language": req.language})
        rows.extend([asked] if asked is not None else [])
    body = json.dumps(payload, sort_keys=True)
    for hook in hooks:
        rows.append(
            base
            | {
                "channel": "webhook",
                "address": hook.url,
                "webhook_id": hook.webhook_id,
                "idempotency_key": f"{event.id}|webhook:{hook.webhook_id}",
                "payload": body,
            }
        )
    return rows


def enqueue(conn: Connection, event: Event) -> int:
    """Queue an event for its recipients, inside the caller's transaction.

    Parameters
    ----------
    conn : Connection
        The connection of the transaction that makes the state change (e.g. the one of
        ``Store.begin()``); the outbox rows commit with it.
    event : Event
        The event.

    Returns
    -------
    int
        Recipients the event is queued for (0 when nobody listens); a row queued before
        under the same idempotency key is kept as it is.

    Raises
    ------
    NotFoundError
        If the request does not exist in ``conn``'s view.
    """
    req = _request_row(conn, event)
    hooks = _hooks(conn, event)
    if req.email is None and not hooks:
        return 0  # nobody listens: no payload to build
    rows = _recipient_rows(conn, event, req, hooks)
    if not rows:
        return 0
    dialect = conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    conn.execute(
        insert(outbox).on_conflict_do_nothing(index_elements=["idempotency_key"]),
        rows,
    )
    return len(rows)


def enqueue_work_order(conn: Connection, event: WorkOrderEvent) -> int:
    """Queue one event for every request of a work order (closed, reopened, scheduled).

    Parameters
    ----------
    conn : Connection
        The connection of the transaction that changes the work order.
    event : WorkOrderEvent
        What happened to the work order; each member request's reporter is told.

    Returns
    -------
    int
        Recipients queued, over all member requests.
    """
    member_ids = conn.execute(
        sa.select(requests.c.service_request_id)
        .where(requests.c.work_order_id == event.work_order_id)
        .order_by(requests.c.service_request_id)
    ).scalars()
    return sum(enqueue(conn, event.for_request(rid)) for rid in list(member_ids))


@dataclass(frozen=True)
class OutboxRow:
    """One queued message as the dead-letter list and the tests see it."""

    id: int
    event_id: str
    event_type: str
    service_request_id: str | None
    channel: str
    address: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime
    sent_at: datetime | None


def list_outbox(
    conn: Connection, *, status: str | None = None, limit: int | None = None
) -> list[OutboxRow]:
    """Return outbox rows, oldest first, optionally of one status (e.g. ``dead``).

    Parameters
    ----------
    conn : Connection
        A connection.
    status : str, keyword-only, optional
        ``pending``, ``sent``, ``dead`` or ``skipped``; default every row.
    limit : int, keyword-only, optional
        At most this many rows.

    Returns
    -------
    list of OutboxRow
        The rows.
    """
    stmt = sa.select(*(outbox.c[f] for f in OutboxRow.__dataclass_fields__)).order_by(outbox.c.id)
    if status is not None:
        stmt = stmt.where(outbox.c.status == status)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [OutboxRow(*row) for row in conn.execute(stmt)]


def retry(conn: Connection, outbox_id: int) -> None:
    """Give a dead message a new round of attempts, due now.

    Parameters
    ----------
    conn : Connection
        A connection in a transaction.
    outbox_id : int
        The message (``geo311 notify dead`` lists them).

    Raises
    ------
    NotFoundError
        If there is no such message.
    ConflictError
        If the message is not dead (pending ones are retried already, sent ones are done).
    """
    current = conn.execute(sa.select(outbox.c.status).where(outbox.c.id == outbox_id)).first()
    if current is None:
        raise NotFoundError(f"outbox message {outbox_id} does not exist; see geo311 notify dead")
    if current.status != "dead":
        raise ConflictError(
            f"outbox message {outbox_id} is {current.status}, not dead; only dead messages "
            "are retried"
        )
    conn.execute(
        outbox.update()
        .where(outbox.c.id == outbox_id)
        .values(status="pending", attempts=0, next_attempt_at=datetime.now(UTC), claimed_at=None)
    )
