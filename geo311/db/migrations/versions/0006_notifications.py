"""Citizen notifications: the outbox, reporters' contact details and webhooks (issue 13).

Types are spelt out (``DateTime(timezone=True)`` is what :class:`geo311.db.schema.UTCDateTime`
stores) so that this step never changes when :mod:`geo311.db.notify_schema` does.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def _create_contacts() -> None:
    op.create_table(
        "contacts",
        sa.Column("service_request_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("unsubscribed", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("service_request_id"),
    )
    op.create_index("ix_contacts_email", "contacts", ["email"], unique=False)


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("service_request_id", sa.String(length=64), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=600), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("claimed_at", _TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    op.create_index(
        "ix_outbox_pending_due",
        "outbox",
        ["next_attempt_at", "id"],
        unique=False,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_outbox_status", "outbox", ["status"], unique=False)


def _create_webhooks() -> None:
    op.create_table(
        "webhooks",
        sa.Column("webhook_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("events", sa.String(length=500), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("webhook_id"),
    )


def upgrade() -> None:
    """Create the notification tables."""
    _create_contacts()
    _create_outbox()
    _create_webhooks()


def downgrade() -> None:
    """Drop them."""
    op.drop_table("webhooks")
    op.drop_index("ix_outbox_status", table_name="outbox")
    op.drop_index(
        "ix_outbox_pending_due",
        table_name="outbox",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("outbox")
    op.drop_index("ix_contacts_email", table_name="contacts")
    op.drop_table("contacts")
