"""Reporters' contact details and webhook subscriptions (never part of the public API)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from geo311.db.notify_schema import contacts, webhooks
from geo311.errors import InputError, NotFoundError
from geo311.notify.events import EVENT_TYPES

# One @, no whitespace or control characters (they would break the SMTP envelope and headers),
# a dot in the domain; whether the mailbox exists only a delivery can tell.
_EMAIL = re.compile(r"[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s\x00-\x1f]+")


#: The contact details a report may carry (Open311 POST fields, import columns).
CONTACT_FIELDS = ("email", "first_name", "last_name", "phone")
#: What is stored besides: the language the reporter used ("" for the city's own).
STORED_FIELDS = (*CONTACT_FIELDS, "language")


def contact_values(
    *, email: str = "", first_name: str = "", last_name: str = "", phone: str = ""
) -> dict[str, str]:
    """Return a reporter's contact details checked and trimmed to the column sizes.

    Parameters
    ----------
    email, first_name, last_name, phone
        What the reporter gave; an empty e-mail means no e-mail notifications.

    Returns
    -------
    dict
        The four values (some may be empty).

    Raises
    ------
    InputError
        If ``email`` is not an e-mail address.
    """
    email = email.strip()
    if email and not _EMAIL.fullmatch(email):
        raise InputError(
            f"email {email!r} is not an e-mail address; give e.g. name@example.org or leave it out",
            field="email",
        )
    return {
        "email": email,
        "first_name": first_name.strip()[:100],
        "last_name": last_name.strip()[:100],
        "phone": phone.strip()[:40],
    }


def save_contact(
    conn: Connection,
    service_request_id: str,
    *,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    language: str = "",
) -> bool:
    """Store (or update) how to reach a request's reporter, in the caller's transaction.

    Parameters
    ----------
    conn : Connection
        The transaction that stores the request (Open311 POST, an import).
    service_request_id : str
        The request.
    email, first_name, last_name, phone : str, keyword-only
        What the reporter gave; an empty e-mail means no e-mail notifications.
    language : str, keyword-only
        The language the reporter used (``"es"``); their e-mails are written in it.

    Returns
    -------
    bool
        True if anything was stored (False when every contact field is empty).

    Raises
    ------
    InputError
        If ``email`` is not an e-mail address.
    """
    values = contact_values(email=email, first_name=first_name, last_name=last_name, phone=phone)
    if not any(values.values()):
        return False
    row = {"service_request_id": service_request_id, **values, "language": language[:16]}
    save_contacts(conn, [row])
    return True


def save_contacts(conn: Connection, rows: Sequence[dict[str, str]]) -> int:
    """Store (or update) many reporters' contacts at once, in the caller's transaction.

    A request has one contact row: storing it again (a re-import) updates the details and
    keeps an unsubscribe.

    Parameters
    ----------
    conn : Connection
        The transaction that stores the requests.
    rows : sequence of dict
        ``service_request_id`` and the values of :func:`contact_values` (and ``language``,
        default ``""``: the city's).

    Returns
    -------
    int
        Rows written.
    """
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    now = datetime.now(UTC)
    stmt = insert(contacts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["service_request_id"],
        set_={k: stmt.excluded[k] for k in STORED_FIELDS},
    )
    values = [{"language": "", **r, "unsubscribed": False, "created_at": now} for r in rows]
    conn.execute(stmt, values)
    return len(rows)


def _check_events(events: tuple[str, ...]) -> str:
    unknown = [e for e in events if e != "*" and e not in EVENT_TYPES]
    if unknown or not events:
        raise InputError(
            f"webhook events {list(events)!r} are not event types; use '*' or some of "
            f"{', '.join(EVENT_TYPES)}",
            field="events",
        )
    return ",".join(events)


def add_webhook(
    conn: Connection, url: str, *, secret: str, events: tuple[str, ...] = ("*",)
) -> int:
    """Subscribe a URL to events; each delivery is signed with ``secret``.

    Parameters
    ----------
    conn : Connection
        A connection in a transaction.
    url : str
        An ``http://`` or ``https://`` URL that accepts a JSON POST.
    secret : str, keyword-only
        Shared secret of the ``X-Geo311-Signature`` HMAC-SHA256 header (16 characters or more).
    events : tuple of str, keyword-only
        Event types to send, or ``("*",)`` for all.

    Returns
    -------
    int
        The webhook id.

    Raises
    ------
    InputError
        If the URL, the secret or an event type is invalid.
    """
    if not url.startswith(("http://", "https://")):
        raise InputError(f"webhook url {url!r} must start with http:// or https://", field="url")
    if len(secret) < 16:
        raise InputError(
            "webhook secret is shorter than 16 characters; give a long random string",
            field="secret",
        )
    result = conn.execute(
        webhooks.insert().values(
            url=url,
            secret=secret,
            active=True,
            events=_check_events(events),
            created_at=datetime.now(UTC),
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def set_webhook_active(conn: Connection, webhook_id: int, *, active: bool) -> None:
    """Switch a webhook on or off (queued messages to a switched-off webhook are skipped).

    Parameters
    ----------
    conn : Connection
        A connection in a transaction.
    webhook_id : int
        The webhook.
    active : bool, keyword-only
        The new state.

    Raises
    ------
    NotFoundError
        If there is no such webhook.
    """
    result = conn.execute(
        webhooks.update().where(webhooks.c.webhook_id == webhook_id).values(active=active)
    )
    if result.rowcount == 0:
        raise NotFoundError(f"webhook {webhook_id} does not exist; see the webhooks table")
