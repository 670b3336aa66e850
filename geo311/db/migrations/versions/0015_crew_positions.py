"""The crews' last shared position: ``crew_positions`` (one row per crew, upserted).

A crew shares its position from the phone only when it presses "Share my position"; the
console's map shows the last one. Types are spelt out (``DateTime(timezone=True)`` is what
:class:`geo311.db.schema.UTCDateTime` stores).

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``crew_positions``."""
    op.create_table(
        "crew_positions",
        sa.Column("crew_id", sa.String(length=64), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("by_user", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("crew_id"),
    )


def downgrade() -> None:
    """Drop it."""
    op.drop_table("crew_positions")
