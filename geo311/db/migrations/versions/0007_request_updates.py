"""Request updates (status changes, notes, schedules, citizen comments) and published plans.

Adds the ``request_updates`` table, ``plans.published_at`` and
``service_requests.expected_plan_id`` (the published plan whose ETA is ``expected_datetime``).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# Spelt out as in 0001: what geo311.db.schema.UTCDateTime stores.
UTCDateTime = sa.DateTime(timezone=True)

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``request_updates`` and add the two columns."""
    op.create_table(
        "request_updates",
        sa.Column("update_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("service_request_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("media_url", sa.String(500), nullable=False, server_default=""),
        sa.Column("updated_datetime", UTCDateTime, nullable=False),
        sa.Column("external_id", sa.String(64)),
    )
    op.create_index("ix_request_updates_updated", "request_updates", ["updated_datetime"])
    op.create_index(
        "ix_request_updates_request", "request_updates", ["service_request_id", "update_id"]
    )
    op.add_column("plans", sa.Column("published_at", UTCDateTime))
    op.add_column("service_requests", sa.Column("expected_plan_id", sa.Integer))


def downgrade() -> None:
    """Drop the table and the columns."""
    with op.batch_alter_table("service_requests") as batch:
        batch.drop_column("expected_plan_id")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("published_at")
    op.drop_index("ix_request_updates_request", table_name="request_updates")
    op.drop_index("ix_request_updates_updated", table_name="request_updates")
    op.drop_table("request_updates")
