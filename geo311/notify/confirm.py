"""E-mail addresses must confirm before they receive a report's texts; unsubscribing is kept.

Anyone can type any e-mail address into a report, so an address that has not confirmed gets
one message only: a confirmation (``confirm`` templates) that carries no text of the report
(no description, address, name), at most once per :data:`CONFIRM_EVERY_DAYS` days whatever
the number of reports. Its signed link (``/notify/confirm/{token}``, the token carries the
request id as unsubscribe links do, and expires after :data:`CONFIRM_MAX_AGE_S`) confirms the
address; from then on it receives the events of its reports. What an address agreed to is
stored per address (``email_addresses``, lower-cased), not per request: an address that
unsubscribed stays unsubscribed for the reports it is given with later.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from geo311.db.notify_schema import contacts, email_addresses
from geo311.errors import ConfigurationError, InputError, NotFoundError

_SALT = "geo311-notify-confirm"
#: A confirmation link works for 30 days.
CONFIRM_MAX_AGE_S = 30 * 24 * 3600
#: An address that did not confirm is asked again at most once per this many days.
CONFIRM_EVERY_DAYS = 30

AddressState = Literal["confirmed", "unconfirmed", "unsubscribed"]


def require_secret(secret: str, *, signs: str) -> str:
    """Return the ``notify_secret`` setting when it is long enough to sign ``signs`` links.

    Raises
    ------
    ConfigurationError
        Naming ``notify_secret`` and the fix, when it is empty or under 16 characters.
    """
    if len(secret) < 16:
        raise ConfigurationError(
            "GEO311_NOTIFY_SECRET is empty or shorter than 16 characters; set it to a long "
            f"random string (it signs the {signs} links in e-mails)",
            field="notify_secret",
        )
    return secret


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(require_secret(secret, signs="confirmation"), salt=_SALT)


def confirm_path(service_request_id: str, *, secret: str) -> str:
    """Return the path of the link that confirms the e-mail address of a request's reporter."""
    return f"/notify/confirm/{_serializer(secret).dumps(service_request_id)}"


def address_state(conn: Connection, email: str) -> AddressState:
    """Return what an e-mail address agreed to: confirmed, unconfirmed or unsubscribed."""
    row = conn.execute(
        sa.select(email_addresses.c.confirmed_at, email_addresses.c.unsubscribed_at).where(
            email_addresses.c.address == email.strip().lower()
        )
    ).first()
    if row is not None and row.unsubscribed_at is not None:
        return "unsubscribed"
    if row is not None and row.confirmed_at is not None:
        return "confirmed"
    return "unconfirmed"


def _mark(conn: Connection, email: str, column: str, now: datetime) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(email_addresses).values(
        address=email.strip().lower(), created_at=now, **{column: now}
    )
    conn.execute(stmt.on_conflict_do_update(index_elements=["address"], set_={column: now}))


def confirm_address(conn: Connection, email: str, *, now: datetime | None = None) -> None:
    """Record that an address confirmed (it may receive its reports' texts), in ``conn``."""
    _mark(conn, email, "confirmed_at", now or datetime.now(UTC))


def suppress_address(conn: Connection, email: str, *, now: datetime | None = None) -> None:
    """Record that an address unsubscribed: nothing is queued for it again, later reports too."""
    _mark(conn, email, "unsubscribed_at", now or datetime.now(UTC))


def confirm(conn: Connection, token: str, *, secret: str) -> AddressState:
    """Confirm the e-mail address of a confirmation link.

    Parameters
    ----------
    conn : Connection
        A connection in a transaction.
    token : str
        The token of a confirmation link.
    secret : str, keyword-only
        The ``notify_secret`` setting.

    Returns
    -------
    str
        ``confirmed``, or ``unsubscribed`` when the address had unsubscribed (it stays so).

    Raises
    ------
    InputError
        If the token is not one geo311 signed, or is older than 30 days.
    NotFoundError
        If the request has no e-mail contact.
    """
    try:
        request_id = str(_serializer(secret).loads(token, max_age=CONFIRM_MAX_AGE_S))
    except SignatureExpired:
        raise InputError(
            "confirmation token has expired; the link of your next report's e-mail works",
            field="token",
        ) from None
    except BadSignature:
        raise InputError(
            "confirmation token is invalid; use the link from a geo311 e-mail as it is",
            field="token",
        ) from None
    email = conn.execute(
        sa.select(contacts.c.email).where(contacts.c.service_request_id == request_id)
    ).scalar()
    if not email:
        raise NotFoundError(f"request {request_id} has no e-mail contact to confirm")
    if address_state(conn, email) == "unsubscribed":
        return "unsubscribed"
    confirm_address(conn, email)
    return "confirmed"


def _claim_confirmation(conn: Connection, address: str, now: datetime) -> bool:
    """Record that a confirmation goes to ``address`` now, unless one went in the last 30 days.

    One atomic upsert: of two reports racing with a new address, one wins (on PostgreSQL the
    other waits for its row and then finds it asked already).
    """
    table = email_addresses
    cutoff = now - timedelta(days=CONFIRM_EVERY_DAYS)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(address=address, created_at=now, confirmation_sent_at=now)
    upsert = stmt.on_conflict_do_update(
        index_elements=["address"],
        set_={"confirmation_sent_at": now},
        where=sa.or_(table.c.confirmation_sent_at.is_(None), table.c.confirmation_sent_at < cutoff),
    ).returning(table.c.address)
    return conn.execute(upsert).first() is not None


def confirmation_row(
    conn: Connection, contact_email: str, base: dict[str, Any], payload: dict[str, Any]
) -> dict[str, Any] | None:
    """Return the outbox row that asks an unconfirmed address to confirm (no report text).

    Parameters
    ----------
    conn : Connection
        The transaction that queues the event (records when the address was asked).
    contact_email : str
        The address.
    base : dict
        The row's common columns (status, times; see :mod:`geo311.notify.outbox`).
    payload : dict
        The public payload of the event that triggered it; only the request id, the service,
        the time and the reporter's language are kept.

    Returns
    -------
    dict or None
        An ``email`` outbox row of type ``confirm``, or None when the address was asked in the
        last :data:`CONFIRM_EVERY_DAYS` days (many reports queue one confirmation).
    """
    address = contact_email.strip().lower()
    now = datetime.now(UTC)
    if not _claim_confirmation(conn, address, now):
        return None
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    event_id = f"confirm:{digest}:{now:%Y%m%dT%H%M%S.%f}"  # one per claim
    kept = {
        k: payload[k] for k in ("service_request_id", "service_code", "service_name", "occurred_at")
    }
    kept["language"] = payload.get("language") or ""  # the reporter's, for the wording
    body = {**kept, "event_id": event_id, "type": "confirm", "status_path": ""}
    return base | {
        "event_id": event_id,
        "event_type": "confirm",
        "channel": "email",
        "address": contact_email,
        "webhook_id": None,
        "idempotency_key": f"{event_id}|email:{address}",
        "payload": json.dumps(body, sort_keys=True),
    }
