"""Report limits and e-mail confirmation: ``report_counts`` and ``email_addresses`` (issue 21).

``report_counts`` counts posted reports per hashed client address / e-mail address and period
(:mod:`geo311.requests.limits`). ``email_addresses`` keeps, per address, whether it confirmed
(it may then receive a report's texts) or unsubscribed (it receives nothing, for later reports
too); addresses unsubscribed before this step are carried over from ``contacts``.

Revision ID: 0013
Revises: 0008
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0010"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create both tables; carry over the addresses that unsubscribed."""
    op.create_table(
        "report_counts",
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", "period"),
    )
    op.create_index("ix_report_counts_period", "report_counts", ["period"], unique=False)
    addresses = op.create_table(
        "email_addresses",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("confirmed_at", _TIME, nullable=True),
        sa.Column("unsubscribed_at", _TIME, nullable=True),
        sa.Column("confirmation_sent_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("address"),
    )
    conn = op.get_bind()
    gone = conn.execute(
        sa.text("SELECT DISTINCT lower(email) FROM contacts WHERE unsubscribed AND email <> ''")
    ).scalars()
    now = datetime.now(UTC)
    rows = [{"address": a, "unsubscribed_at": now, "created_at": now} for a in gone]
    if rows and addresses is not None:
        op.bulk_insert(addresses, rows)


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("email_addresses")
    op.drop_index("ix_report_counts_period", table_name="report_counts")
    op.drop_table("report_counts")
