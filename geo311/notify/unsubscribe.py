"""One-click unsubscribe links: a token signed with the ``notify_secret`` setting.

The token carries the request id, not the e-mail address (links end up in logs and
browser histories); unsubscribing opts out every request of that reporter's address, and the
address itself (``email_addresses``), so that its later reports queue nothing either.
"""

from __future__ import annotations

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.engine import Connection

from geo311.db.notify_schema import contacts, outbox
from geo311.errors import InputError, NotFoundError
from geo311.notify.confirm import require_secret, suppress_address

_SALT = "geo311-notify-unsubscribe"


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(require_secret(secret, signs="unsubscribe"), salt=_SALT)


def unsubscribe_token(service_request_id: str, *, secret: str) -> str:
    """Return the URL-safe signed token that unsubscribes the reporter of a request.

    Parameters
    ----------
    service_request_id : str
        The request the e-mail is about.
    secret : str, keyword-only
        The ``notify_secret`` setting.

    Returns
    -------
    str
        The token (goes into ``/notify/unsubscribe/{token}``).
    """
    return str(_serializer(secret).dumps(service_request_id))


def unsubscribe_path(service_request_id: str, *, secret: str) -> str:
    """Return the path of the one-click unsubscribe link in e-mails about a request."""
    return f"/notify/unsubscribe/{unsubscribe_token(service_request_id, secret=secret)}"


def unsubscribe(conn: Connection, token: str, *, secret: str) -> int:
    """Opt the reporter out of every notification and drop the e-mails queued for them.

    Parameters
    ----------
    conn : Connection
        A connection in a transaction.
    token : str
        The token of an unsubscribe link.
    secret : str, keyword-only
        The ``notify_secret`` setting.

    Returns
    -------
    int
        Contact rows (requests of that e-mail address) now unsubscribed.

    Raises
    ------
    InputError
        If the token is not one geo311 signed (altered, or signed with another secret).
    NotFoundError
        If the request has no contact (nothing to unsubscribe).
    """
    try:
        request_id = str(_serializer(secret).loads(token))
    except BadSignature:
        raise InputError(
            "unsubscribe token is invalid; use the link from a geo311 e-mail as it is",
            field="token",
        ) from None
    email = conn.execute(
        sa.select(contacts.c.email).where(contacts.c.service_request_id == request_id)
    ).scalar()
    if not email:
        raise NotFoundError(f"request {request_id} has no e-mail contact to unsubscribe")
    same = sa.func.lower(contacts.c.email) == email.lower()
    done = conn.execute(contacts.update().where(same).values(unsubscribed=True)).rowcount
    suppress_address(conn, email)  # and the reports it is given with later
    conn.execute(
        outbox.update()
        .where(
            outbox.c.channel == "email",
            sa.func.lower(outbox.c.address) == email.lower(),
            outbox.c.status == "pending",
        )
        .values(status="skipped", last_error="unsubscribed")
    )
    return int(done)
