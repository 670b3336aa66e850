"""Tables of citizen notifications: the transactional outbox, reporters' contacts, webhooks.

They are created by Alembic revision 0006 (``geo311/db/migrations/versions``) and share the store's
``metadata`` so that :meth:`geo311.db.store.Store.drop_all` and index repair see them.

``contacts`` holds personal details (e-mail, names, phone) apart from the public
``service_requests`` table: nothing in the public API reads it.
"""

from __future__ import annotations

import sqlalchemy as sa

from geo311.db.schema import UTCDateTime, metadata

#: Outbox row states: waiting (or retrying), delivered, given up after the last attempt,
#: or not sent on purpose (the reporter unsubscribed, the webhook was switched off).
OUTBOX_STATUSES = ("pending", "sent", "dead", "skipped")

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("service_request_id", sa.String(64)),
    sa.Column("work_order_id", sa.Integer),
    # 'email' (address = the reporter's e-mail) or 'webhook' (webhook_id; address = its URL
    # when the event was queued, for the dead-letter list).
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("address", sa.String(500), nullable=False, default=""),
    sa.Column("webhook_id", sa.Integer),
    # event id + recipient: the same event never reaches the same recipient twice; it is
    # also the webhook's Idempotency-Key and the seed of the e-mail's Message-ID.
    sa.Column("idempotency_key", sa.String(600), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("status", sa.String(8), nullable=False, default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    # Set while a single-writer (SQLite) sender is delivering the row; a sender that starts
    # after a crash makes such rows due again.
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("last_error", sa.Text, nullable=False, default=""),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("sent_at", UTCDateTime),
    sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    # The sender's query: due pending rows in order.
    sa.Index(
        "ix_outbox_pending_due",
        "next_attempt_at",
        "id",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    sa.Index("ix_outbox_status", "status"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("service_request_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, default=""),
    sa.Column("first_name", sa.String(100), nullable=False, default=""),
    sa.Column("last_name", sa.String(100), nullable=False, default=""),
    sa.Column("phone", sa.String(40), nullable=False, default=""),
    # The language the reporter used (its e-mails are in it); "" = the city's. Migration 0016.
    sa.Column("language", sa.String(16), nullable=False, default="", server_default=""),
    sa.Column("unsubscribed", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_contacts_email", "email"),
)

# What an e-mail address (lower-cased) agreed to, whatever request it came with: confirmed
# (it may receive a report's texts), unsubscribed (it receives nothing, for later reports
# too); neither: it is only sent the confirmation, at most once per 30 days (when the last
# one was queued: confirmation_sent_at). Added by migration 0013.
email_addresses = sa.Table(
    "email_addresses",
    metadata,
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("confirmed_at", UTCDateTime),
    sa.Column("unsubscribed_at", UTCDateTime),
    sa.Column("confirmation_sent_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("webhook_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("secret", sa.String(200), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    # Comma-separated event types, or '*' for every event.
    sa.Column("events", sa.String(500), nullable=False, default="*"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

NOTIFY_TABLES = (outbox, contacts, webhooks, email_addresses)
